"""Style transfer as a job (engine.jobs.style): through the same runner as training, its log fills as it runs and
agrees with the result, Stop ends it between steps, and the blend explorer's job runs one optimisation per ratio,
each equal to the same optimisation run alone. The jobs run in a child process (the runner's default: the logs are
written there and replayed here), except two whose test code reaches into the job, in a thread."""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pytest

from engine.jobs.job import Job
from engine.jobs.runner import JobRunner
from engine.jobs.style import MAX_POINTS, BlendOutcome, StyleLog, blend_job, style_job
from engine.media.images import sample_image, to_uint8
from engine.style.artworks import artwork
from engine.style.backbones import load_extractor
from engine.style.optimise import StyleConfig, StyleStep, stylise

WAIT = 120
CONFIG = StyleConfig(size=48, steps=6, preview_every=2, device="cpu")


@pytest.fixture(scope="module")
def pair() -> tuple[np.ndarray, np.ndarray]:
    return to_uint8(sample_image("chelsea", 96, gray=False)), to_uint8(artwork("mosaic", 96))


@pytest.fixture(scope="module")
def extractor():
    return load_extractor("efficientnet_lite0", "cpu")


def _done(job: Job) -> Job:
    assert job.wait(WAIT), f"job {job.id} still {job.status} after {WAIT} s"
    return job


def test_a_style_job_logs_every_step_and_its_result(pair, extractor):
    log = StyleLog(CONFIG)
    assert log.snapshot().status == "waiting" and log.snapshot().fraction == 0
    job = _done(JobRunner(max_jobs=1).submit(style_job, *pair, CONFIG, log=log, extractor=extractor))
    assert job.status == "finished", job.error
    snap = log.snapshot()
    result = job.result
    assert snap.status == "finished" and snap.fraction == 1.0
    assert snap.result.history == result.history and np.array_equal(snap.result.image, result.image)
    assert [p[0] for p in snap.points] == [1, 2, 3, 4, 5, 6]
    assert [p[3] for p in snap.points] == [e.total for e in result.history]
    assert np.array_equal(snap.image, result.image) and snap.image_step == 6
    alone = stylise(*pair, CONFIG, extractor=extractor)  # the same work outside a job
    assert [e.total for e in alone.history] == pytest.approx([e.total for e in result.history], rel=1e-5)


def test_a_job_loads_its_backbone_when_given_none(pair):
    log = StyleLog()
    job = _done(JobRunner(max_jobs=1).submit(style_job, *pair, replace(CONFIG, steps=1), log=log))
    assert job.status == "finished", job.error
    assert "efficientnet-lite0" in job.result.source


def test_stop_ends_a_style_job_between_steps(pair, extractor):
    log = StyleLog()
    reached = threading.Event()

    class Slow(StyleLog):  # signals the first step and lets the test press Stop
        def on_step(self, event: StyleStep) -> None:
            log.on_step(event)
            reached.set()

    runner = JobRunner(max_jobs=1, isolation="thread")  # Slow reaches into the test
    job = runner.submit(style_job, *pair, replace(CONFIG, steps=500), log=Slow())
    assert reached.wait(WAIT)
    job.request_stop()
    _done(job)
    assert job.status == "stopped" and job.reason == "stopped by the user"
    assert 1 <= len(job.result.history) < 500 and job.result.image is not None


def test_a_failing_job_says_why(pair):
    log = StyleLog()
    job = _done(JobRunner(max_jobs=1).submit(style_job, *pair, StyleConfig(alpha=-1), log=log))
    assert job.status == "failed" and "alpha must be a number ≥ 0" in job.error
    assert log.snapshot().status.startswith("failed: alpha must be")


def test_the_blend_job_runs_each_ratio_as_alone(pair, extractor):
    configs = [replace(CONFIG, alpha=a, beta=b, steps=3) for a, b in ((10, 1), (10, 40), (1, 100))]
    logs = [StyleLog(c) for c in configs]
    job = _done(JobRunner(max_jobs=1).submit(blend_job, *pair, configs, logs=logs, extractor=extractor))
    assert job.status == "finished", job.error
    outcome: BlendOutcome = job.result
    assert [r.config for r in outcome.results] == configs
    for config, log, result in zip(configs, logs, outcome.results, strict=True):
        assert log.snapshot().result.history == result.history  # written in the job's process, replayed here
        alone = stylise(*pair, config, extractor=extractor)
        assert [e.total for e in alone.history] == pytest.approx([e.total for e in result.history], rel=1e-5)
    contents = [r.last.content for r in outcome.results]  # more α/β, closer to the content
    assert contents[0] < contents[1] < contents[2]


def test_a_stopped_blend_says_which_ratios_did_not_run(pair, extractor):
    configs = [replace(CONFIG, steps=2), replace(CONFIG, steps=2, beta=1.0)]
    logs = [StyleLog(), StyleLog()]
    runner = JobRunner(max_jobs=1, isolation="thread")  # the job's function patches the test's log

    def stop_after_first(job: Job, *args, **kwargs):
        logs[0].end = lambda result, end=logs[0].end: (end(result), job.request_stop())  # Stop after ratio 1
        return blend_job(job, *args, **kwargs)

    job = _done(runner.submit(stop_after_first, *pair, configs, logs=logs, extractor=extractor))
    assert job.status == "stopped" and len(job.result.results) == 1
    assert logs[1].snapshot().status == "not run (stopped)"


def test_the_log_thins_long_runs():
    log = StyleLog()
    for step in range(1, 3 * MAX_POINTS + 1):
        log.on_step(StyleStep(step, 3 * MAX_POINTS, 1.0, 2.0, 3.0, {}, 0.1))
    snap = log.snapshot()
    assert len(snap.points) <= MAX_POINTS and snap.points[-1][0] > 2 * MAX_POINTS
    assert snap.latest.step == 3 * MAX_POINTS
