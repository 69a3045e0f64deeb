"""Hostile specs on the pages (issue 9, "Found with hostile inputs"): a message on the page, never a traceback, and
the session keeps working (docs/layer-kinds.md, "Limits")."""

from __future__ import annotations

import base64
import json
import zlib

import pytest
from apptest_helpers import open_page

from engine.nets.presets import get_preset
from engine.nets.spec import Flatten, Linear, NetworkSpec
from engine.training.runs import CheckpointError, RunError, RunStore
from engine.training.tasks import Classify


def _nested_link(depth: int) -> str:
    layers = [{"kind": "relu"}]
    for _ in range(depth):
        layers = [{"kind": "residual", "body": layers}]
    raw = json.dumps({"input": [1, 8, 8], "layers": layers}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode().rstrip("=")


def test_a_link_of_blocks_nested_200_deep_is_a_message_and_does_not_poison_the_session():
    token = _nested_link(200)
    assert len(token) < 300
    at = open_page("builder.py")
    at.query_params["spec"] = token
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("nesting of composite blocks is 200 levels; the limit is 32" in e.value for e in at.error)
    assert at.session_state["spec"] == get_preset("lenet5")
    at.run()  # the same link again, as a reload sends it
    assert not at.exception and at.session_state["spec"] == get_preset("lenet5")
    for page in ("training.py", "inspect.py"):
        at.switch_page(f"../pages/{page}")
        at.run()
        assert not at.exception, (page, [e.value for e in at.exception])


def test_the_builder_shows_a_message_for_a_side_past_4096_and_a_number_past_2_to_the_53():
    spec = NetworkSpec((5000, 2, 2), (Linear(2**60),))  # channels within the limit, a number no widget holds
    at = open_page("builder.py", query={"spec": spec.to_token()})
    if at.session_state["spec"] != spec:
        at.query_params["spec"] = spec.to_token()
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["spec"] == spec
    text = " ".join(e.value for e in at.error) + " ".join(str(m.value) for m in at.markdown)
    assert "out_features is 1,152,921,504,606,846,976; the limit is 65,536" in text + str(at.dataframe[0].value)
    assert any(w.value == str(2**60) for w in at.text_input)  # edited as JSON, not in a number field


def test_a_run_folder_with_an_empty_config_or_a_crafted_checkpoint_does_not_break_the_training_page(tmp_path,
                                                                                                   monkeypatch):
    monkeypatch.setenv("CNNPG_RUNS_DIR", str(tmp_path))
    store = RunStore(tmp_path)
    spec = NetworkSpec((1, 8, 8), (Flatten(), Linear(2)))

    def run(name: str) -> str:
        return store.create(spec, {"train": {"epochs": 1}}, dataset="digits", task=Classify(), name=name, owner="ada")

    crafted, good, empty = run("crafted"), run("good"), run("empty")  # the newest, {}, is the one the page shows
    (store.path(empty) / "config.json").write_text("{}")
    (store.path(crafted) / "config.json").write_text("[]")
    header = json.dumps({"__metadata__": {"format": "cnnpg-checkpoint-2", "state": "[1, {"}}).encode()
    (store.path(crafted) / "checkpoint.safetensors").write_bytes(len(header).to_bytes(8, "little") + header)
    assert "epochs" not in store.get(empty).config["train"]
    with pytest.raises(RunError, match="config.json is not a run's config"):
        store.get(crafted)
    with pytest.raises(CheckpointError, match="its metadata is not a checkpoint's state"):
        store.load_checkpoint(crafted)
    for owner in ("ada", "bob"):  # another session too
        at = open_page("training.py", owner=owner)
        assert not at.exception, [e.value for e in at.exception]
    assert store.get(good).info.name == "good"
