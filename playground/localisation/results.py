"""Held-out results of the runs trained from the page: the run filed under the chosen slot, evaluated on its
validation images (once per session and checkpoint: ``playground.training.results.run_evaluation``) and drawn by the
views shared with the Training page."""

from __future__ import annotations

from typing import Any

import streamlit as st

from engine.data import LoadedData
from engine.nets.spec import Shape
from engine.training.runs import Run, RunError, RunStore
from engine.training.trained import run_input_shape
from engine.units import plural
from playground import state
from playground.localisation import views
from playground.training.results import data_of, run_evaluation


def load_evaluation(store: RunStore, run: Run) -> tuple[Any, LoadedData, Shape] | None:
    """The run's evaluation, its data and its network's input shape; None with the reason on the page."""
    if not run.has_checkpoint:
        st.info("This run has no checkpoint yet: it stopped before its first batch finished.")
        return None
    data, why = data_of(run, None)
    if data is None:
        st.info(why)
        return None
    try:
        return run_evaluation(store, run, data, run.task), data, run_input_shape(run)
    except ValueError as e:
        st.error(f"The run could not be evaluated: {e}")
        return None


def results_ui(store: RunStore, slot: str) -> None:
    run_id = state.get(state.LOC_RUNS, {}).get(slot)
    if run_id is None:
        st.caption("Train above: the predictions on held-out images show here.")
        return
    try:
        run = store.get(run_id)
    except RunError:
        st.caption("The run shown before was deleted; train again above.")
        return
    st.markdown(f"**{run.info.name}** — {run.config['dataset']['title']}: {run.info.status}, "
                f"{plural(run.info.epochs, 'epoch')} on {run.info.device}.")
    loaded = load_evaluation(store, run)
    if loaded is not None:
        ev, data, input_shape = loaded
        views.evaluation_ui(ev, data.val.images, input_shape, data.card.classes, "loc")
