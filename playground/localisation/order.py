"""Why landmarks must come in a fixed order (course notes 1.3.2): the run trained on ordered labels beside the one
trained on the same faces with each image's points shuffled — their held-out points, errors and curves — and the
error of guessing every point at the face's centroid, which is what squared error teaches on shuffled labels."""

from __future__ import annotations

import streamlit as st

from engine.detection import target as T
from engine.detection.tasks import Landmarks
from engine.training.runs import RunError, RunStore
from playground import state
from playground.figures import training as train_figs
from playground.localisation import views
from playground.localisation.results import load_evaluation

SHOWN = 8  # faces per run


def order_ui(store: RunStore) -> None:
    runs = state.get(state.LOC_RUNS, {})
    missing = [what for slot, what in (("landmarks", "ordered"), ("landmarks_shuffled", "shuffled"))
               if slot not in runs]
    if missing:
        st.caption(f"Train the landmarks above with **Shuffle the landmark order** off and on (the "
                   f"{' and the '.join(missing)} run{'s are' if len(missing) > 1 else ' is'} still to come): the two "
                   f"runs then show here side by side, on the same held-out faces.")
        return
    cols = st.columns(2, gap="large")
    histories = {}
    for col, slot, title in ((cols[0], "landmarks", "Ordered labels"), (cols[1], "landmarks_shuffled",
                                                                           "Labels shuffled per image")):
        with col:
            st.markdown(f"**{title}**")
            try:
                run = store.get(runs[slot])
            except RunError:
                st.info("This run was deleted; train it again above.")
                continue
            histories[title] = run.history
            loaded = load_evaluation(store, run)
            if loaded is None:
                continue
            ev, data, input_shape = loaded
            scale = data.val.images.shape[-1] / input_shape[-1]
            st.metric("normalised mean error", f"{ev.metrics['nme']:.3f}")
            st.plotly_chart(views.points_figure(ev, data.val.images, data.card.classes, scale, range(SHOWN), cols=4),
                            width="content", config=views.STATIC, key=f"loc_order_{slot}")
            if slot == "landmarks_shuffled":
                st.caption(f"Guessing every point at the centroid of the face's five points would score "
                           f"**{T.centroid_error(ev.true_points):.3f}**: the shuffled run's points huddle there, "
                           f"because output 1 was the left eye in one label and a mouth corner in the next — the "
                           f"best squared-error answer to a random order is the average of the points.")
    if len(histories) == 2:
        st.plotly_chart(train_figs.compare_figure(histories, Landmarks().primary_metric), width="stretch",
                        key="loc_order_curves")
