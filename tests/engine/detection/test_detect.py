"""YOLO detection through the one training loop: mAP against perfect outputs (1.0), the meter carried through a stop,
the output's fix, a short real training whose loss falls and whose mAP beats the untrained network's, and the CLI."""

from __future__ import annotations

import dataclasses
import io
import json
import threading
import zipfile
from pathlib import Path

import pytest
import torch

from engine.__main__ import main
from engine.data import load_dataset
from engine.data.targets import Boxes
from engine.data.types import ImageSet, LoadedData
from engine.detection import yolo
from engine.detection.detect import Detect, DetectEvaluation
from engine.nets.build import build
from engine.nets.presets import get_preset
from engine.training.config import TrainConfig
from engine.training.evaluate import evaluate
from engine.training.events import Callback
from engine.training.export import export_run
from engine.training.fitting import fit_problems
from engine.training.loop import fit
from engine.training.runs import RunStore
from engine.training.tasks import task_from_dict
from engine.training.trained import load_trained

SIDE = 96
BOXES = [torch.tensor([[4.0, 6.0, 20.0, 30.0], [40.0, 40.0, 70.0, 56.0]]), torch.zeros(0, 4),
         torch.tensor([[60.0, 2.0, 90.0, 40.0], [10.0, 60.0, 30.0, 80.0], [33.0, 33.0, 45.0, 45.0]])]
LABELS = [torch.tensor([0, 3]), torch.zeros(0, dtype=torch.int64), torch.tensor([1, 2, 2])]
CLASSES = ("circle", "square", "triangle", "cross")


def _perfect(task: Detect, boxes: list[torch.Tensor], labels: list[torch.Tensor]) -> torch.Tensor:
    """The raw output whose decoding is exactly the true boxes, with full confidence (the inverse of each squashing
    function of ``yolo.decode``)."""
    g = task.grid_for(len(CLASSES))
    t = yolo.encode(boxes, labels, g, SIDE)
    xy = t.xy.clamp(1e-5, 1 - 1e-5)
    out = torch.zeros(len(boxes), len(g.anchors), g.per_anchor, g.size, g.size)
    out[:, :, 0:2], out[:, :, 2:4] = torch.log(xy / (1 - xy)), t.twh
    out[:, :, 4] = torch.where(t.obj, 20.0, -20.0)
    out[:, :, 5:] = torch.nn.functional.one_hot(t.cls, len(CLASSES)).permute(0, 1, 4, 2, 3) * 20.0
    return out.flatten(1, 2)


def test_perfect_outputs_score_a_map_of_one_and_decode_to_the_true_boxes():
    task = Detect()
    targets = Boxes(tuple(BOXES), tuple(LABELS), CLASSES, (SIDE, SIDE))
    ev = task.evaluate(_perfect(task, BOXES, LABELS), targets)
    assert isinstance(ev, DetectEvaluation)
    assert ev.metrics["map50"] == pytest.approx(1.0) and ev.metrics["map"] == pytest.approx(1.0)
    assert ev.per_class == pytest.approx({0: 1.0, 1: 1.0, 2: 1.0, 3: 1.0})
    for found, b in zip(ev.found, BOXES, strict=True):
        assert len(found.boxes) == len(b) and (found.scores > 0.99).all()
    # a wrong class on one box: mAP falls, and only that class's AP and the class it was given
    wrong = [LABELS[0].clone(), LABELS[1], LABELS[2]]
    wrong[0][1] = 1
    ev = task.evaluate(_perfect(task, BOXES, wrong), targets)
    assert ev.metrics["map50"] < 1.0 and ev.per_class[0] == pytest.approx(1.0) and ev.per_class[3] == 0.0


def test_the_meter_carries_a_half_done_epoch_through_a_stop():
    task = Detect()
    g = torch.Generator().manual_seed(0)
    out = torch.randn(3, 27, 6, 6, generator=g)
    target = task.collate(Boxes(tuple(BOXES), tuple(LABELS), CLASSES, (SIDE, SIDE)).batch(range(3)))
    whole = task.meter("cpu")
    whole.update(out, target)
    first, second = (task.collate(Boxes(tuple(BOXES), tuple(LABELS), CLASSES, (SIDE, SIDE)).batch(i))
                     for i in ([0, 1], [2]))
    half = task.meter("cpu")
    half.update(out[:2], first)
    resumed = task.meter("cpu")
    resumed.load_state_dict(half.state_dict())
    resumed.update(out[2:], second)
    assert resumed.compute() == whole.compute()


