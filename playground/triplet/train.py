"""Training an embedding from the One-shot lab: which classes stand in for identities and which are held out, the
mining, the margin, a ready network or the builder's (with the one-click output fix), images, epochs, learning rate.
The run is this session's training job (``playground.training.live``: the same job, live curves, progress and Stop as
the Training page), owned by this browser, and lands in the run store like any run (task "embed")."""

from __future__ import annotations

from typing import NamedTuple

import streamlit as st

from engine.data import channel_stats, dataset_card
from engine.data.registry import availability
from engine.faces.embed import DIM, Embed, identity_data, ready_spec
from engine.faces.triplet import MARGIN, MINING
from engine.training.config import TrainConfig
from engine.training.runs import RunStore
from playground import state
from playground.builder import editor as builder_ui
from playground.cache import summary_of
from playground.training import data as training_data
from playground.training import live
from playground.training.common import BUILDER_PAGE, PERSIST, Picked, device_choice, network_facts, run_store
from playground.training.settings import epochs_max

SETS = {"mnist5k": "Handwritten digits (MNIST, 5,000)", "fashion_mnist": "Clothes (Fashion-MNIST)",
        "digits": "Tiny digits (8×8)"}
MINING_TITLES = {"random": "random", "semi-hard": "semi-hard (FaceNet)", "hard": "hard (batch hard)"}
NETWORKS = {"ready": "the ready embedding network", "builder": "the builder's network"}
NET_LABELS = {"ready": "Ready", "builder": "Builder's"}
TRAIN_SIZES = (500, 1000, 2000, 4000, 8000)
LR_CHOICES = (3e-4, 1e-3, 3e-3, 1e-2)
BATCH = 64  # several images of each identity per batch, so every anchor finds positives
K = "_w_tl_"


class Setup(NamedTuple):
    """What the user chose to train: data, held-out classes, task, network, config."""

    picked: Picked
    task: Embed
    spec: object
    which: str
    config: TrainConfig


@st.cache_resource(max_entries=6, show_spinner="Loading the data set…")
def identity_set(name: str, held_out: tuple[int, ...], seed: int, max_train: int | None) -> Picked:
    """``engine.faces.embed.identity_data`` once per choice for the whole server (read-only, shared)."""
    data = identity_data(name, held_out, seed=seed, max_train=max_train)
    return Picked(data, channel_stats(data.train))


def collect(store: RunStore) -> None:
    """Once per finished job: the Training page's collection, then this page's — the run it started becomes the
    lab's run."""
    got = live.collect_slot_run(store, state.TRIPLET_COLLECTED)
    if got is not None and got[0] == "triplet":
        state.put(state.TRIPLET_RUN, got[1])


def running_run() -> str | None:
    """The run this session's job trains now, if it is the lab's."""
    job = live.current_job()
    if job is None or job.done or (state.get(state.TRAIN_JOB_TASK) or {}).get("slot") != "triplet":
        return None
    start = job.log.snapshot().start
    return start.run_id if start is not None else None


