"""Retraining a YOLO detector from the page, and measuring one.

Retrain: the grid size S, the number of anchors B (k-means on the training boxes: ``playground.yolo.anchors``), the
backbone — the ready network (``Detect.ready_spec``), the builder's network or a trained run's network and weights
(its last convolution given B·(5 + C) filters by ``Detect.fit_output``; a run's weights are copied where names and
shapes match) — the training scenes and epochs. The run is this session's training job (``playground.training.live``:
the same job, live curves, progress and Stop as the Training page), lands in the run store under its owner like any
run, and becomes the page's detector when it is done.

Evaluate: mAP@0.5, mAP@0.5:0.95 and AP@0.5:0.95 per class (torchmetrics' ``MeanAveragePrecision``, through
``Detect.evaluate``) of the detector in use on held-out generated scenes, kept per session (``playground.cache.held``).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from engine.data import dataset_card
from engine.data.registry import multi_scenes
from engine.detection.detect import Detect
from engine.training.config import TrainConfig
from engine.training.runs import RunError, RunStore
from engine.units import plural
from playground import state
from playground.cache import held, summary_of
from playground.navigation import page_path
from playground.owner import owner_id
from playground.training import live
from playground.training.common import PERSIST, device_choice, named_data, network_facts
from playground.training.settings import epochs_max
from playground.yolo import anchors as anchor_ui
from playground.yolo.detector import Detector, run_label

DATA = "multi_scenes"
SLOT = "yolo"  # the job's about["slot"]: a run the page started
GRIDS = (3, 6, 12, 24)  # cells a side: the 96-pixel scenes halved 5, 4, 3 or 2 times by the ready network
ANCHOR_COUNTS = (1, 2, 3, 4, 5)
BACKBONES = {"ready": "the ready network", "builder": "the builder's network", "run": "a trained run"}
TRAIN_SIZES = (300, 1000, 2000)
EVAL_SIZES = (100, 200, 400)
LR = 5e-3
BATCH = 32
K = "_w_yolo_tr_"


def collect(store: RunStore) -> None:
    """Once per finished job: the Training page's collection, then this page's — a run it started becomes the
    page's detector."""
    got = live.collect_slot_run(store, state.YOLO_COLLECTED)
    if got is not None and got[0] == SLOT:
        try:
            if store.get(got[1]).info.epochs >= 1:
                state.put(state.YOLO_DETECTOR, got[1])
        except RunError:
            pass  # deleted meanwhile


def _backbone(which: str, store: RunStore, task: Detect, seed: int):
    """(the network spec fitted to the task's grid, weights to start from or None, its description) or None with
    the reason shown."""
    card = dataset_card(DATA)
    if which == "ready":
        spec = task.ready_spec(card)
        return spec, None, ("the ready network: conv-batchnorm-ReLU-pool blocks of 8, 16, 32, 64 channels down to "
                            "the grid")
    if which == "builder":
        spec, init, what = state.spec(), None, "the builder's network"
    else:
        runs = {r.id: r for r in store.visible(owner_id()) if r.epochs >= 1}
        if not runs:
            st.info("No trained run yet: train one here or on the Training page first.")
            return None
        run_id = st.selectbox("Run to start from", list(runs), key=K + "from", format_func=lambda i: run_label(runs[i]),
                              help="Its network and weights: tensors whose names and shapes match are copied, the "
                                   "new head starts fresh.")
        try:
            spec = store.get(run_id).spec
        except RunError as e:
            st.error(f"The run could not be read: {e}")
            return None
        init, what = run_id, f"run {runs[run_id].name}'s network and weights"
    try:
        shape = summary_of(spec).output_shape
        if shape is not None and len(shape) != 3:  # a classifier's vector: no map to make the grid of
            raise ValueError(f"its output is {'×'.join(map(str, shape))}, not a map; the grid needs "
                             "the last layer to be a convolution whose map is S×S (remove the flatten and linear "
                             "layers)")
        return task.fit_output(spec, card), init, what
    except ValueError as e:
        st.warning(f"{what.capitalize()} cannot be the detector: {e}", icon=":material/warning:")
        try:
            st.page_link(page_path("builder"), label="Change it on the builder", icon=":material/account_tree:")
        except st.errors.StreamlitAPIException:
            pass
        return None


