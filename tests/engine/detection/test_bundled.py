"""The bundled detector: ``scripts/train_yolo.py`` makes it reproducibly (a tiny run, twice, gives the same bytes),
``load_bundled`` loads it strictly and reproduces the held-out mAP the script recorded; the committed detector measures
on its held-out scenes what its ``meta.json`` says."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from engine.data.registry import multi_scenes
from engine.detection.bundled import WEIGHTS, load_bundled
from engine.training.evaluate import evaluate

ROOT = Path(__file__).resolve().parents[3]


def _script():
    spec = importlib.util.spec_from_file_location("train_yolo", ROOT / "scripts" / "train_yolo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _measured(folder: Path) -> float:
    d = load_bundled(folder)
    held = multi_scenes(d.meta["held_out"]["scenes"], d.meta["trained"]["seed"], 2)
    return evaluate(d.model, held, d.stats, task=d.task).metrics["map50"]


def test_the_script_is_reproducible_and_the_loader_gives_back_its_model(tmp_path, monkeypatch):
    script = _script()
    monkeypatch.setattr(script, "HELD_OUT", 40)
    monkeypatch.setattr(script, "VAL", 20)
    argv = ["--epochs", "1", "--train", "48", "--batch-size", "16"]
    assert script.main([*argv, "--out", str(tmp_path / "a")]) == 0
    assert script.main([*argv, "--out", str(tmp_path / "b")]) == 0
    a, b = ((tmp_path / x / "model.safetensors").read_bytes() for x in "ab")
    assert a == b
    meta = json.loads((tmp_path / "a" / "meta.json").read_text())
    assert meta["task"]["name"] == "detect" and meta["held_out"]["scenes"] == 40
    assert _measured(tmp_path / "a") == pytest.approx(meta["held_out"]["map50"], abs=1e-6)
    d = load_bundled(tmp_path / "a")
    found = d.detect(multi_scenes(3, 0, 2).images, score_threshold=0.0, max_boxes=5)
    assert len(found) == 3 and all(len(f.boxes) <= 5 for f in found)
    with pytest.raises(FileNotFoundError, match="run scripts/train_yolo.py"):
        load_bundled(tmp_path / "missing")


def test_the_committed_detector_reaches_the_issues_map_on_a_small_held_out_set():
    d = load_bundled()
    held = multi_scenes(100, 0, 2)  # the first 100 held-out scenes: never trained or validated on
    result = evaluate(d.model, held, d.stats, task=d.task)
    assert result.metrics["map50"] >= 0.9
    assert all(ap > 0.4 for ap in result.per_class.values())  # AP@0.5:0.95 of every class


def test_the_committed_detector_measures_what_its_meta_says():
    d = load_bundled()
    assert d.meta["held_out"]["scenes"] == 400 and d.meta["held_out"]["part"] == 2
    measured = _measured(WEIGHTS)
    assert measured == pytest.approx(d.meta["held_out"]["map50"], abs=2e-3)  # float rounding across CPUs
    assert measured >= 0.9  # the issue's target (0.96 today: docs/detection.md)
    assert (WEIGHTS / "model.safetensors").stat().st_size < 5_000_000
    found = d.detect(multi_scenes(4, 0, 2).images)
    assert any(len(f.boxes) for f in found) and all((f.scores >= d.task.score_threshold).all() for f in found)
