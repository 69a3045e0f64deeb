"""``engine.training.runs``: the index (list, rename, delete, compare), safe loading (never unpickling), exact state
round trips, and two trainings writing to one store at once."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import pickle
import sqlite3
import threading
from pathlib import Path

import pytest
import torch

from engine.data import LoadedData, load_dataset
from engine.nets.spec import NetworkSpec
from engine.training.config import TrainConfig
from engine.training.loop import fit
from engine.training.runs import CheckpointError, RunError, RunStore, load_state_dict
from engine.training.tasks import Classify

SPEC = NetworkSpec.from_dict({"input": [1, 8, 8], "layers": [
    {"kind": "conv2d", "out_channels": 4, "padding": 1}, {"kind": "relu"}, {"kind": "maxpool2d"},
    {"kind": "flatten"}, {"kind": "linear", "out_features": 10},
]})


@pytest.fixture(scope="module")
def small() -> LoadedData:
    data = load_dataset("digits")
    return LoadedData(dataclasses.replace(data.card, train_size=200), data.train.subset(range(200)), data.val)


def _make_run(store: RunStore, name: str | None = None, dataset: str = "digits") -> str:
    return store.create(SPEC, {"train": {}}, dataset=dataset, task=Classify(), device="cpu", name=name)


def test_list_rename_delete_compare(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    a = _make_run(store, "first")
    b = _make_run(store)
    assert [r.id for r in store.list()] == [b, a]  # newest first
    info = store.info(a)
    assert (info.name, info.status, info.epochs, info.best, info.dataset, info.device) == (
        "first", "running", 0, None, "digits", "cpu")
    assert (info.task, info.metric, info.higher_is_better) == ("classify", "accuracy", True)
    assert store.info(b).name == b  # unnamed: named by its id
    store.rename(b, "  second ")
    assert store.info(b).name == "second"
    with pytest.raises(ValueError, match="empty"):
        store.rename(b, " ")
    epoch = {"epoch": 1, "train": {"loss": 1.0, "accuracy": 0.4}, "val": {"loss": 1.2, "accuracy": 0.5}}
    store.write_history(a, [epoch])
    store.update(a, status="finished", epochs=1, best=0.5)
    assert store.compare([a, b]) == {a: [epoch], b: []}
    assert (store.info(a).status, store.info(a).best) == ("finished", 0.5)
    with pytest.raises(ValueError, match="status must be one of"):
        store.update(a, status="done")
    store.delete(a)
    assert [r.id for r in store.list()] == [b] and not (tmp_path / a).exists()
    with pytest.raises(RunError, match="no run"):
        store.get(a)
    with pytest.raises(RunError, match="no run"):
        store.rename(a, "x")


def test_the_index_is_sqlite_in_wal_mode(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    run = _make_run(store, "x")
    with sqlite3.connect(tmp_path / "runs.sqlite") as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert con.execute("SELECT id, name, status, task, metric, best FROM runs").fetchall() == [
            (run, "x", "running", "classify", "accuracy", None)]
    for name in ("config.json", "spec.json", "metrics.json"):
        assert (tmp_path / run / name).is_file()
    assert NetworkSpec.from_json((tmp_path / run / "spec.json").read_text()) == SPEC


def test_default_root_comes_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNNPG_RUNS_DIR", str(tmp_path / "elsewhere"))
    assert RunStore().root == tmp_path / "elsewhere"
    assert (tmp_path / "elsewhere" / "runs.sqlite").is_file()


@pytest.mark.parametrize("bad", ["../escape", "a/b", "", ".hidden", "x" * 200])
def test_run_ids_cannot_leave_the_store(tmp_path: Path, bad: str) -> None:
    with pytest.raises(RunError, match="not a run id"):
        RunStore(tmp_path).get(bad)


def test_checkpoint_state_round_trips_exactly(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    run = _make_run(store)
    model = {"w": torch.randn(3, 4), "n": torch.tensor(7)}
    state = {
        "optimizer": {"state": {0: {"step": torch.tensor(3.0), "exp_avg": torch.randn(3, 4)}, 1: {"m": None}},
                      "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0, 1], "foreach": None}]},
        "rng": torch.get_rng_state(),
        "progress": {"epoch": 2, "loss_sum": 1.5},
        "tricky": {"__tensor__": "looks like a marker"},
    }
    store.save_checkpoint(run, model, state)
    loaded = store.load_checkpoint(run)
    assert loaded.model.keys() == model.keys() and all(torch.equal(loaded.model[k], model[k]) for k in model)
    opt = loaded.state["optimizer"]
    assert set(opt["state"]) == {0, 1} and opt["state"][1] == {"m": None}
    assert torch.equal(opt["state"][0]["exp_avg"], state["optimizer"]["state"][0]["exp_avg"])
    assert opt["param_groups"] == [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0, 1], "foreach": None}]
    assert torch.equal(loaded.state["rng"], state["rng"])
    assert loaded.state["progress"] == {"epoch": 2, "loss_sum": 1.5}
    assert loaded.state["tricky"] == {"__tensor__": "looks like a marker"}


class _Evil:
    """Unpickling this would create a file: proof that something was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_pickle_disguised_as_a_checkpoint_is_rejected(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    run = _make_run(store)
    marker = tmp_path / "unpickled"
    (tmp_path / "runs" / run / "checkpoint.safetensors").write_bytes(pickle.dumps(_Evil(marker)))
    with pytest.raises(CheckpointError, match="not a safetensors file.*never unpickled"):
        store.load_checkpoint(run)
    with pytest.raises(CheckpointError, match="not a safetensors file"):
        store.load_model(run)
    assert not marker.exists()


def test_weights_files_are_never_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    evil = tmp_path / "weights.pt"
    buf = io.BytesIO()
    torch.save({"w": torch.zeros(1), "x": _Evil(marker)}, buf)
    evil.write_bytes(buf.getvalue())
    with pytest.raises(CheckpointError, match="not a weights-only state dict"):
        load_state_dict(evil)
    renamed = tmp_path / "weights.safetensors"
    renamed.write_bytes(buf.getvalue())
    with pytest.raises(CheckpointError, match="not a safetensors file"):
        load_state_dict(renamed)
    assert not marker.exists()
    good = tmp_path / "good.pt"
    torch.save({"w": torch.ones(2)}, good)
    assert torch.equal(load_state_dict(good)["w"], torch.ones(2))
    (tmp_path / "w.bin").write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"must be a \.safetensors file"):
        load_state_dict(tmp_path / "w.bin")


