"""``engine.jobs``: background jobs that keep to themselves, stop between batches, refuse past the cap and say why
they failed.

Oracle for "two jobs at once don't disturb each other": the same two jobs run one after the other. That they really
ran at once is shown by a barrier both must reach during their first epoch, not by timing.

These jobs run in threads (``isolation="thread"``): their barriers, callbacks and closures reach into the test. The
same queue, stops and failures with jobs in child processes, the runner's default: test_process.py.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
import time

import pytest
import torch

from engine.data import LoadedData, load_dataset
from engine.jobs.job import Job
from engine.jobs.log import MAX_BATCH_POINTS, JobLog
from engine.jobs.runner import KEEP_DONE, JobRunner, ServerBusyError, max_jobs_from_env
from engine.jobs.training import train_job
from engine.nets.build import build
from engine.nets.spec import NetworkSpec
from engine.training.config import TrainConfig
from engine.training.events import BatchEvent, Callback, FitStart
from engine.training.loop import fit
from engine.training.runs import RunStore

SMALL_CNN = NetworkSpec.from_dict({"input": [1, 8, 8], "layers": [
    {"kind": "conv2d", "out_channels": 8, "padding": 1}, {"kind": "relu"}, {"kind": "maxpool2d"},  # (8, 4, 4)
    {"kind": "flatten"}, {"kind": "linear", "out_features": 10},
]})
WAIT = 60  # seconds: generous, for a loaded 2-core machine


@pytest.fixture(scope="module")
def digits() -> LoadedData:
    return load_dataset("digits")


def _part(data: LoadedData, start: int, n: int) -> LoadedData:
    train = data.train.subset(range(start, start + n))
    return LoadedData(dataclasses.replace(data.card, train_size=n), train, data.val)


def _model(seed: int):
    return build(SMALL_CNN, seed=seed)


def _done(job: Job) -> Job:
    assert job.wait(WAIT), f"job {job.id} still {job.status} after {WAIT} s"
    return job


def test_two_jobs_at_once_keep_separate_histories(digits):
    config = TrainConfig(epochs=2, batch_size=32, lr=3e-3)
    parts = [_part(digits, 0, 400), _part(digits, 400, 400)]
    models = [_model(1), _model(2)]
    runner = JobRunner(max_jobs=2, isolation="thread")
    oracle = [_done(runner.submit(train_job, copy.deepcopy(m), d, config)).result.result.history
              for m, d in zip(models, parts, strict=True)]  # one at a time
    assert oracle[0][-1].train_loss != pytest.approx(oracle[1][-1].train_loss)  # the two really differ

    together = _Meet(threading.Barrier(2, timeout=WAIT))  # each job waits at its third batch for the other
    a = runner.submit(train_job, copy.deepcopy(models[0]), parts[0], config, callbacks=[together])
    b = runner.submit(train_job, copy.deepcopy(models[1]), parts[1], config, callbacks=[together])
    for job, expected in zip((_done(a), _done(b)), oracle, strict=True):
        assert job.status == "finished", job.error
        history = job.result.result.history
        assert [e.epoch for e in history] == [1, 2]
        assert [e.train_loss for e in history] == pytest.approx([e.train_loss for e in expected], rel=1e-4)
        assert [e.val["accuracy"] for e in history] == pytest.approx([e.val["accuracy"] for e in expected],
                                                                     abs=1e-9)
        snap = job.log.snapshot()
        assert snap.epochs == tuple(history)  # the log saw exactly its own epochs
        assert snap.latest.epoch == 2 and snap.latest.batch == snap.latest.batches == 13
        assert snap.fraction == 1.0
        assert job.result.evaluation.accuracy == pytest.approx(history[-1].val["accuracy"])


class _Meet(Callback):
    """Waits at batch 3 of epoch 1 until every job sharing the barrier is there: passing proves they ran at once (a
    job alone would break the barrier after its timeout and fail)."""

    def __init__(self, barrier: threading.Barrier):
        self.barrier = barrier

    def on_batch_end(self, event: BatchEvent) -> None:
        if (event.epoch, event.batch) == (1, 3):
            self.barrier.wait()


class _Signal(Callback):
    """``batch`` is set once a batch has been trained."""

    def __init__(self) -> None:
        self.batch = threading.Event()

    def on_batch_end(self, event: BatchEvent) -> None:
        self.batch.set()


class _StopAt(Callback):
    """Sets the job's stop event after batch ``n`` of the first epoch, as the page's Stop button would."""

    def __init__(self, job: Job, n: int):
        self.job, self.n = job, n

    def on_batch_end(self, event: BatchEvent) -> None:
        if event.epoch == 1 and event.batch == self.n:
            self.job.request_stop()


def test_stop_ends_the_job_between_batches(digits):
    def work(job: Job, data: LoadedData):
        return fit(_model(0), data, TrainConfig(epochs=3, batch_size=16), callbacks=[job.log, _StopAt(job, 3)],
                   stop=job.stop)

    job = _done(JobRunner(max_jobs=1, isolation="thread").submit(work, digits))
    assert job.status == "stopped" and job.reason == "stopped by the user" and job.error == ""
    snap = job.log.snapshot()
    assert (snap.latest.epoch, snap.latest.batch) == (1, 3)  # the batch after the stop never ran
    assert snap.epochs == () and len(snap.batch_losses) == 3
    assert snap.fraction == pytest.approx(3 / (3 * 90))


def test_a_stop_from_another_thread_and_resume_continue_the_same_run(digits, tmp_path):
    store = RunStore(tmp_path)
    runner = JobRunner(max_jobs=1, isolation="thread")
    data = _part(digits, 0, 320)
    first = _Signal()
    job = runner.submit(train_job, SMALL_CNN, data, TrainConfig(epochs=200, batch_size=16), store=store,
                        callbacks=[first])
    assert first.batch.wait(WAIT), job.error  # the first batch has been trained
    job.request_stop()
    _done(job)
    assert job.status == "stopped", job.error
    run_id = job.result.run_id
    trained = len(job.result.result.history)
    assert trained < 200 and store.info(run_id).status == "stopped"

    again = _done(runner.submit(train_job, None, data, TrainConfig(epochs=trained + 1, batch_size=16), store=store,
                                run_id=run_id))
    assert again.status == "finished", again.error
    snap = again.log.snapshot()
    assert snap.prior == trained and len(snap.epochs) == trained + 1  # the earlier epochs, then the new one
    assert [e.epoch for e in snap.epochs] == list(range(1, trained + 2))
    assert store.info(run_id).epochs == trained + 1


def _blocking(started: list[str], name: str, release: threading.Event):
    def fn(job):
        started.append(name)
        assert release.wait(WAIT)
        return name
    return fn


def _until(condition, what: str) -> None:
    deadline = time.time() + WAIT
    while not condition():
        assert time.time() < deadline, what
        time.sleep(0.01)


def test_jobs_wait_in_a_fair_queue_and_start_by_themselves():
    runner = JobRunner(max_jobs=2, isolation="thread")
    started: list[str] = []
    gates = {name: threading.Event() for name in ("a1", "a2", "b", "c")}
    a1 = runner.submit(_blocking(started, "a1", gates["a1"]), owner="ada")
    a2 = runner.submit(_blocking(started, "a2", gates["a2"]), owner="ada")  # Ada's second: waits for her first
    b = runner.submit(_blocking(started, "b", gates["b"]), owner="bob")  # passes Ada's second: the cap is 2
    c = runner.submit(_blocking(started, "c", gates["c"]), owner="cy")  # the server is full: waits
    _until(lambda: sorted(started) == ["a1", "b"], f"started {started}")
    assert [j.status for j in (a1, a2, b, c)] == ["running", "queued", "running", "queued"]
    assert (runner.position(a2), runner.position(c), runner.position(a1)) == (1, 2, None)
    assert runner.active() == [a1, b, a2, c]
    assert "your other job is running" in runner.waiting(a2) and "next to start" in runner.waiting(a2)
    assert "2 of at most 2 jobs are running" in runner.waiting(c) and "1 ahead of it" in runner.waiting(c)
    gates["a1"].set()
    _done(a1)
    _until(lambda: len(started) == 3, f"started {started}")
    assert started[2] == "a2" and c.status == "queued"  # first in, first out, once Ada's first is done
    gates["b"].set()
    _done(b)
    _until(lambda: len(started) == 4, f"started {started}")
    for gate in gates.values():
        gate.set()
    assert [_done(j).result for j in (a2, c)] == ["a2", "c"] and runner.active() == []


def test_a_waiting_job_stopped_leaves_the_queue_without_running():
    runner = JobRunner(max_jobs=1, isolation="thread")
    release, started = threading.Event(), []
    first = runner.submit(_blocking(started, "first", release), owner="ada")
    waiting = runner.submit(_blocking(started, "second", release), owner="bob")
    _until(lambda: started == ["first"], f"started {started}")
    waiting.request_stop()
    assert waiting.done and waiting.status == "stopped" and "out of the queue" in waiting.reason
    assert runner.position(waiting) is None and runner.active() == [first]
    release.set()
    _done(first)
    time.sleep(0.2)
    assert started == ["first"]  # the stopped one never ran


def test_a_full_queue_refuses_with_a_clear_message():
    runner = JobRunner(max_jobs=1, max_queued=1, isolation="thread")
    release = threading.Event()
    first = runner.submit(lambda job: release.wait(WAIT))
    second = runner.submit(lambda job: None)
    with pytest.raises(ServerBusyError, match=r"the server is busy: 1 job waiting .*try again in a moment"):
        runner.submit(lambda job: None)
    release.set()
    assert _done(first).result is True and _done(second).status == "finished"
    assert _done(runner.submit(lambda job, x, *, y: x + y, 2, y=3)).result == 5


def test_the_cap_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("CNNPG_MAX_JOBS", raising=False)
    assert max_jobs_from_env() == 2
    monkeypatch.setenv("CNNPG_MAX_JOBS", "3")
    assert JobRunner().max_jobs == 3
    monkeypatch.setenv("CNNPG_MAX_JOBS", "many")
    with pytest.raises(ValueError, match="CNNPG_MAX_JOBS must be a positive integer .* got 'many'"):
        JobRunner()
    with pytest.raises(ValueError, match="max_jobs must be a positive integer, got 0"):
        JobRunner(max_jobs=0)


def test_a_failing_job_records_its_message(digits):
    runner = JobRunner(max_jobs=4, isolation="thread")

    def bad_value(job):
        raise ValueError("lr must be a number > 0, got -1")

    def crash(job):
        raise RuntimeError("boom")

    failed = _done(runner.submit(bad_value))
    assert (failed.status, failed.error, failed.result) == ("failed", "lr must be a number > 0, got -1", None)
    crashed = _done(runner.submit(crash))
    assert crashed.error == "RuntimeError: boom" and "Traceback" in crashed.traceback

    # the engine's own refusal (the output does not match the classes) arrives as the job's error
    wrong_head = NetworkSpec.from_dict({**SMALL_CNN.to_dict(), "layers": [*SMALL_CNN.to_dict()["layers"][:-1],
                                                                           {"kind": "linear", "out_features": 3}]})
    refused = _done(runner.submit(train_job, wrong_head, digits, TrainConfig(epochs=1)))
    assert refused.status == "failed"
    assert "the network gives 3 scores but Handwritten digits 8×8 has 10 classes" in refused.error

    # a loss that blows up fails the fit itself: the job takes its status and reason
    nan = _done(runner.submit(train_job, SMALL_CNN, _part(digits, 0, 256),
                              TrainConfig(optimizer="sgd", lr=1e12, epochs=2, batch_size=32)))
    assert nan.status == "failed" and nan.error.startswith("loss became")
    assert "try a lower learning rate" in nan.error and nan.result.evaluation is None


def test_the_log_thins_batch_losses_and_keeps_order():
    log = JobLog()
    n = 3 * MAX_BATCH_POINTS + 7
    for i in range(1, n + 1):
        log.on_batch_end(BatchEvent(1, i, n, float(i), 100.0, 0.0, 0.1))
    snap = log.snapshot()
    assert len(snap.batch_losses) <= MAX_BATCH_POINTS
    xs = [x for x, _ in snap.batch_losses]
    assert xs == sorted(xs) and snap.latest.batch == n
    assert snap.batch_losses[-1][1] > 0.9 * n  # recent batches are still there


DROPOUT_CNN = NetworkSpec.from_dict({"input": [1, 8, 8], "layers": [
    {"kind": "conv2d", "out_channels": 8, "padding": 1}, {"kind": "relu"}, {"kind": "dropout", "p": 0.3},
    {"kind": "maxpool2d"}, {"kind": "flatten"}, {"kind": "dropout", "p": 0.5}, {"kind": "linear", "out_features": 10},
]})


def test_jobs_with_the_same_seed_started_together_give_identical_weights(digits):
    """Randomness per job: three jobs train at once (they meet at a barrier mid-epoch), each drawing its initial
    weights, dropout masks and batch order from its own generators. Same seed, same weights — bit for bit — whatever
    the others draw meanwhile; another seed, other weights. Torch's global generator is left alone."""
    data = _part(digits, 0, 320)
    config = TrainConfig(epochs=2, batch_size=16, lr=3e-3, device="cpu")
    together = _Meet(threading.Barrier(3, timeout=WAIT))
    before = torch.get_rng_state()
    runner = JobRunner(max_jobs=3, isolation="thread")
    jobs = [runner.submit(train_job, DROPOUT_CNN, data, dataclasses.replace(config, seed=seed), callbacks=[together])
            for seed in (7, 7, 8)]
    states = []
    for job in jobs:
        assert _done(job).status == "finished", job.error
        states.append({k: v.detach().cpu() for k, v in job.result.result.model.state_dict().items()})
    same, other = states[1], states[2]
    assert all(torch.equal(states[0][k], same[k]) for k in same)
    assert not all(torch.equal(states[0][k], other[k]) for k in other)
    assert torch.equal(torch.get_rng_state(), before)