def train_ui(store: RunStore, seed: int) -> None:
    cols = st.columns(5, vertical_alignment="bottom")
    grid = cols[0].select_slider("Grid size S", GRIDS, value=6, key=K + "grid", persist_state=PERSIST,
                                 help="Cells a side; each cell predicts B boxes.")
    b = cols[1].select_slider("Anchors B", ANCHOR_COUNTS, value=3, key=K + "anchors", persist_state=PERSIST,
                              help="Anchor shapes per cell, from k-means on the training boxes (the explorer above).")
    which = cols[2].selectbox("Backbone", list(BACKBONES), format_func=BACKBONES.get, key=K + "backbone",
                              persist_state=PERSIST)
    n = cols[3].select_slider("Training scenes", TRAIN_SIZES, value=300, key=K + "images", persist_state=PERSIST,
                              format_func=lambda v: f"{v:,}")
    most = epochs_max(K + "epochs", 100)
    epochs = cols[4].number_input("Epochs", 1, most, min(3, most), key=K + "epochs", persist_state=PERSIST)
    found = anchor_ui.kmeans_of(seed, int(n), int(b))
    task = Detect(grid=int(grid), anchors=tuple((round(float(w), 4), round(float(h), 4)) for w, h in found))
    picked = named_data(DATA, seed, int(n))
    chosen = _backbone(which, store, task, seed)
    if chosen is not None:
        spec, init, what = chosen
        st.caption(f"**{what.capitalize()}** — {network_facts(spec, summary_of(spec))}")
    config = TrainConfig(task=task, epochs=int(epochs), lr=LR, schedule="onecycle", batch_size=BATCH, seed=seed,
                         device=device_choice())
    button, plan = st.columns([1, 5], vertical_alignment="center")
    if button.button("Train", key=K + "train", type="primary", icon=":material/play_arrow:", width="stretch",
                     disabled=live.busy() or chosen is None) and chosen is not None:
        label = f"YOLO {grid}×{grid}, {b} anchors, {BACKBONES[which]}"
        live.submit({"kind": "new", "label": label, "epochs": config.epochs, "slot": SLOT}, spec, picked.data,
                    config, store=store, init_from=init, name=f"detect: {label}")
        st.rerun()
    anchors = ", ".join(f"{w * 96:.0f}×{h * 96:.0f}" for w, h in task.anchors)
    plan.caption(f"Trains a {grid}×{grid} grid with {plural(int(b), 'anchor')} ({anchors} pixels) on "
                 f"{len(picked.data.train):,} generated scenes for {plural(int(epochs), 'epoch')}, measuring mAP on "
                 f"{len(picked.data.val):,} validation scenes after each; on a CPU an epoch of 300 scenes takes a few "
                 "seconds (the bundled detector had 2,000 scenes and 20 epochs). The run is kept with the others on "
                 "the Training page, and becomes the detector here when it is done.")
    live.message_ui()
    live.live_ui()


def _evaluate(detector: Detector, seed: int, n: int) -> dict:
    s = multi_scenes(n, seed, 2)
    ev = detector.task.evaluate(detector.raw(s.images), s.targets)
    return {"map50": ev.metrics["map50"], "map": ev.metrics["map"], "per_class": dict(ev.per_class)}


def evaluate_ui(detector: Detector, seed: int) -> None:
    a, b = st.columns([2, 3], vertical_alignment="bottom")
    n = a.select_slider("Held-out scenes", EVAL_SIZES, value=100, key=K + "eval_n", persist_state=PERSIST,
                        help=f"Scenes the detectors never trained on (the held-out part of \"{DATA}\", seed {seed}).")
    key = ("yolo_eval", detector.token, seed, int(n))
    if b.button(f"Evaluate {detector.name}", key=K + "evaluate", icon=":material/query_stats:"):
        with st.spinner(f"Detecting on {n} scenes and measuring mAP…"):
            held().put(key, _evaluate(detector, seed, int(n)))
    result = held().get(key)
    if detector.meta and "held_out" in detector.meta:
        h = detector.meta["held_out"]
        st.caption(f"Measured when it was made: mAP@0.5 {h['map50']:.3f}, mAP@0.5:0.95 {h['map']:.3f} on "
                   f"{h['scenes']} held-out scenes (docs/detection.md).")
    if result is None:
        st.caption("Press **Evaluate**: mAP@0.5 (a box counts when its IoU with a true box of its class is at least "
                   "0.5), mAP@0.5:0.95 (averaged over IoU thresholds 0.5, 0.55, …, 0.95, as COCO does) and each "
                   "class's AP, with torchmetrics.")
        return
    cols = st.columns(2)
    cols[0].metric("mAP@0.5", f"{result['map50']:.3f}")
    cols[1].metric("mAP@0.5:0.95", f"{result['map']:.3f}")
    rows = [{"class": detector.classes[int(c)] if 0 <= int(c) < len(detector.classes) else str(c),
             "AP@0.5:0.95": round(v, 3) if v >= 0 else None} for c, v in sorted(result["per_class"].items())]
    st.dataframe(pd.DataFrame(rows), hide_index=True, key=K + "per_class")
