"""``JobRunner.set_max_jobs``: the cap changed live (the teacher's Classroom page) — raised, waiting jobs start at
once; lowered, running jobs go on and fewer start after them; a bad value is refused with its name."""

from __future__ import annotations

import threading
import time

import pytest

from engine.jobs.runner import JobRunner

WAIT = 30  # seconds


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


def test_raising_the_cap_starts_waiting_jobs_and_lowering_it_holds_the_next():
    runner = JobRunner(max_jobs=1, isolation="thread")  # the jobs are the test's closures
    started: list[str] = []
    gates = {name: threading.Event() for name in ("a", "b", "c", "d")}
    a, b, c, d = (runner.submit(_blocking(started, n, gates[n]), owner=n) for n in ("a", "b", "c", "d"))
    _until(lambda: started == ["a"], f"started {started}")
    assert (b.status, runner.position(b), runner.position(c)) == ("queued", 1, 2)
    runner.set_max_jobs(3)
    _until(lambda: sorted(started) == ["a", "b", "c"], f"started {started}")  # no job ended: the cap started them
    assert d.status == "queued" and runner.position(d) == 1
    runner.set_max_jobs(1)  # lower: the three running go on; d waits until all of them are done
    gates["a"].set()
    assert a.wait(WAIT)
    time.sleep(0.2)
    assert d.status == "queued" and "2 of at most 1 jobs are running" in runner.waiting(d)
    gates["b"].set()
    gates["c"].set()
    assert b.wait(WAIT) and c.wait(WAIT)
    _until(lambda: started[-1] == "d", f"started {started}")
    gates["d"].set()
    assert d.wait(WAIT) and d.result == "d"


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_a_bad_cap_is_refused(bad):
    runner = JobRunner(max_jobs=2)
    with pytest.raises(ValueError, match=f"max_jobs must be a positive integer, got {bad!r}"):
        runner.set_max_jobs(bad)
    assert runner.max_jobs == 2
