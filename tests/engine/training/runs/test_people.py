"""``engine.training.runs``: sharing a run with the class (visible to others, still theirs only to rename, delete,
resume or share), a student's short name and its limits, the leaderboard from real runs, and a class's export."""

from __future__ import annotations

import dataclasses
import io
import json
import sqlite3
import zipfile
from pathlib import Path

import pytest
import torch
from safetensors.torch import load as st_load

from engine.data import LoadedData, load_dataset
from engine.nets.build import build
from engine.nets.spec import NetworkSpec
from engine.training.config import TrainConfig
from engine.training.loop import fit
from engine.training.runs import Person, RunStore
from engine.training.runs.archive import export_runs
from engine.training.runs.people import MAX_NAME, anonymous, boards, check_name, leaderboard
from engine.training.tasks import Classify

SPEC = NetworkSpec.from_dict({"input": [1, 8, 8], "layers": [
    {"kind": "conv2d", "out_channels": 4, "padding": 1}, {"kind": "relu"}, {"kind": "maxpool2d"},
    {"kind": "flatten"}, {"kind": "linear", "out_features": 10},
]})


def _owned(store: RunStore, owner: str, name: str, dataset: str = "digits") -> str:
    return store.create(SPEC, {"train": {}}, dataset=dataset, task=Classify(), name=name, owner=owner)


