"""What the training page's sections share: the run store, the data the user picked, the cached named sets, messages
from button callbacks, the network line at the top.

Training never runs in the page script: Train, Resume and Fine-tune submit ``engine.jobs.training.train_job`` to the
process-wide ``engine.jobs.runner.runner()`` from the page (``live``), and the job handle lives in session state
(``state.TRAIN_JOB``), so the run goes on across reruns and page switches and every session has its own. Settings
keep their values across page switches with ``persist_state="session"``; the uploaded zip, whose widget cannot, lives
under ``state.TRAIN_UPLOAD`` (its decoding: ``playground.training.zip_decode``).
"""

from __future__ import annotations

from typing import NamedTuple

import streamlit as st

from engine.data import LoadedData, Normalization, channel_stats, load_dataset
from engine.nets import presets
from engine.nets.spec import NetworkSpec
from engine.nets.summary import Summary
from engine.units import format_count, format_shape, plural
from playground import state
from playground.cache import summary_of
from playground.navigation import page_path
from playground.store import run_store as run_store  # the pages' run store, decided there (the demo's own)

PERSIST = "session"
BUILDER_PAGE = page_path("builder")


class Picked(NamedTuple):
    """The data the user chose and its per-channel statistics (as stored, in [0, 1] units)."""

    data: LoadedData
    stats: Normalization


@st.cache_resource(max_entries=6, show_spinner="Loading the data set…")
def named_data(name: str, seed: int, max_train: int | None) -> Picked:
    """A named set, loaded once per (name, seed, size) for the whole server: read-only, shared by every session."""
    data = load_dataset(name, seed=seed, max_train=max_train)
    return Picked(data, channel_stats(data.train))


def load_named(name: str, seed: int, max_train: int | None) -> LoadedData:
    """``named_data`` as ``engine.training.trained.run_data`` takes a loader."""
    return named_data(name, seed, max_train).data


def message(level: str, text: str) -> None:
    """Say why a button's callback did nothing (shown under the Train button on the next run)."""
    state.put(state.TRAIN_MESSAGE, (level, text))


def device_choice() -> str:
    return str(state.get(state.DEVICE))


def short(name: str, n: int = 9) -> str:
    return name if len(name) <= n else name[: n - 1] + "…"


def network_title(spec: NetworkSpec) -> str:
    """The preset's title when the network is one, unchanged; "edited from ..." when the builder's network was loaded
    from a preset and changed since; else "your network"."""
    origin = state.get(state.BUILDER_ORIGIN) if spec == state.spec() else None
    return presets.network_title(spec, origin)


def network_facts(spec: NetworkSpec, s: Summary) -> str:
    """A network in one line: its layers, input → output, parameters and multiply-accumulates per image."""
    return (f"{plural(len(spec.layers), 'layer')}, input {format_shape(spec.input)} → output "
            f"{format_shape(s.output_shape)}, {s.total_params:,} parameters, {format_count(s.total_macs)} "
            f"multiply-accumulates per image")


def network_ui(spec: NetworkSpec) -> Summary:
    """One line about the builder's network, with a link to edit it; returns its summary."""
    s = summary_of(spec)
    with st.container(border=True):
        text, link = st.columns([4, 1], vertical_alignment="center")
        text.markdown(f"**Network: {network_title(spec)}** (from the builder) — {network_facts(spec, s)}")
        link.page_link(BUILDER_PAGE, label="Edit on the builder", icon=":material/account_tree:")
    return s
