"""The anchors' k-means explorer: the training scenes' box shapes clustered with ``1 − IoU`` as the distance
(``engine.detection.anchors``, YOLO v2's "dimension clusters"), for a k the user sets: the clusters and their anchors,
the anchors drawn as boxes beside the detector's own, and the mean IoU of each box with its best anchor against k —
the curve whose knee YOLO v2 chose k from."""

from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from engine.data.registry import MULTI_SIZE, multi_scenes
from engine.detection.anchors import box_shapes, kmeans_anchors, mean_iou_curve
from playground import state
from playground.figures import yolo as figs
from playground.training.common import PERSIST
from playground.yolo.detector import Detector

K = "_w_yolo_anchors_"
SCENES = (250, 500, 1000, 2000)
KS = range(1, 10)


@st.cache_data(max_entries=8, show_spinner="Measuring the training boxes…")
def _shapes(seed: int, n: int) -> np.ndarray:
    """The ``(w, h)`` of every box of ``n`` training scenes (fractions of the side), ``(M, 2)`` float32."""
    s = multi_scenes(n, seed, 0)
    return box_shapes(torch.cat([b.reshape(-1, 4) for b in s.targets.boxes]), MULTI_SIZE).numpy()


@st.cache_data(max_entries=32, show_spinner="Clustering…")
def _kmeans(seed: int, n: int, k: int) -> tuple[np.ndarray, float, np.ndarray]:
    a = kmeans_anchors(torch.from_numpy(_shapes(seed, n)), k, seed=seed)
    return a.anchors.numpy(), a.mean_iou, a.assignment.numpy()


def kmeans_of(seed: int, n: int, k: int) -> np.ndarray:
    """The ``k`` anchors ``(k, 2)`` (fractions of the side) of the first ``n`` training scenes of ``seed``."""
    return _kmeans(seed, n, k)[0]


@st.cache_data(max_entries=8, show_spinner="Clustering for every k…")
def _curve(seed: int, n: int) -> list[float]:
    return mean_iou_curve(torch.from_numpy(_shapes(seed, n)), list(KS), seed=seed)


def anchors_ui(detector: Detector) -> None:
    seed = int(state.get(state.SEED))
    a, b = st.columns([3, 2], vertical_alignment="bottom")
    k = a.slider("k (number of anchors)", KS.start, KS.stop - 1, 3, key=K + "k", persist_state=PERSIST)
    n = b.select_slider("Training scenes", SCENES, value=500, key=K + "scenes", persist_state=PERSIST,
                        format_func=lambda v: f"{v:,}", help=f"Of the \"multi_scenes\" training set (seed {seed}, "
                        "the sidebar's).")
    shapes = _shapes(seed, int(n))
    anchors, mean_iou, assignment = _kmeans(seed, int(n), int(k))
    st.caption(f"{len(shapes):,} boxes of {n:,} training scenes. Each box goes to the anchor whose shape it overlaps "
               "best; each anchor moves to the mean shape of its boxes; repeat. With 1 − IoU as the distance a small "
               "box is as near its anchor as a large one is to its own (Euclidean distance on sizes would let the "
               "large boxes decide).")
    left, right = st.columns(2)
    left.plotly_chart(figs.anchors_figure(shapes, assignment, anchors, MULTI_SIZE), key=K + "scatter")
    mine = np.asarray(detector.task.anchors) if detector.side == MULTI_SIZE else None
    right.plotly_chart(figs.anchor_shapes_figure(anchors, MULTI_SIZE, mine), key=K + "shapes")
    curve = _curve(seed, int(n))
    left, right = st.columns([3, 2], vertical_alignment="center")
    left.plotly_chart(figs.iou_curve_figure(list(KS), curve, int(k)), key=K + "curve")
    with right:
        st.metric(f"mean IoU with the best anchor, k = {k}", f"{mean_iou:.3f}")
        listed = ", ".join(f"{w * MULTI_SIZE:.0f}×{h * MULTI_SIZE:.0f}" for w, h in anchors)
        st.caption(f"Anchors (pixels of a {MULTI_SIZE}-pixel scene, smallest first): {listed}. More anchors fit the "
                   "boxes better, but each adds 5 + C outputs to every cell; the gain flattens after a few. The "
                   f"detector in use has {len(detector.task.anchors)}. Retrain below with another count: the task "
                   "takes its anchors from this clustering.")
