"""``engine.training.callbacks``: early stopping and the best epoch's weights, for a higher-is-better metric
(classification's accuracy) and a lower-is-better one (the test task's error), and their state carried exactly
through a stop and resume.

Oracles: hand-computed stopping decisions; the run that was never stopped (its callbacks' final state); the weights
of the best epoch, reloaded from that epoch's own checkpoint."""

from __future__ import annotations

import dataclasses
import threading

import pytest
import torch
from point_task import NET, Locate, make_data

from engine.data import LoadedData, load_dataset
from engine.nets.spec import NetworkSpec
from engine.training.callbacks import BestCheckpoint, EarlyStopping
from engine.training.config import TrainConfig
from engine.training.events import BatchEvent, Callback, EpochEvent, FitStart, StopTraining
from engine.training.loop import fit
from engine.training.runs import RunStore
from engine.training.tasks import Classify

SPEC = NetworkSpec.from_dict({"input": [1, 8, 8], "layers": [
    {"kind": "conv2d", "out_channels": 4, "padding": 1}, {"kind": "relu"}, {"kind": "maxpool2d"},
    {"kind": "flatten"}, {"kind": "dropout", "p": 0.2}, {"kind": "linear", "out_features": 10},
]})


@pytest.fixture(scope="module")
def digits() -> LoadedData:
    data = load_dataset("digits")
    return LoadedData(dataclasses.replace(data.card, train_size=300), data.train.subset(range(300)), data.val)


def _started(cb: Callback, task) -> Callback:
    cb.on_fit_start(FitStart(None, "cpu", 9, 0, 1, (), task, None))
    return cb


def _epoch(n: int, value: float, name: str = "accuracy") -> EpochEvent:
    return EpochEvent(n, {"loss": 1.0}, {"loss": 1.0, name: value}, 1.0, 1.0, 0.0, 0.1)


@pytest.mark.parametrize(("task", "name", "values", "stops_at"), [
    (Classify(), "accuracy", [0.5, 0.6, 0.6, 0.59, 0.7], 4),  # higher is better: no gain at 3 and 4
    (Locate(), "error", [3.0, 2.0, 2.5, 1.0, 1.5, 1.2], 6),  # lower is better: 4 improves, 5 and 6 do not
])
def test_early_stopping_decides_by_the_tasks_direction(task, name, values, stops_at) -> None:
    stopping = _started(EarlyStopping(patience=2), task)
    decisions = [stopping.check(v, i + 1) for i, v in enumerate(values)]
    first = next(i + 1 for i, (stop, _) in enumerate(decisions) if stop)
    assert first == stops_at
    reason = decisions[first - 1][1]
    best = max(values[:first]) if task.primary_metric.higher_is_better else min(values[:first])
    assert reason.startswith(f"early stopping: the validation {task.primary_metric.title} has not improved for 2 "
                             f"epochs (best {task.primary_metric.format(best)} at epoch {values.index(best) + 1})")


def test_min_delta_and_empty_validation_sets() -> None:
    stopping = _started(EarlyStopping(patience=1, min_delta=0.05), Classify())
    assert stopping.check(0.5, 1) == (False, "")
    assert stopping.check(float("nan"), 2) == (False, "")  # nothing to judge: not counted
    assert stopping.check(0.54, 3)[0]  # +0.04 is not more than min_delta
    with pytest.raises(ValueError, match="patience must be an integer ≥ 1"):
        EarlyStopping(patience=0)


def test_early_stopping_stops_a_fit_that_does_not_improve(digits) -> None:
    still = TrainConfig(optimizer="sgd", lr=1e-12, momentum=0.0, epochs=6, device="cpu")  # nothing moves
    result = fit(SPEC, digits, still, callbacks=[EarlyStopping(patience=2)])
    assert result.status == "stopped" and result.epochs == 3
    assert result.reason.startswith("early stopping: the validation accuracy has not improved for 2 epochs")


class _StopAt(Callback):
    """Sets the stop event after batch ``batch`` of ``epoch``; with ``batch`` None, raises ``StopTraining`` when
    ``epoch`` ends (after the callbacks before it in the list have seen the epoch)."""

    def __init__(self, stop: threading.Event, epoch: int, batch: int | None) -> None:
        self.stop, self.at = stop, (epoch, batch)

    def on_batch_end(self, event: BatchEvent) -> None:
        if (event.epoch, event.batch) == self.at:
            self.stop.set()

    def on_epoch_end(self, event: EpochEvent) -> None:
        if (event.epoch, None) == self.at:
            raise StopTraining("enough for now")


@pytest.mark.parametrize("task", ["classify", "locate"])
@pytest.mark.parametrize("at", [(2, 3), (2, 10), (2, None)], ids=["mid-epoch", "last-batch", "epoch-end"])
def test_a_resumed_run_continues_the_callbacks_state_exactly(digits, tmp_path, task, at) -> None:
    if task == "classify":
        spec, data, config = SPEC, digits, TrainConfig(epochs=4, batch_size=30, lr=3e-3, seed=5, device="cpu")
    else:
        spec, data = NET, make_data(n_train=300)
        config = TrainConfig(epochs=4, batch_size=30, lr=1e-2, seed=5, device="cpu", task=Locate())
    whole = [EarlyStopping(patience=3), BestCheckpoint()]
    fit(spec, data, config, callbacks=whole)

    store = RunStore(tmp_path)
    stop = threading.Event()
    first = [EarlyStopping(patience=3), BestCheckpoint()]
    stopped = fit(spec, data, config, callbacks=[*first, _StopAt(stop, *at)], stop=stop, store=store)
    assert stopped.status == "stopped"
    saved = store.load_checkpoint(stopped.run_id).state["callbacks"]
    assert set(saved) == {"EarlyStopping", "BestCheckpoint"}
    assert saved["EarlyStopping"] == first[0].state_dict()  # what it knew when the run stopped
    again = [EarlyStopping(patience=3), BestCheckpoint()]
    resumed = fit(None, data, None, callbacks=again, store=store, run_id=stopped.run_id)
    assert resumed.status == "finished"
    assert again[0].state_dict() == whole[0].state_dict()
    assert (again[1].best, again[1].epoch) == (whole[1].best, whole[1].epoch)
    assert all(torch.equal(again[1].weights[k], whole[1].weights[k]) for k in whole[1].weights)
    # the best weights are that epoch's: evaluated again they give the best value
    best = again[1].restore(resumed.model)
    metric = resumed.task.primary_metric
    assert again[1].best == (max if metric.higher_is_better else min)(e.val[metric.name] for e in resumed.history)
    from engine.training.evaluate import evaluate

    value = evaluate(best, data.val, resumed.stats, task=resumed.task)
    got = value.accuracy if task == "classify" else value["error"]
    assert got == pytest.approx(again[1].best, rel=1e-5)
