"""``engine.jobs.training.train_job``: Stop does not wait for the evaluation after training. A Stop during training
skips it; a Stop during it ends it after the batch in progress (issue 9: a VGG-16 job ended 55 s after Stop).

Oracles: the evaluation's own count of the images it ran before it stopped; the same evaluation run to its end (the
time a Stop would have waited).
"""

from __future__ import annotations

import dataclasses
import threading
import time

import pytest
import torch
from torch import nn

from engine.data import LoadedData, load_dataset
from engine.jobs.runner import JobRunner
from engine.jobs.training import train_job
from engine.nets.build import build
from engine.nets.spec import NetworkSpec
from engine.training.config import TrainConfig
from engine.training.evaluate import EvaluationStopped, evaluate
from engine.training.events import BatchEvent, Callback, FitResult

SPEC = NetworkSpec.from_dict({"input": [1, 8, 8], "layers": [
    {"kind": "conv2d", "out_channels": 64, "padding": 1}, {"kind": "relu"},
    {"kind": "conv2d", "out_channels": 64, "padding": 1}, {"kind": "relu"}, {"kind": "maxpool2d"},
    {"kind": "flatten"}, {"kind": "linear", "out_features": 10},
]})
WAIT = 60


@pytest.fixture(scope="module")
def data() -> LoadedData:
    """200 training images and a validation set of 20,000 (the digits' validation images repeated): an evaluation
    that takes seconds, longer than any Stop should wait."""
    digits = load_dataset("digits")
    n = len(digits.val)
    val = digits.val.subset([i % n for i in range(20_000)])
    return LoadedData(dataclasses.replace(digits.card, train_size=200), digits.train.subset(range(200)), val)


def test_a_stop_during_training_skips_the_evaluation(data: LoadedData) -> None:
    runner = JobRunner(max_jobs=1, isolation="thread")  # the callback reaches the test's job
    stopped_at: list[float] = []

    class StopAt(Callback):
        def on_batch_end(self, event: BatchEvent) -> None:
            if event.batch == 2 and not stopped_at:
                stopped_at.append(time.monotonic())
                job.request_stop()

    job = runner.submit(train_job, SPEC, data, TrainConfig(epochs=1, batch_size=32, device="cpu"),
                        callbacks=[StopAt()])
    assert job.wait(WAIT)
    ended = time.monotonic() - stopped_at[0]
    assert (job.status, job.reason) == ("stopped", "stopped by the user")
    assert job.result.evaluation is None
    t = time.monotonic()
    evaluate(job.result.result.model, data.val, job.result.result.stats)  # what the Stop would have waited for
    assert ended < time.monotonic() - t, f"the job ended {ended:.2f} s after Stop"


def test_a_stop_during_the_evaluation_ends_it_after_one_batch(data: LoadedData) -> None:
    runner = JobRunner(max_jobs=1, isolation="thread")  # the callback reaches the test's job
    timer: list[threading.Timer] = []

    class StopSoonAfterTraining(Callback):
        def on_fit_end(self, result: FitResult) -> None:  # the evaluation starts right after this
            timer.append(threading.Timer(0.3, job.request_stop))
            timer[0].start()

    job = runner.submit(train_job, SPEC, data, TrainConfig(epochs=1, batch_size=32, device="cpu"),
                        callbacks=[StopSoonAfterTraining()])
    assert job.wait(WAIT)
    outcome = job.result
    assert outcome.result.status == "finished" and outcome.evaluation is None
    note = next(n for n in outcome.notes if n.startswith("the evaluation was stopped"))
    done = int(note.split("after ")[1].split(" of")[0])
    assert 0 < done < len(data.val), note  # it ran, and stopped part-way


def test_evaluate_checks_stop_between_batches(data: LoadedData) -> None:
    stop = threading.Event()

    class SetsStop(nn.Module):  # the network, and a Stop that arrives during its first batch
        def __init__(self) -> None:
            super().__init__()
            self.net, self.spec, self.calls = build(SPEC, seed=0), SPEC, 0

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.calls += 1
            stop.set()
            return self.net(x)

    model = SetsStop()
    with pytest.raises(EvaluationStopped, match=f"stopped after 256 of {len(data.val)} images"):
        evaluate(model, data.val, None, batch_size=256, stop=stop)
    assert model.calls == 1
    assert model.training  # its mode is put back
