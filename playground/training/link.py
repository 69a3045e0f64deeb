"""The Training page's state in its link (playground/links.py): the data set, the optimiser and its settings, the
epochs, and the run shown under Evaluation — restored only when that run is this browser's or nobody's."""

from __future__ import annotations

import streamlit as st

from engine.data import dataset_names
from engine.training.runs import RunError, RunStore
from playground import links, state
from playground.links import Link, choice, integer
from playground.owner import owner_id
from playground.training.settings import BATCH_CHOICES, LR_CHOICES, OPTIMIZERS, SCHEDULES, WD_CHOICES

PAGE = "training"
RUN = "run"
LINKS = (
    Link("_w_tr_dataset", choice(dataset_names()), "data"),
    Link("_w_tr_optimizer", choice(OPTIMIZERS), "optimizer"),
    Link("_w_tr_lr", choice(LR_CHOICES), "lr"),
    Link("_w_tr_schedule", choice(SCHEDULES), "schedule"),
    Link("_w_tr_batch", choice(BATCH_CHOICES), "batch"),
    Link("_w_tr_epochs", integer(1, 500), "epochs"),
    Link("_w_tr_wd", choice(WD_CHOICES), "weight_decay"),
)


def restore(store: RunStore) -> None:
    """Before the widgets: the link's settings, and its run when this owner may see it."""
    if not links.restore(PAGE, LINKS):
        return
    run_id = st.query_params.get(RUN)
    if run_id:
        try:
            if run_id in {r.id for r in store.visible(owner_id())}:
                state.put(state.ACTIVE_RUN, run_id)
        except (OSError, RunError):
            pass


def publish() -> None:
    run_id = state.get(state.ACTIVE_RUN)
    links.publish(LINKS, {RUN: run_id} if run_id else None)
