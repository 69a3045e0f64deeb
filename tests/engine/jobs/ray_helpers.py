"""What the Ray tests' jobs run (test_ray_backend.py, test_ray_contract.py): module-level, so that a Ray worker
imports them by name (the test cluster's workers have this folder on their path: conftest.py, ``ray_cluster``)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from engine.jobs.job import Job
from engine.nets.spec import NetworkSpec
from engine.training.events import BatchEvent, Callback

SMALL_CNN = NetworkSpec.from_dict({"input": [1, 8, 8], "layers": [
    {"kind": "conv2d", "out_channels": 8, "padding": 1}, {"kind": "relu"}, {"kind": "maxpool2d"},  # (8, 4, 4)
    {"kind": "flatten"}, {"kind": "linear", "out_features": 10},
]})
WAIT = 120  # seconds: generous, for a loaded 2-core machine (a cold Ray worker imports torch first)


def done(job: Job) -> Job:
    """``job`` once it has ended (the test fails after ``WAIT`` seconds)."""
    assert job.wait(WAIT), f"job {job.id} still {job.status} after {WAIT} s"
    return job


def until(condition, what: str) -> None:
    """Wait for ``condition()``; fail with ``what`` after ``WAIT`` seconds."""
    deadline = time.time() + WAIT
    while not condition():
        assert time.time() < deadline, what
        time.sleep(0.02)


def refuse(job: Job) -> None:
    raise ValueError("lr must be a number > 0, got -1")


def gated(job: Job, folder: Path, name: str) -> str:
    """Says it started (``<folder>/started-<name>``), then waits for ``<folder>/go-<name>`` or a Stop."""
    (folder / f"started-{name}").touch()
    deadline = time.time() + WAIT
    while not (folder / f"go-{name}").exists() and not job.stop.is_set():
        assert time.time() < deadline
        time.sleep(0.02)
    return name


class Slow(Callback):
    """Sleeps ``seconds`` after every batch: time for a test to press Stop in the middle of an epoch."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def on_batch_end(self, event: BatchEvent) -> None:
        time.sleep(self.seconds)


class DieAt(Callback):
    """Ends its process at once (``os._exit``: what a node that is switched off does to the job) at ``epoch``'s
    ``batch``."""

    def __init__(self, epoch: int, batch: int) -> None:
        self.epoch, self.batch = epoch, batch

    def on_batch_end(self, event: BatchEvent) -> None:
        if (event.epoch, event.batch) == (self.epoch, self.batch):
            os._exit(1)
