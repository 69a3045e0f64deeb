"""The job interface's contract, one suite for both backends: the local runner (jobs in child processes, the
embedded default) and the Ray backend (a real local Ray instance: conftest.py, ``ray_cluster``). Pages and the CLI
use only this: ``submit`` returns a ``Job`` at once; its log fills while it runs; Stop ends it "stopped" after the
batch in progress; the result (a run in the store) comes back; a failure says why; a job waiting for a place says where
it waits, and Stop takes it out of the queue.

Oracles: the run store's rows and files; the fit's own arithmetic (batches per epoch); the queue's rules.
"""

from __future__ import annotations

import pytest
from ray_helpers import SMALL_CNN, Slow, done, gated, refuse, until

from engine.data import LoadedData, load_dataset
from engine.jobs.job import Job
from engine.jobs.ray_backend import RayBackend
from engine.jobs.runner import JobRunner
from engine.jobs.training import train_job
from engine.training.config import TrainConfig
from engine.training.runs import RunStore

CONFIG = TrainConfig(epochs=2, batch_size=32, lr=3e-3, seed=3)


@pytest.fixture(scope="module")
def digits() -> LoadedData:
    return load_dataset("digits")


@pytest.fixture(params=["local", "ray"])
def make_runner(request):
    """A runner of one backend, with a cap of ``max_jobs``."""
    if request.param == "ray":
        request.getfixturevalue("ray_cluster")
        return lambda max_jobs: JobRunner(max_jobs=max_jobs, isolation="thread", backend=RayBackend("auto"))
    return lambda max_jobs: JobRunner(max_jobs=max_jobs, isolation="process")


def test_submit_events_and_result(make_runner, tmp_path, digits):
    store = RunStore(tmp_path / "runs")
    runner = make_runner(2)
    job = runner.submit(train_job, SMALL_CNN, digits, CONFIG, store=store, owner="ada", about={"page": "t"})
    assert isinstance(job, Job) and job.status in ("queued", "running") and runner.latest("ada", page="t") is job
    done(job)
    assert (job.status, job.error) == ("finished", "")
    snap = job.log.snapshot()
    batches = -(-len(digits.train) // CONFIG.batch_size)
    assert snap.start.batches == batches and len(snap.batch_losses) == CONFIG.epochs * batches
    assert [e.epoch for e in snap.epochs] == [1, 2] and snap.fraction == 1.0
    outcome = job.result
    assert outcome.status == "finished" and outcome.evaluation is not None
    info = store.info(outcome.run_id)
    assert (info.status, info.epochs, info.owner) == ("finished", 2, "ada")
    assert info.best == pytest.approx(max(e.val["accuracy"] for e in snap.epochs))
    assert set(store.load_checkpoint(outcome.run_id).model) == set(store.load_model(outcome.run_id).state_dict())


def test_stop_ends_it_stopped_and_resumable(make_runner, tmp_path, digits):
    store = RunStore(tmp_path / "runs")
    job = make_runner(1).submit(train_job, SMALL_CNN, digits, CONFIG, store=store, callbacks=[Slow(0.03)])
    until(lambda: job.log.snapshot().latest is not None, "no batch event came back")
    job.request_stop()
    done(job)
    assert (job.status, job.reason) == ("stopped", "stopped by the user")
    info = store.info(job.result.run_id)
    assert info.status == "stopped"
    assert store.load_checkpoint(info.id).state["progress"]["batch"] > 0  # stopped in the middle of an epoch


def test_a_failure_says_why(make_runner):
    job = done(make_runner(1).submit(refuse))
    assert (job.status, job.error, job.reason) == ("failed", "lr must be a number > 0, got -1",
                                                    "lr must be a number > 0, got -1")


def test_queue_position_and_stop_while_waiting(make_runner, tmp_path):
    runner = make_runner(1)
    first = runner.submit(gated, tmp_path, "first", owner="ada")
    second = runner.submit(gated, tmp_path, "second", owner="bob")
    third = runner.submit(gated, tmp_path, "third", owner="cy")
    until(lambda: (tmp_path / "started-first").exists(), "the first job never started")
    assert (runner.position(first), runner.position(second), runner.position(third)) == (None, 1, 2)
    assert "Waiting in the queue (1 ahead of it): 1 of at most 1 jobs are running" in runner.waiting(third)
    third.request_stop()
    assert (third.status, third.reason) == ("stopped", "taken out of the queue before it started")
    (tmp_path / "go-first").touch()
    (tmp_path / "go-second").touch()
    assert done(first).result == "first" and done(second).result == "second"
    assert not (tmp_path / "started-third").exists()


def test_the_cap_and_owner_rule_apply_before_a_job_is_sent(make_runner, tmp_path):
    runner = make_runner(2)
    mine = runner.submit(gated, tmp_path, "mine", owner="ada")
    again = runner.submit(gated, tmp_path, "again", owner="ada")  # one at a time per person
    other = runner.submit(gated, tmp_path, "other", owner="bob")
    until(lambda: (tmp_path / "started-mine").exists() and (tmp_path / "started-other").exists(),
           "the first jobs of two owners did not both start")
    assert runner.position(again) == 1 and "your other job is running" in runner.waiting(again)
    assert not (tmp_path / "started-again").exists()
    for name in ("mine", "other", "again"):
        (tmp_path / f"go-{name}").touch()
    assert [done(j).result for j in (mine, other, again)] == ["mine", "other", "again"]

