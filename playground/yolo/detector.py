"""The detector the YOLO lab looks inside: the bundled one (``engine.detection.bundled``: trained by
``scripts/train_yolo.py``, committed, there on a fresh machine) or one of the user's detection runs (this browser's
and nobody's, never another's: ``RunStore.visible``), chosen at the top of the page. Both are loaded once for every
session on the CPU, read-only (``playground.cache``), and give the page one ``Detector``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st
import torch
from torch import nn

from engine.detection import yolo
from engine.detection.bundled import load_bundled
from engine.detection.detect import Detect
from engine.training.evaluate import outputs
from engine.training.runs import RunError, RunInfo
from engine.units import plural
from playground import state
from playground.cache import shared_run
from playground.owner import owner_id
from playground.store import run_store

BUNDLED = "bundled"
KEY = "_w_yolo_detector"


@dataclass(frozen=True, eq=False)
class Detector:
    """A YOLO network ready to detect: ``model`` (eval, CPU, shared: never changed by a page), its ``task`` (grid,
    anchors, thresholds), input ``stats``, ``classes``, input ``side``, a ``name`` for people and a ``token`` naming
    its weights (a cache key)."""

    model: nn.Module
    task: Detect
    stats: Any
    classes: tuple[str, ...]
    side: int
    name: str
    token: tuple
    meta: dict[str, Any] | None = None  # the bundled detector's meta.json (its held-out mAP)

    @property
    def grid(self) -> yolo.Grid:
        return self.task.grid_for(len(self.classes))

    def raw(self, images: torch.Tensor) -> torch.Tensor:
        """Raw outputs ``(N, B·(5 + C), S, S)`` for uint8 images ``(N, 3, H, W)``."""
        with torch.inference_mode():
            return outputs(self.model, images, self.stats)


@st.cache_resource(show_spinner="Loading the bundled detector…")
def _bundled() -> Detector:
    b = load_bundled()
    b.model.requires_grad_(False)
    return Detector(b.model, b.task, b.stats, b.classes, b.side, "the bundled detector", (BUNDLED,),
                    dict(b.meta))


def bundled() -> Detector:
    """The bundled detector, one copy for every session."""
    return _bundled()


def detection_runs() -> list[RunInfo]:
    """This browser's detection runs (and nobody's, and those shared with the class) with at least one epoch."""
    try:
        return [r for r in run_store().visible(owner_id()) if r.task == Detect.name and r.epochs >= 1]
    except (OSError, RunError) as e:
        st.error(f"The run store could not be read: {e}")
        return []


def run_label(r: RunInfo) -> str:
    best = f", validation {r.primary.title} {r.primary.format(r.best)}" if r.best is not None else ""
    return f"{r.name} — {plural(r.epochs, 'epoch')}{best} ({r.id})"


def from_run(info: RunInfo) -> Detector:
    trained = shared_run(run_store(), info.id, (info.epochs, info.status))
    if not isinstance(trained.task, Detect):
        raise ValueError(f"run {info.id} is not a detection run (its task is {trained.task.name!r})")
    return Detector(trained.model, trained.task, trained.stats, trained.classes, int(trained.input_shape[-1]),
                    f"your run {info.name}", ("run", info.id, info.epochs, info.status))


def detector_ui() -> Detector | None:
    """The detector menu: the bundled one, then the user's detection runs; the chosen ``Detector`` (None, with the
    reason shown, when it cannot be loaded). The choice survives reruns and page switches (``state.YOLO_DETECTOR``)."""
    runs = {r.id: r for r in detection_runs()}
    options = [BUNDLED, *runs]
    if state.get(state.YOLO_DETECTOR) not in options:
        state.put(state.YOLO_DETECTOR, BUNDLED)
    state.widget_default(KEY, state.YOLO_DETECTOR)
    st.selectbox("Detector", options, key=KEY, on_change=state.bind, args=(KEY, state.YOLO_DETECTOR),
                 format_func=lambda i: "The bundled detector (trained on generated scenes)" if i == BUNDLED
                 else run_label(runs[i]),
                 help="The bundled detector is committed with the app; your detection runs (trained below, or with "
                      "`python -m engine train --task detect`) are listed after it.")
    chosen = state.get(state.YOLO_DETECTOR)
    try:
        return bundled() if chosen == BUNDLED else from_run(runs[chosen])
    except (FileNotFoundError, RunError, ValueError, KeyError, OSError) as e:
        st.error(f"The detector could not be loaded: {e}")
        return None
