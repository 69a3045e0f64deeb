"""``fit`` is generic over the task: a second, test-only task (``point_task.Locate``: regress a square's centre from
typed ``Points`` targets) trains, stops, resumes exactly, checkpoints, fails with reasons, is stored with its own
metric and exported — through the very same loop as classification.

Oracles: the loss and metric against a hand-written forward pass over the validation images; an uninterrupted run
for stop + resume; the points the loader hands over against the stored points scaled by hand.
"""

from __future__ import annotations

import dataclasses
import io
import json
import threading
import zipfile

import pytest
import torch
import torch.nn.functional as F
from point_task import NET, Locate, make_data, subset

from engine.data import adapt_batch, make_loader
from engine.nets.build import build
from engine.training.config import TrainConfig
from engine.training.evaluate import evaluate
from engine.training.events import BatchEvent, Callback, History
from engine.training.export import export_run
from engine.training.fitting import fit_output, fit_problems
from engine.training.loop import fit
from engine.training.runs import RunStore
from engine.training.tasks import default_task

CONFIG = TrainConfig(epochs=3, batch_size=32, lr=1e-2, seed=2, device="cpu", task=Locate())


@pytest.fixture(scope="module")
def squares():
    return make_data()


def _state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def test_it_learns_and_its_metrics_match_a_forward_pass(squares) -> None:
    history = History()
    result = fit(NET, squares, dataclasses.replace(CONFIG, epochs=6), callbacks=[history])
    assert result.status == "finished" and result.task == Locate()
    assert set(result.history[0].train) == set(result.history[0].val) == {"loss", "error"}
    errors = [e.val["error"] for e in result.history]
    assert errors[-1] < errors[0] / 2  # it learns where the square is
    assert result.metric.name == "error" and not result.metric.higher_is_better
    assert result.best == min(errors)  # lower is better
    # the validation numbers, by hand: points in the input's pixels (the 16×16 images are shown at 8×8)
    x = adapt_batch(squares.val.images, NET.input, result.stats)
    want = squares.val.targets.points.flatten(1) * 0.5
    with torch.no_grad():
        out = result.model(x)
    assert result.history[-1].val["loss"] == pytest.approx(F.mse_loss(out, want).item(), rel=1e-5)
    assert result.history[-1].val["error"] == pytest.approx((out - want).abs().mean().item(), rel=1e-5)
    assert evaluate(result.model, squares.val, result.stats, task=Locate())["error"] == pytest.approx(
        result.history[-1].val["error"], rel=1e-5)
    assert len(history.batches) == 6 * 8 and history.batches[-1].eta_s == 0


def test_the_loader_scales_points_to_the_input_and_collates_them(squares) -> None:
    loader = make_loader(squares.train, (1, 8, 8), batch_size=64, shuffle=False, seed=0, collate=Locate().collate)
    x, y = next(iter(loader))
    assert x.shape == (64, 1, 8, 8) and y.shape == (64, 2) and y.dtype == torch.float32
    assert torch.equal(y, squares.train.targets.points[:64, 0] * 0.5)


def test_stop_then_resume_is_exact_for_another_task(squares, tmp_path) -> None:
    whole = fit(NET, squares, CONFIG)
    store = RunStore(tmp_path)
    stop = threading.Event()

    class StopAt(Callback):
        def on_batch_end(self, event: BatchEvent) -> None:
            if (event.epoch, event.batch) == (2, 3):
                stop.set()

    stopped = fit(NET, squares, CONFIG, callbacks=[StopAt()], stop=stop, store=store)
    assert stopped.status == "stopped" and [e.epoch for e in stopped.history] == [1]
    saved = store.load_checkpoint(stopped.run_id).state
    assert saved["progress"]["batch"] == 3 and set(saved["meter"]) == {"abs_error", "count"}
    assert saved["generators"]["dropout"]["device"] == "cpu"  # the dropout masks' own generator, not torch's
    resumed = fit(None, squares, None, store=store, run_id=stopped.run_id)
    assert resumed.status == "finished" and resumed.task == Locate()
    assert all(torch.equal(a, b) for a, b in zip(_state(resumed.model).values(), _state(whole.model).values(),
                                                 strict=True))
    for got, want in zip(resumed.history, whole.history, strict=True):
        assert got.train == pytest.approx(want.train) and got.val == pytest.approx(want.val)
    info = store.info(stopped.run_id)
    assert (info.task, info.metric, info.higher_is_better, info.status) == ("test-locate", "error", False, "finished")
    assert info.best == pytest.approx(min(e.val["error"] for e in whole.history))
    run = store.get(stopped.run_id)
    assert run.task == Locate() and run.config["dataset"]["targets"] == "points"
    assert run.config["output"]["name"] == "points"


def test_a_diverging_loss_and_a_wrong_output_are_reasons(squares, tmp_path) -> None:
    store = RunStore(tmp_path)
    result = fit(NET, squares, TrainConfig(optimizer="sgd", lr=1e12, epochs=2, task=Locate()), store=store)
    assert result.status == "failed" and result.reason.startswith("loss became")
    assert store.info(result.run_id).status == "failed"
    wrong = fit_output(NET, dataclasses.replace(squares.card, classes=("a", "b", "c")), Locate())
    assert wrong.layers[-1].out_features == 6
    problems = fit_problems(wrong, squares.card, Locate())
    assert problems == ["output: the network gives 6 per image; the point location of White squares needs 2 (the "
                        "one-click fix does this)"]
    with pytest.raises(ValueError, match="the network gives 6 per image"):
        fit(wrong, squares, TrainConfig(epochs=1, task=Locate()))


def test_the_task_must_suit_the_data(squares) -> None:
    from engine.detection.tasks import Landmarks
    from engine.training.tasks import Classify

    assert default_task("points") == Landmarks()  # the first task registered for points (the tests' Locate is later)
    assert fit_problems(NET, squares.card, Classify()) == [
        "data: the classification task learns from one class per image; White squares has landmark points"]
    with pytest.raises(ValueError, match="classification task learns from one class per image"):
        fit(NET, squares, TrainConfig(epochs=1, task=Classify()))


def test_augmentations_that_move_pixels_are_refused_for_points(squares) -> None:
    from engine.data import AugmentConfig

    with pytest.raises(ValueError, match="horizontal flip, rotation move pixels, and this data's points are "
                                         "positions in the image"):
        fit(NET, squares, TrainConfig(epochs=1, task=Locate(), augment=AugmentConfig(hflip=True, rotation=5.0)))
    result = fit(NET, subset(squares, 64), TrainConfig(epochs=1, task=Locate(), augment=AugmentConfig(
        color_jitter=0.2)))
    assert result.status == "finished"


def test_a_run_of_another_task_exports_with_its_meaning(squares, tmp_path) -> None:
    store = RunStore(tmp_path)
    run_id = fit(build(NET, seed=0), subset(squares, 64), dataclasses.replace(CONFIG, epochs=1), store=store).run_id
    with zipfile.ZipFile(io.BytesIO(export_run(store, run_id, "bundle"))) as zf:
        meta = json.loads(zf.read("meta.json"))
    assert meta["task"] == {"name": "test-locate"} and meta["output"]["name"] == "points"
    assert meta["classes"] == ["centre"] and meta["stats"]["mean"]
    onnx = pytest.importorskip("onnx")
    proto = onnx.load_from_string(export_run(store, run_id, "onnx"))
    assert [o.name for o in proto.graph.output] == ["points"]
