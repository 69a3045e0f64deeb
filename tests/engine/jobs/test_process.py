"""Jobs in child processes (``engine.jobs.process``, the runner's default): a job that crashes natively or is
killed ends alone, with its reason, while the server (this test process) lives and the next job runs; the live log
arrives in the server; Stop reaches the child; the fair queue works the same; a job dies with its server; a CPU
allocation that fails ends the fit "failed" in words; the waiting jobs of a server killed with ``kill -9`` are
reported to their owners by the next one.

Oracles: the same training job run in a thread (same seed, same history and batch losses); the runs' statuses in
the store; the process table.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from engine.data import LoadedData, load_dataset
from engine.jobs.job import Job
from engine.jobs.process import DEFAULT_NICE, ISOLATION_ENV, NICE_ENV, isolation_from_env
from engine.jobs.runner import JobRunner
from engine.jobs.training import train_job
from engine.jobs.waiting import DROPPED_REASON
from engine.nets.build import Network, build
from engine.nets.spec import NetworkSpec
from engine.training.config import TrainConfig
from engine.training.events import BatchEvent, Callback
from engine.training.loop import fit
from engine.training.runs import RunStore

SMALL_CNN = NetworkSpec.from_dict({"input": [1, 8, 8], "layers": [
    {"kind": "conv2d", "out_channels": 8, "padding": 1}, {"kind": "relu"}, {"kind": "maxpool2d"},
    {"kind": "flatten"}, {"kind": "linear", "out_features": 10},
]})
WAIT = 120  # seconds: generous, for a loaded 2-core machine (the first job also starts the fork server)
SERVER = Path(__file__).with_name("job_server.py")
REPO = Path(__file__).parents[3]


@pytest.fixture(scope="module")
def digits() -> LoadedData:
    return load_dataset("digits")


def _part(data: LoadedData, n: int) -> LoadedData:
    return LoadedData(dataclasses.replace(data.card, train_size=n), data.train.subset(range(n)), data.val)


def _done(job: Job) -> Job:
    assert job.wait(WAIT), f"job {job.id} still {job.status} after {WAIT} s"
    return job


def _until(condition, what: str, wait: float = WAIT) -> None:
    deadline = time.time() + wait
    while not condition():
        assert time.time() < deadline, what
        time.sleep(0.02)


# the jobs' functions: module-level, so that a child process can unpickle them

def _abort(job: Job) -> None:
    os.abort()  # what a native crash in a backward pass does


def _kill_self(job: Job) -> None:
    os.kill(os.getpid(), signal.SIGKILL)  # what the kernel's out-of-memory killer does


def _niceness(job: Job) -> int:
    return os.nice(0)  # adds nothing: reads this process's niceness


def _refuse(job: Job) -> None:
    raise ValueError("lr must be a number > 0, got -1")


def _gated(job: Job, folder: Path, name: str) -> str:
    """Says it started (``<folder>/started-<name>``), then waits for ``<folder>/go-<name>``."""
    (folder / f"started-{name}").touch()
    deadline = time.time() + WAIT
    while not (folder / f"go-{name}").exists():
        assert time.time() < deadline
        time.sleep(0.02)
    return name


class _PauseAt(Callback):
    """At batch ``n`` of the first epoch: says so (``<folder>/at``), then waits for ``<folder>/go`` — time for the
    test to press Stop while the batch is "in progress"."""

    def __init__(self, folder: Path, n: int):
        self.folder, self.n = folder, n

    def on_batch_end(self, event: BatchEvent) -> None:
        if (event.epoch, event.batch) == (1, self.n):
            (self.folder / "at").touch()
            _until(lambda: (self.folder / "go").exists(), "never told to go on")


class _Greedy(Network):
    """A network whose forward pass asks for more memory than any machine has: a real allocation that fails."""

    def __init__(self, spec: NetworkSpec, modules: list, kind: str):
        super().__init__(spec, modules)
        self.kind = kind

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "torch":
            torch.empty(1 << 60, dtype=torch.uint8)  # RuntimeError: DefaultCPUAllocator: can't allocate memory
        else:
            bytearray(1 << 62)  # MemoryError
        return super().forward(x)


def _greedy(kind: str) -> _Greedy:
    return _Greedy(SMALL_CNN, list(build(SMALL_CNN, seed=0).children()), kind)


def test_a_native_crash_or_a_kill_ends_that_job_alone_and_the_next_one_runs(digits, tmp_path):
    runner = JobRunner(max_jobs=1, isolation="process")
    store = RunStore(tmp_path)
    aborted = runner.submit(_abort, owner="ada")
    killed = runner.submit(_kill_self, owner="bob")
    after = runner.submit(train_job, SMALL_CNN, _part(digits, 128), TrainConfig(epochs=1, batch_size=32),
                          store=store, owner="cy")
    assert _done(aborted).status == "failed"
    assert aborted.error == aborted.reason == "the job's process ended unexpectedly: killed by SIGABRT"
    assert _done(killed).status == "failed"
    assert killed.error == ("the job's process ended unexpectedly: killed by SIGKILL — likely out of memory (the "
                            "system ends the biggest process when memory runs out)")
    assert _done(after).status == "finished", after.error
    assert len(after.log.snapshot().epochs) == 1 and store.info(after.result.run_id).status == "finished"
    assert runner.active() == []


def test_a_failure_in_the_child_says_why(digits):
    runner = JobRunner(max_jobs=2, isolation="process")
    refused = _done(runner.submit(_refuse))
    assert (refused.status, refused.error) == ("failed", "lr must be a number > 0, got -1")
    assert "Traceback" in refused.traceback and "_refuse" in refused.traceback  # the child's, for the server log
    unsendable = _done(runner.submit(lambda job: None))
    assert unsendable.status == "failed"
    assert unsendable.error.startswith("the job could not be sent to its process (")
    assert unsendable.error.endswith(f"set {ISOLATION_ENV}=thread to run such jobs in threads")


def test_the_live_log_arrives_in_the_server_as_a_thread_job_s_would(digits, tmp_path):
    data, config = _part(digits, 320), TrainConfig(epochs=2, batch_size=32, lr=3e-3, seed=3)
    jobs = {mode: _done(JobRunner(max_jobs=1, isolation=mode).submit(
        train_job, SMALL_CNN, data, config, store=RunStore(tmp_path / mode), owner="ada")) for mode in
        ("thread", "process")}
    thread, process = jobs["thread"], jobs["process"]
    assert process.status == thread.status == "finished", process.error
    ps, ts = process.log.snapshot(), thread.log.snapshot()
    assert [(e.epoch, e.train, e.val, e.lr) for e in ps.epochs] == [(e.epoch, e.train, e.val, e.lr) for e in ts.epochs]
    assert len(ps.batch_losses) == 2 * 10 and ps.batch_losses == ts.batch_losses
    assert (ps.latest.epoch, ps.latest.batch, ps.start.batches, ps.fraction) == (2, 10, 10, 1.0)
    assert ps.start.model is None  # the network stays in the child
    outcome = process.result
    assert outcome.result.model is None  # what comes back is what pages read: the run's id, history, evaluation
    assert [e.train_loss for e in outcome.result.history] == [e.train_loss for e in thread.result.result.history]
    assert outcome.evaluation.accuracy == thread.result.evaluation.accuracy
    run = RunStore(tmp_path / "process").info(outcome.run_id)
    assert (run.status, run.owner, run.epochs) == ("finished", "ada", 2)


def test_stop_reaches_the_child_within_the_batch_in_progress(digits, tmp_path):
    store = RunStore(tmp_path / "runs")
    job = JobRunner(max_jobs=1, isolation="process").submit(
        train_job, SMALL_CNN, _part(digits, 320), TrainConfig(epochs=50, batch_size=16), store=store,
        callbacks=[_PauseAt(tmp_path, 3)])
    _until(lambda: (tmp_path / "at").exists(), f"batch 3 never came: {job.status} {job.error}")
    job.request_stop()  # while batch 3 is still "in progress" in the child
    (tmp_path / "go").touch()
    assert _done(job).status == "stopped" and job.reason == "stopped by the user"
    snap = job.log.snapshot()
    assert (snap.latest.epoch, snap.latest.batch) == (1, 3) and len(snap.batch_losses) == 3  # batch 4 never ran
    assert job.result.evaluation is None and store.info(job.result.run_id).status == "stopped"


def test_the_fair_queue_works_the_same_with_processes(tmp_path):
    runner = JobRunner(max_jobs=2, isolation="process")

    def started() -> set[str]:
        return {p.name.removeprefix("started-") for p in tmp_path.glob("started-*")}

    a1, a2, b, c = (runner.submit(_gated, tmp_path, name, owner=owner)
                    for name, owner in (("a1", "ada"), ("a2", "ada"), ("b", "bob"), ("c", "cy")))
    _until(lambda: started() == {"a1", "b"}, f"started {started()}")
    assert [j.status for j in (a1, a2, b, c)] == ["running", "queued", "running", "queued"]
    assert runner.active() == [a1, b, a2, c] and (runner.position(a2), runner.position(c)) == (1, 2)
    (tmp_path / "go-a1").touch()
    assert _done(a1).result == "a1"
    _until(lambda: started() == {"a1", "b", "a2"}, f"started {started()}")  # Ada's second, first in, first out
    assert c.status == "queued"
    c.request_stop()
    assert c.status == "stopped" and "out of the queue" in c.reason
    for name in ("a2", "b"):
        (tmp_path / f"go-{name}").touch()
    assert [_done(j).result for j in (a2, b)] == ["a2", "b"] and runner.active() == []
    assert "c" not in started()


@pytest.mark.parametrize("kind", ["torch", "python"])
def test_a_cpu_allocation_that_fails_ends_the_fit_failed_in_words(digits, tmp_path, kind):
    data, config = _part(digits, 64), TrainConfig(epochs=1, batch_size=32, device="cpu")
    expected = "out of cpu memory at epoch 1 with batch size 32 — try a smaller batch size (e.g. 16), a smaller network"
    store = RunStore(tmp_path)
    job = _done(JobRunner(max_jobs=1, isolation="process").submit(train_job, _greedy(kind), data, config,
                                                                  store=store))
    assert (job.status, job.error) == ("failed", expected)
    assert store.info(job.result.run_id).status == "failed"
    result = fit(_greedy(kind), data, config)  # the same in the calling thread
    assert (result.status, result.reason) == ("failed", expected)


def _server(mode: str, folder: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, str(SERVER), mode, str(folder)], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _kill(server: subprocess.Popen, ready: Path) -> None:
    try:
        _until(lambda: ready.exists() or server.poll() is not None, "the server never got ready")
        assert ready.exists(), server.communicate()[0]
    finally:
        server.kill()
        server.wait()


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rpartition(")")[2].split()[0] == "Z"


def test_a_job_dies_with_its_server_and_its_run_comes_back_interrupted(tmp_path):
    server = _server("train", tmp_path)
    _kill(server, tmp_path / "child")  # kill -9, mid-training
    child = int((tmp_path / "child").read_text())
    _until(lambda: _gone(child), f"the job's process {child} trains on without its server", wait=2)  # ~0.05 s
    # its leader may be a zombie while its other threads still exit, holding the run's flock a moment longer
    _until(lambda: [r.status for r in RunStore(tmp_path).list()] == ["interrupted"], "the run is not interrupted",
           wait=2)


def test_the_jobs_waiting_when_a_server_was_killed_are_reported_to_their_owners_once(tmp_path):
    server = _server("queue", tmp_path)
    _kill(server, tmp_path / "queued")
    again = JobRunner(max_jobs=1, isolation="thread", state_dir=tmp_path / ".queue")  # the restarted server
    assert again.dropped("bob", page="training") == []
    (ada,) = again.dropped("ada", page="training")
    assert ada.about == {"page": "training", "label": "second", "epochs": 5}  # its plain values
    assert ada.reason == DROPPED_REASON == "the server restarted before it started; start it again"
    assert ada.submitted <= time.time() and ada.owner == "ada"
    assert again.dropped("ada") == [] and [d.about for d in again.dropped("bob")] == [{"page": "style"}]
    assert JobRunner(isolation="thread", state_dir=tmp_path / ".queue").dropped("bob") == []  # taken once
    assert sorted(p.name for p in (tmp_path / ".queue").iterdir() if p.suffix == ".json") == []  # nobody waits


def test_the_isolation_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(ISOLATION_ENV, raising=False)
    assert isolation_from_env() == "process" and JobRunner().isolation == "process"
    monkeypatch.setenv(ISOLATION_ENV, "thread")
    assert JobRunner().isolation == "thread"
    monkeypatch.setenv(ISOLATION_ENV, "fork")
    with pytest.raises(ValueError, match=f"{ISOLATION_ENV} must be one of process, thread, got 'fork'"):
        JobRunner()


def test_job_processes_run_at_a_lower_cpu_priority_than_the_server(monkeypatch):
    """The server's reruns come first when jobs and pages compete for the cores (docs/tasks-and-jobs.md)."""
    server = os.nice(0)
    runner = JobRunner(max_jobs=1, isolation="process")
    monkeypatch.delenv(NICE_ENV, raising=False)
    assert _done(runner.submit(_niceness)).result == min(19, server + DEFAULT_NICE)
    monkeypatch.setenv(NICE_ENV, "0")
    assert _done(runner.submit(_niceness)).result == server
    monkeypatch.setenv(NICE_ENV, "-5")
    refused = _done(runner.submit(_niceness))
    assert refused.status == "failed"
    assert refused.error == (f"{NICE_ENV} must be a whole number from 0 (the server's priority) to 19 (the lowest), "
                             "got '-5'")