def test_the_task_is_stored_as_json_and_fixes_the_head():
    task = Detect(grid=4, anchors=((0.1, 0.2), (0.3, 0.3)), score_threshold=0.5)
    again = task_from_dict(json.loads(json.dumps(task.to_dict())))
    assert again == task and again.anchors == ((0.1, 0.2), (0.3, 0.3))
    data = load_dataset("multi_scenes", seed=0, max_train=8)
    spec = Detect().ready_spec(data.card)
    assert fit_problems(spec, data.card, Detect()) == []
    assert fit_problems(spec, data.card, Detect(anchors=((0.2, 0.2),))) != []  # 9 channels needed, 27 given
    fixed = Detect(anchors=((0.2, 0.2),)).fit_output(spec, data.card)
    assert fit_problems(fixed, data.card, Detect(anchors=((0.2, 0.2),))) == [] and fixed.layers[-1].out_channels == 9
    with pytest.raises(ValueError, match="the 4×4 grid needs"):
        task.fit_output(spec, data.card)  # the map is 6×6
    lenet = dataclasses.replace(get_preset("lenet5"), input=data.card.image_shape)  # ends in linear layers: a vector
    with pytest.raises(ValueError, match="not a map of channels × height × width: the 6×6 grid needs a fully conv"):
        Detect().fit_output(lenet, data.card)
    with pytest.raises(ValueError, match="iou_threshold must be a number in \\[0, 1\\], got 2"):
        Detect(iou_threshold=2)


def _small(train: int, val: int) -> LoadedData:
    """The "multi_scenes" set with ``train`` training and ``val`` validation scenes (mAP over 400 costs seconds)."""
    full = load_dataset("multi_scenes", seed=0, max_train=train)
    held = ImageSet(full.val.images[:val], full.val.targets.subset(range(val)))
    return LoadedData(full.card.__class__(**{**full.card.__dict__, "val_size": val}), full.train, held)


class _StopAt(Callback):
    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop

    def on_batch_end(self, event) -> None:
        if event.epoch == 2 and event.batch == 2:
            self.stop.set()


def test_a_detection_run_stops_mid_epoch_and_resumes_exactly(tmp_path):
    data = _small(64, 16)
    task = Detect(grid=6, anchors=((0.15, 0.15), (0.25, 0.25)))
    config = TrainConfig(task=task, epochs=2, lr=3e-3, batch_size=16, seed=3)
    spec = task.ready_spec(data.card)
    whole = fit(spec, data, config)
    store, stop = RunStore(tmp_path), threading.Event()
    first = fit(spec, data, config, store=store, stop=stop, callbacks=[_StopAt(stop)])
    assert first.status == "stopped"
    resumed = fit(None, data, None, store=store, run_id=first.run_id)
    assert resumed.status == "finished" and resumed.task == task
    for a, b in zip(whole.model.state_dict().values(), resumed.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert resumed.history[-1].train == pytest.approx(whole.history[-1].train)  # the meter's half epoch carried
    assert store.info(first.run_id).metric == "map50"
    # exported and used like any run: the bundle names the task and the grid; a stored run predicts detections
    with zipfile.ZipFile(io.BytesIO(export_run(store, first.run_id, "bundle"))) as z:
        meta = json.loads(z.read(next(n for n in z.namelist() if n.endswith("meta.json"))))
    assert meta["output"]["shape"] == [2 * 9, 6, 6] and meta["output"]["anchors"] == [[0.15, 0.15], [0.25, 0.25]]
    assert len(export_run(store, first.run_id, "onnx")) > 0
    found = load_trained(store, first.run_id).predict(data.val.images[:3])
    assert len(found) == 3 and all(isinstance(f, yolo.Detections) for f in found)


def test_a_short_training_lowers_the_loss_and_beats_an_untrained_network():
    data = _small(300, 100)
    task = Detect()
    spec = task.ready_spec(data.card)
    result = fit(spec, data, TrainConfig(task=task, epochs=6, lr=5e-3, batch_size=32, schedule="onecycle", seed=1))
    assert result.status == "finished" and result.metric.name == "map50"
    losses = [e.val["loss"] for e in result.history]
    assert losses[-1] < 0.6 * losses[0]
    trained = evaluate(result.model, data.val, result.stats, task=task)
    untrained = evaluate(build(spec, seed=1), data.val, result.stats, task=task)
    assert trained.metrics["map50"] > max(5 * untrained.metrics["map50"], 0.02)
    assert trained.metrics["map50"] == pytest.approx(result.history[-1].val["map50"], abs=1e-6)


def test_the_cli_trains_a_detector_without_a_spec(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["train", "--data", "multi_scenes", "--task", "detect", "--epochs", "1", "--max-train", "32",
                 "--batch-size", "16", "--runs-dir", str(tmp_path), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    out = json.loads(captured.out)
    assert out["status"] == "finished" and out["dataset"] == "multi_scenes"
    assert out["task"]["name"] == "detect" and 0.0 <= out["val"]["map50"] <= 1.0 and out["val"]["loss"] > 0
    config = json.loads((Path(out["run_dir"]) / "config.json").read_text())
    assert config["output"]["shape"] == [27, 6, 6]


def test_the_cli_asks_for_a_spec_where_a_task_has_no_ready_network(tmp_path: Path, capsys) -> None:
    code = main(["train", "--data", "digits", "--epochs", "1", "--runs-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "--spec is needed for classification" in err and "Traceback" not in err