def test_a_job_is_its_owner_s_and_found_again_by_them_only(digits, tmp_path):
    runner = JobRunner(max_jobs=3, isolation="thread")
    store = RunStore(tmp_path)
    config = TrainConfig(epochs=1, batch_size=64)
    ada = runner.submit(train_job, _model(0), _part(digits, 0, 128), config, store=store, owner="ada",
                        about={"page": "training", "label": "small CNN"})
    bob = runner.submit(lambda job: "bob's", owner="bob", about={"page": "style"})
    assert runner.latest("ada") is ada and runner.latest("bob") is bob and runner.latest("carol") is None
    assert runner.latest("bob", page="training") is None and runner.latest("") is None
    assert runner.latest("ada", page="training") is ada
    assert ada.about == {"page": "training", "label": "small CNN"} and ada.owner == "ada"
    _done(ada)
    assert runner.latest("ada") is ada  # done, still found: a page reloaded after its job ended shows the outcome
    (run,) = store.list()
    assert run.owner == "ada" and run.id == ada.result.run_id  # the run is the job's owner's
    later = [_done(runner.submit(lambda job: None, owner="ada")) for _ in range(KEEP_DONE + 1)]
    assert runner.latest("ada") is later[-1]
    assert len(runner._by_owner["ada"]) == KEEP_DONE + 1  # bounded: the done ones kept at the last submit, and it