def settings_ui(seed: int) -> Setup | None:
    """The settings; None (with the reason shown) when the chosen data cannot be loaded."""
    c = st.columns([3, 3, 2])
    names = [n for n in SETS if availability(n)[0]]
    name = c[0].selectbox("Identities", names, format_func=SETS.get, key=K + "set", persist_state=PERSIST,
                          help="Each class stands in for a person. Fashion-MNIST shows here when its files are on "
                               "this machine.")
    card = dataset_card(name)
    held = c[1].multiselect("Held out of training", list(range(card.num_classes)), default=[8, 9],
                            format_func=lambda i: card.classes[i], key=K + "held", persist_state=PERSIST,
                            help="These classes never appear in training: verifying them is one-shot, on identities "
                                 "the network has never seen.")
    mining = c[2].selectbox("Triplet mining", MINING, index=1, format_func=MINING_TITLES.get, key=K + "mining",
                            persist_state=PERSIST, help="Which triplets of each batch the loss trains on.")
    c = st.columns([2, 2, 1, 2, 2])
    margin = c[0].slider("Margin α", 0.0, 1.0, MARGIN, 0.05, key=K + "margin", persist_state=PERSIST,
                         help="L = max(‖f(A) − f(P)‖² − ‖f(A) − f(N)‖² + α, 0), on unit-length embeddings.")
    sizes = [s for s in TRAIN_SIZES if s < card.train_size] + [card.train_size]
    n = c[1].select_slider("Training images", sizes, value=min(2000, card.train_size), key=K + "images",
                           persist_state=PERSIST, format_func=lambda v: f"{v:,}",
                           help="Before the held-out classes are taken out.")
    most = epochs_max(K + "epochs", 50)
    epochs = c[2].number_input("Epochs", 1, most, min(5, most), key=K + "epochs", persist_state=PERSIST)
    lr = c[3].select_slider("Learning rate", LR_CHOICES, value=3e-3, key=K + "lr", persist_state=PERSIST,
                            format_func=lambda v: f"{v:g}", help=f"One-cycle peak (Adam, batches of {BATCH}).")
    which = c[4].segmented_control("Network", list(NETWORKS), format_func=NET_LABELS.get, default="ready",
                                   required=True, key=K + "net", persist_state=PERSIST)
    try:
        task = Embed(dim=DIM, margin=float(margin), mining=mining, held_out=tuple(held))
        picked = identity_set(name, task.held_out, seed, None if n >= card.train_size else int(n))
    except ValueError as e:
        st.error(f"These settings cannot train: {e}.")
        return None
    spec = ready_spec(picked.data.card.image_shape, DIM) if which == "ready" else state.spec()
    config = TrainConfig(task=task, epochs=int(epochs), lr=float(lr), schedule="onecycle", batch_size=BATCH,
                         seed=seed, device=device_choice())
    return Setup(picked, task, spec, which, config)


def train_ui(setup: Setup) -> None:
    """The network line, Train, what it will do, and the live view of this session's job (curves, Stop)."""
    ready = _network_ui(setup)
    data = setup.picked.data
    button, plan = st.columns([1, 5], vertical_alignment="center")
    if button.button("Train", key=K + "train", type="primary", icon=":material/play_arrow:", width="stretch",
                     disabled=live.busy() or not ready):
        label = f"{NETWORKS[setup.which]} on {data.card.title}"
        live.submit({"kind": "new", "label": label, "epochs": setup.config.epochs, "slot": "triplet"},
                    setup.spec, data, setup.config, store=run_store(),
                    name=f"embed: {setup.task.mining}, {data.card.name}")
        st.rerun()
    held = ", ".join(data.card.classes[i] for i in setup.task.held_out) or "nothing"
    seen = data.card.num_classes - len(setup.task.held_out)
    plan.caption(f"Trains {NETWORKS[setup.which]} with the triplet loss ({MINING_TITLES[setup.task.mining]} mining, "
                 f"α = {setup.task.margin:g}) on {len(data.train):,} images of {seen} "
                 f"identities for {setup.config.epochs} epochs; {held} held out. Each epoch ends with the "
                 f"verification AUC on {len(data.val):,} validation images. The run is kept with the others on the "
                 f"Training page (task 'embed').")
    live.message_ui()
    live.live_ui()


def _network_ui(setup: Setup) -> bool:
    spec, s = setup.spec, summary_of(setup.spec)
    with st.container(border=True):
        text, link = st.columns([4, 1], vertical_alignment="center")
        text.markdown(f"**{NETWORKS[setup.which].capitalize()}** — {network_facts(spec, s)}")
        if setup.which == "ready":
            if link.button("Open in the builder", key=K + "open", icon=":material/account_tree:", width="stretch",
                           help="Make it the builder's network to read or edit it; then train it here as the "
                                "builder's network."):
                state.set_spec(spec)
                builder_ui.bump_version()
                st.switch_page(BUILDER_PAGE)
            st.caption(f"Three conv-batchnorm-ReLU blocks (16, 32, 64 channels), global average pooling and a linear "
                       f"layer of {DIM} outputs, normalised to unit length: the embedding f(x).")
            return True
        link.page_link(BUILDER_PAGE, label="Edit on the builder", icon=":material/account_tree:")
    return training_data.fit_ui(spec, setup.picked, s)
