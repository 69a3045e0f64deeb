"""Training localisation and landmark models from the page: what to learn (boxes on scenes, landmarks on faces, with
or without their order shuffled), a ready network or the builder's (with the one-click output fix), images, epochs and
learning rate. The run is this session's training job (``playground.training.live``: the same job, live curves,
progress and Stop as the Training page), and lands in the run store like any run."""

from __future__ import annotations

import streamlit as st

from engine.data import DatasetCard, dataset_card
from engine.detection.networks import ready_network
from engine.detection.tasks import Landmarks, Localise
from engine.training.config import TrainConfig
from engine.training.runs import RunStore
from engine.training.tasks import Task
from playground import state
from playground.builder import editor as builder_ui
from playground.cache import summary_of
from playground.training import data as training_data
from playground.training import live
from playground.training.common import (
    BUILDER_PAGE,
    PERSIST,
    Picked,
    device_choice,
    named_data,
    network_facts,
    run_store,
)
from playground.training.settings import epochs_max

# slot -> (data set, task): what the page trains, and where it files the run (state.LOC_RUNS)
SLOTS: dict[str, tuple[str, Task]] = {"localise": ("scenes", Localise()), "landmarks": ("faces", Landmarks()),
                                      "landmarks_shuffled": ("faces_shuffled", Landmarks())}
WHAT = {"localise": "Boxes: classification with localisation", "landmarks": "Landmarks: five points on a face"}
NETWORKS = {"ready": "the ready network", "builder": "the builder's network"}
TRAIN_SIZES = (500, 1000, 2000, 4000)
LR_CHOICES = (3e-4, 1e-3, 2e-3, 5e-3, 1e-2)
BATCH = 32
K = "_w_loc_tr_"


def collect(store: RunStore) -> None:
    """Once per finished job: the Training page's collection (the active run, its evaluation), then this page's — the
    run filed under its slot, if the page started it."""
    got = live.collect_slot_run(store, state.LOC_COLLECTED)
    if got is not None and got[0] in SLOTS:
        state.get(state.LOC_RUNS, {})[got[0]] = got[1]


def slot_ui() -> str:
    """What to learn, and whether the landmarks' order is shuffled: the slot."""
    what = st.segmented_control("What to learn", list(WHAT), format_func=WHAT.get, default="localise",
                                required=True, key=K + "what", persist_state=PERSIST)
    if what == "landmarks" and st.toggle(
            "Shuffle the landmark order in the labels", key=K + "shuffle", persist_state=PERSIST,
            help="Train on the same faces with each training image's five points in a random order of its own (the "
                 "validation labels keep the true order). Train once with it off and once on to compare below."):
        return "landmarks_shuffled"
    return what


def train_ui(slot: str, seed: int) -> None:
    name, task = SLOTS[slot]
    card = dataset_card(name)
    cols = st.columns([3, 2, 1, 2])
    which = cols[0].segmented_control("Network", list(NETWORKS), format_func=NETWORKS.get, default="ready",
                                      required=True, key=K + "net", persist_state=PERSIST)
    n = cols[1].select_slider("Training images", TRAIN_SIZES, value=2000, key=K + "images", persist_state=PERSIST,
                              format_func=lambda v: f"{v:,}", help=f"Of the set's {card.train_size:,}; the "
                              f"{card.val_size:,} validation images are always the same.")
    most = epochs_max(K + "epochs", 100)  # the server's limit per job, when lower
    epochs = cols[2].number_input("Epochs", 1, most, min(8, most), key=K + "epochs", persist_state=PERSIST)
    lr = cols[3].select_slider("Learning rate", LR_CHOICES, value=5e-3, key=K + "lr", persist_state=PERSIST,
                               format_func=lambda v: f"{v:g}", help="The peak of a one-cycle schedule (Adam, "
                               f"batches of {BATCH}).")
    picked = named_data(name, seed, None if n >= card.train_size else int(n))
    spec = ready_network(task, card) if which == "ready" else state.spec()
    ready = _network_ui(spec, which, picked, card)
    config = TrainConfig(task=task, epochs=int(epochs), lr=float(lr), schedule="onecycle", batch_size=BATCH,
                         seed=seed, device=device_choice())
    running = live.busy()
    button, plan = st.columns([1, 5], vertical_alignment="center")
    if button.button("Train", key=K + "train", type="primary", icon=":material/play_arrow:", width="stretch",
                     disabled=running or not ready):
        title = f"{NETWORKS[which]} on {card.title}"
        live.submit({"kind": "new", "label": title, "epochs": config.epochs, "slot": slot},
                    spec, picked.data, config, store=run_store(), name=f"{task.name}: {NETWORKS[which]}, {name}")
        st.rerun()
    plan.caption(f"Trains {NETWORKS[which]} for {task.title} on {len(picked.data.train):,} images of "
                 f"{card.title} for {epochs} epochs, then checks it on {len(picked.data.val):,} held-out ones. The "
                 f"run is kept with the others on the Training page (task {task.name!r}).")
    live.message_ui()
    live.live_ui()


def _network_ui(spec, which: str, picked: Picked, card: DatasetCard) -> bool:
    """The network in one line; the ready one can be opened in the builder, the builder's gets the fit check and its
    one-click output fix. True when it can train on the data."""
    s = summary_of(spec)
    with st.container(border=True):
        text, link = st.columns([4, 1], vertical_alignment="center")
        text.markdown(f"**{NETWORKS[which].capitalize()}** — {network_facts(spec, s)}")
        if which == "ready":
            if link.button("Open in the builder", key=K + "open", icon=":material/account_tree:", width="stretch",
                           help="Make it the builder's network (Undo there brings yours back) to read or edit it; "
                                "then train it here as the builder's network."):
                state.set_spec(spec)
                builder_ui.bump_version()
                st.switch_page(BUILDER_PAGE)
            st.caption("Three conv-batchnorm-ReLU-pool blocks (48 → 24 → 12 → 6), one more convolution, and a "
                       f"fully connected head ending in {s.output_shape[0]} outputs.")
            return True
        link.page_link(BUILDER_PAGE, label="Edit on the builder", icon=":material/account_tree:")
    return training_data.fit_ui(spec, picked, s)