def test_a_run_without_a_checkpoint_says_so(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    with pytest.raises(RunError, match="has no checkpoint yet"):
        store.load_checkpoint(_make_run(store))


def test_two_trainings_at_once_into_one_store(small: LoadedData, tmp_path: Path) -> None:
    """Two sessions (threads here, each with its own store object) train and write at once."""
    results, errors = {}, []

    def train(seed: int) -> None:
        try:
            results[seed] = fit(SPEC, small, TrainConfig(epochs=2, seed=seed), store=RunStore(tmp_path),
                                name=f"seed {seed}")
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=train, args=(seed,)) for seed in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    store = RunStore(tmp_path)
    runs = {r.name: r for r in store.list()}
    assert set(runs) == {"seed 1", "seed 2"}
    for seed in (1, 2):
        info = runs[f"seed {seed}"]
        assert (info.status, info.epochs, info.id) == ("finished", 2, results[seed].run_id)
        assert json.loads((tmp_path / info.id / "metrics.json").read_text())[-1]["epoch"] == 2
        model = store.load_model(info.id)
        assert all(torch.equal(a, b.cpu()) for a, b in zip(model.state_dict().values(),
                                                             results[seed].model.state_dict().values(), strict=True))
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]  # no temporary files left behind


def _owned(store: RunStore, owner: str, name: str) -> str:
    return store.create(SPEC, {"train": {}}, dataset="digits", task=Classify(), name=name, owner=owner)


def test_runs_belong_to_their_owner_and_others_cannot_touch_them(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    nobody = _owned(store, "", "from the CLI")
    ada1, bob, ada2 = _owned(store, "ada", "a1"), _owned(store, "bob", "b"), _owned(store, "ada", "a2")
    assert [r.id for r in store.list(owner="ada")] == [ada2, ada1]
    assert [r.id for r in store.visible("ada")] == [ada2, ada1, nobody]  # never bob's
    assert [r.id for r in store.visible("bob")] == [bob, nobody]
    assert [r.id for r in store.visible("")] == [nobody]
    assert store.info(bob).owner == "bob" and store.info(nobody).owner == ""
    with pytest.raises(PermissionError, match="belongs to someone else: only its owner can delete it"):
        store.delete(bob, by="ada")
    with pytest.raises(PermissionError, match="only its owner can rename it"):
        store.rename(bob, "mine now", by="ada")
    assert store.info(bob).name == "b" and (tmp_path / bob).is_dir()
    store.rename(bob, "renamed", by="bob")
    store.rename(nobody, "shared", by="ada")  # nobody's runs are everybody's
    store.delete(ada1, by="ada")
    store.delete(bob)  # the server itself (no owner given): the CLI, the teacher
    assert {r.id for r in store.list()} == {nobody, ada2}


def test_a_store_from_before_owners_gets_the_column_with_nobody_s_runs(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    run = _make_run(store)
    with sqlite3.connect(tmp_path / "runs.sqlite") as con:  # back to index version 2: no owner column
        con.execute("ALTER TABLE runs DROP COLUMN owner")
        con.execute("PRAGMA user_version = 2")
    reopened = RunStore(tmp_path)
    assert [(r.id, r.owner) for r in reopened.list()] == [(run, "")]
    assert _owned(reopened, "ada", "new") in {r.id for r in reopened.list(owner="ada")}