def test_a_shared_run_is_seen_by_others_and_stays_its_owner_s(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    nobody = _owned(store, "", "from the CLI")
    ada, bob = _owned(store, "ada", "a"), _owned(store, "bob", "b")
    assert [r.id for r in store.visible("bob")] == [bob, nobody]
    store.share(ada, True, by="ada")
    assert store.info(ada).shared and not store.info(bob).shared
    assert [r.id for r in store.visible("bob")] == [bob, ada, nobody]  # own, shared by others, nobody's
    assert [r.id for r in store.visible("ada")] == [ada, nobody]  # bob's is not shared
    for refused, match in [(lambda: store.rename(ada, "bob's now", by="bob"), "only its owner can rename it"),
                           (lambda: store.delete(ada, by="bob"), "only its owner can delete it"),
                           (lambda: store.share(ada, False, by="bob"), "only its owner can share it"),
                           (lambda: store.check_owner(ada, "bob", "resume"), "only its owner can resume it")]:
        with pytest.raises(PermissionError, match=match):
            refused()
    assert store.info(ada).name == "a" and store.info(ada).shared and (tmp_path / ada).is_dir()
    with pytest.raises(ValueError, match="belongs to nobody"):
        store.share(nobody, True, by="ada")
    store.share(ada, False, by="ada")
    assert [r.id for r in store.visible("bob")] == [bob, nobody]


def test_resuming_another_owner_s_shared_run_is_refused_in_fit(tmp_path: Path) -> None:
    data = load_dataset("digits")
    small = LoadedData(dataclasses.replace(data.card, train_size=64), data.train.subset(range(64)), data.val)
    store = RunStore(tmp_path)
    result = fit(SPEC, small, TrainConfig(epochs=1, batch_size=32), store=store, owner="ada")
    store.share(result.run_id, True, by="ada")
    with pytest.raises(PermissionError, match="only its owner can resume it"):
        fit(None, small, TrainConfig(epochs=2, batch_size=32), store=store, run_id=result.run_id, owner="bob")
    assert store.info(result.run_id).epochs == 1


def test_a_name_is_kept_per_owner_across_stores(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    assert store.person("ada") == Person()
    assert store.set_name("ada", "  Ada \t Lovelace ") == "Ada Lovelace"
    store.set_on_board("ada", True)
    store.set_name("bob", "Bob")
    reopened = RunStore(tmp_path)  # a server restart
    assert reopened.person("ada") == Person("Ada Lovelace", True)
    assert reopened.people() == {"ada": Person("Ada Lovelace", True), "bob": Person("Bob", False)}
    reopened.set_on_board("ada", False)
    assert reopened.person("ada").name == "Ada Lovelace" and not reopened.person("ada").on_board
    with pytest.raises(ValueError, match="not nobody"):
        reopened.set_name("", "Nobody")


@pytest.mark.parametrize(("name", "match"), [
    ("", "cannot be empty"), ("   ", "cannot be empty"),
    ("A" * (MAX_NAME + 6), f"at most {MAX_NAME} characters; this one has {MAX_NAME + 6} \\(6 too many\\)"),
    ("<b>x(1)</b>", "cannot hold '\\(', '\\)', '/', '<', '>'"),
    ("**bold**", "cannot hold '\\*'"),
    ("Ada\u200bLovelace", "cannot hold U\\+200B"),  # a zero-width space
    ("[x](javascript:1)", "cannot hold"),
])
def test_a_name_s_limits_are_refused_with_the_limit(tmp_path: Path, name: str, match: str) -> None:
    store = RunStore(tmp_path)
    with pytest.raises(ValueError, match=match):
        store.set_name("ada", name)
    assert store.person("ada") == Person()


@pytest.mark.parametrize("name", ["Ada", "Zoë O'Neil", "李雷", "team-7_b.", "A" * MAX_NAME])
def test_names_in_any_script_within_the_limits_are_kept(name: str) -> None:
    assert check_name(name) == name


def test_the_leaderboard_takes_each_opted_in_student_s_best_run(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    best = {}
    for owner, name, dataset, value in [("ada", "a1", "digits", 0.81), ("ada", "a2", "digits", 0.93),
                                        ("bob", "b1", "digits", 0.88), ("cy", "c1", "digits", 0.99),
                                        ("bob", "b2", "mnist", 0.97), ("ada", "a3", "digits", None)]:
        run = _owned(store, owner, name, dataset)
        store.update(run, status="finished", epochs=1, best=value)
        best[name] = run
    store.set_name("ada", "Ada")
    store.set_on_board("ada", True)
    store.set_on_board("bob", True)  # no name: shown anonymously; cy did not opt in
    people = store.people()
    board = leaderboard(store.list(), people, "digits", "accuracy")
    assert [(s.name, s.run_id, s.best) for s in board] == [("Ada", best["a2"], 0.93),
                                                          (anonymous("bob"), best["b1"], 0.88)]
    assert "bob" not in anonymous("bob")  # the owner id, a browser's secret, is never shown
    assert boards(store.list()) == [("digits", "accuracy"), ("mnist", "accuracy")]
    lower = [dataclasses.replace(r, higher_is_better=False) for r in store.list()]  # a loss-like metric
    assert [s.best for s in leaderboard(lower, people, "digits", "accuracy")] == [0.81, 0.88]


def test_an_old_index_gets_sharing_and_people(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    run = _owned(store, "ada", "a")
    with sqlite3.connect(tmp_path / "runs.sqlite") as con:  # back to index version 3: no sharing, no people
        con.execute("ALTER TABLE runs DROP COLUMN shared")
        con.execute("DROP TABLE people")
        con.execute("PRAGMA user_version = 3")
    reopened = RunStore(tmp_path)
    assert [(r.id, r.owner, r.shared) for r in reopened.list()] == [(run, "ada", False)]
    reopened.set_name("ada", "Ada")
    assert reopened.person("ada").name == "Ada"


def test_the_class_export_holds_weights_and_metadata_and_no_owner_id(tmp_path: Path) -> None:
    data = load_dataset("digits")
    small = LoadedData(dataclasses.replace(data.card, train_size=64), data.train.subset(range(64)), data.val)
    store = RunStore(tmp_path)
    owner = "secret-owner-id-0123456789"
    trained = fit(SPEC, small, TrainConfig(epochs=1, batch_size=32), store=store, owner=owner, name="mine")
    store.set_name(owner, "Ada")
    empty = _owned(store, "bob", "no weights yet")
    store.update(empty, status="stopped")
    out = io.BytesIO()
    assert export_runs(store, store.list(), store.people(), out) == 2
    archive = out.getvalue()
    assert owner.encode() not in archive
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        index = json.loads(zf.read("index.json"))
        weights = st_load(zf.read(f"{trained.run_id}/model.safetensors"))
        spec = NetworkSpec.from_json(zf.read(f"{trained.run_id}/spec.json"))
        assert json.loads(zf.read(f"{trained.run_id}/metrics.json")) == store.get(trained.run_id).history
        assert f"{empty}/model.safetensors" not in zf.namelist() and f"{empty}/spec.json" in zf.namelist()
    by_id = {e["id"]: e for e in index["runs"]}
    assert (by_id[trained.run_id]["student"], by_id[trained.run_id]["weights"]) == ("Ada", True)
    assert by_id[empty]["weights"] is False
    model = build(spec)
    model.load_state_dict(weights)
    expected = store.load_model(trained.run_id)
    x = torch.as_tensor(small.val.images[:4]).float()  # the same input to both: the weights are what differ, if any
    assert torch.equal(model.eval()(x), expected(x))