def _progressing(share: float, gate: threading.Event):
    """A job that reports ``share`` of its 100 batches done, then waits for ``gate``."""

    def fn(job: Job) -> None:
        job.log.on_fit_start(FitStart(None, "cpu", epochs=1, start_epoch=0, batches=100, notes=()))
        job.log.on_batch_end(BatchEvent(1, round(share * 100), 100, 1.0, 10.0, 1.0, 0.1))
        gate.wait(WAIT)

    return fn


def test_a_waiting_job_is_told_when_it_is_expected_to_start():
    """Two running jobs, a quarter and three quarters done (remaining = time so far × (1 − done) / done): Ada's
    second job waits for her first (the slow one), Cy's — behind it in the queue — takes the fast one's place, and
    Dee's needs a place that only a job not yet started would free: no estimate."""
    runner = JobRunner(max_jobs=2, isolation="thread")
    gate = threading.Event()
    slow = runner.submit(_progressing(0.25, gate), owner="ada")
    fast = runner.submit(_progressing(0.75, gate), owner="bob")
    mine, next_, after = (runner.submit(_blocking([], name, gate), owner=owner)
                          for name, owner in (("mine", "ada"), ("next", "cy"), ("after", "dee")))
    _until(lambda: all(j.log.snapshot().latest is not None for j in (slow, fast)), "progress reported")
    time.sleep(0.3)
    now = time.time()
    slow_left = (now - slow.started) * 3  # a quarter done: three times as long again
    fast_left = (now - fast.started) / 3
    assert runner.expected_wait(mine) == pytest.approx(slow_left, rel=0.2)  # Ada's own job first
    assert runner.expected_wait(next_) == pytest.approx(fast_left, rel=0.2)  # passes Ada's, as the queue does
    assert runner.expected_wait(after) is None  # behind two waiting jobs whose lengths are not known yet
    assert "Expected to start in about" in runner.waiting(next_) and "Expected" not in runner.waiting(after)
    assert runner.expected_wait(slow) is None  # running: not waiting
    gate.set()
    for job in (slow, fast, mine, next_, after):
        _done(job)
