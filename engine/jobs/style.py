"""Style transfer as a job: ``engine.style.optimise.stylise`` in the background, reporting each step to a
``StyleLog`` that any thread can ``snapshot()``, stopping on the job's stop flag — the same interface as training
(``engine.jobs.training``), so a classroom's jobs share the runner's cap.

``style_job`` runs one optimisation; ``blend_job`` runs the same content and style pair at several α/β ratios in turn
(the blend explorer), one log per ratio. The page makes the logs, submits the job with them and keeps both in its
session; the job writes, the page reads snapshots.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from engine.jobs.job import Job
from engine.jobs.process import register
from engine.style.backbones import Backbone, FeatureExtractor, backbone, load_extractor
from engine.style.optimise import StyleConfig, StyleResult, StyleStep, stylise

MAX_POINTS = 2000  # cost points kept for the live curves; past this, every other one is dropped

# A page's extractor goes to a job's process (engine.jobs.process) with its backbone, which holds functions, by name.
register(Backbone, lambda b: (backbone, (b.name,)))


@dataclass(frozen=True)
class StyleSnapshot:
    """A consistent copy of a log: ``status`` in words while nothing has been computed yet ("loading the backbone"),
    the cost ``points`` so far (``(step, content, style, total)``, thinned to at most ``MAX_POINTS``), the ``latest``
    step, the last ``image`` reported (``(H, W, 3)`` uint8) and the step it is from, and the ``result`` once it
    ended."""

    status: str
    points: tuple[tuple[int, float, float, float], ...]
    latest: StyleStep | None
    image: np.ndarray | None
    image_step: int
    result: StyleResult | None

    @property
    def fraction(self) -> float:
        if self.result is not None:
            return 1.0
        return self.latest.step / self.latest.steps if self.latest is not None else 0.0


class StyleLog:
    """The thread-safe log of one optimisation: the job writes (``say``, ``on_step``, ``end``), any thread reads a
    ``snapshot()``; each call holds the lock for a few assignments only."""

    relayed = ("say", "on_step", "end")  # its writers, replayed here from a job's process: engine.jobs.process

    def __init__(self, config: StyleConfig | None = None) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._status = "waiting"
        self._points: list[tuple[int, float, float, float]] = []
        self._stride = 1
        self._latest: StyleStep | None = None
        self._image: np.ndarray | None = None
        self._image_step = 0
        self._result: StyleResult | None = None

    def say(self, status: str) -> None:
        with self._lock:
            self._status = status

    def on_step(self, event: StyleStep) -> None:
        with self._lock:
            self._latest = replace(event, image=None)
            if event.image is not None:
                self._image, self._image_step = event.image, event.step
            if event.step % self._stride == 0:
                self._points.append((event.step, event.content, event.style, event.total))
                if len(self._points) > MAX_POINTS:
                    self._points = self._points[1::2]
                    self._stride *= 2

    def end(self, result: StyleResult) -> None:
        with self._lock:
            self._result = result
            self._status = result.status
            if result.image is not None:
                self._image = result.image
                self._image_step = result.last.step if result.last is not None else 0

    def snapshot(self) -> StyleSnapshot:
        with self._lock:
            return StyleSnapshot(self._status, tuple(self._points), self._latest, self._image, self._image_step,
                                 self._result)


@dataclass
class BlendOutcome:
    """What ``blend_job`` returns: one result per ratio run (fewer when stopped); its status is the last run's."""

    results: list[StyleResult] = field(default_factory=list)
    stopped: bool = False

    @property
    def status(self) -> str:
        if self.stopped:
            return "stopped"
        failed = [r for r in self.results if r.status == "failed"]
        return "failed" if failed else "finished"

    @property
    def reason(self) -> str:
        failed = [r for r in self.results if r.status == "failed"]
        return "stopped by the user" if self.stopped else failed[0].reason if failed else ""


def _extractor(log: StyleLog, config: StyleConfig, extractor: FeatureExtractor | None,
               allow_download: bool) -> FeatureExtractor:
    if extractor is not None:
        return extractor
    from engine.device import resolve
    from engine.style.backbones import availability

    ok, where = availability(config.backbone, allow_download)
    log.say(f"loading {config.backbone}: {where}" if ok else f"loading {config.backbone}")
    return load_extractor(config.backbone, resolve(config.device), allow_download=allow_download)


def style_job(job: Job, content: np.ndarray, style: np.ndarray, config: StyleConfig, *, log: StyleLog,
              extractor: FeatureExtractor | None = None, allow_download: bool = False) -> StyleResult:
    """``stylise(content, style, config)`` reporting to ``log`` and stopping on ``job.stop``. ``extractor``: the
    backbone already loaded (a page's shared one), else it is loaded here (downloaded first when allowed)."""
    try:
        ext = _extractor(log, config, extractor, allow_download)
        log.say("computing the content and style targets")
        result = stylise(content, style, config, extractor=ext, on_step=log.on_step, stop=job.stop)
    except Exception as e:  # the log says how it ended too, then the job records the failure
        log.say(f"failed: {e}")
        raise
    log.end(result)
    return result


def blend_job(job: Job, content: np.ndarray, style: np.ndarray, configs: Sequence[StyleConfig], *,
              logs: Sequence[StyleLog], extractor: FeatureExtractor | None = None,
              allow_download: bool = False) -> BlendOutcome:
    """The same pair optimised once per config (several α/β ratios), in turn, each reporting to its log."""
    if len(configs) != len(logs):
        raise ValueError(f"{len(configs)} configs but {len(logs)} logs")
    outcome = BlendOutcome()
    ext = extractor
    for config, log in zip(configs, logs, strict=True):
        if job.stop.is_set():
            outcome.stopped = True
            break
        ext = _extractor(log, config, ext, allow_download)
        result = stylise(content, style, config, extractor=ext, on_step=log.on_step, stop=job.stop)
        log.end(result)
        outcome.results.append(result)
        if result.status == "stopped":
            outcome.stopped = True
            break
    for log in logs[len(outcome.results):]:
        log.say("not run (stopped)")
    return outcome
