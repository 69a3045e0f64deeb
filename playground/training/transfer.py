"""The training page's transfer learning: start from a trained run or a network pretrained on ImageNet, freeze its
first layers, give it a new head for the chosen data's classes and fine-tune it as a new run. The page shows what
will train; the engine makes the network (``engine.training.transfer.start_transfer``)."""

from __future__ import annotations

import streamlit as st

from engine.data import LoadedData
from engine.nets.spec import NetworkSpec
from engine.nets.weights import KNOWN, known
from engine.nets.weights import describe as describe_weights
from engine.training.config import TrainConfig
from engine.training.runs import RunInfo, RunStore
from engine.training.tasks.classify import fit_head
from engine.training.transfer import (
    PRETRAINED,
    ParamReport,
    head_index,
    source_spec,
    source_title,
    start_transfer,
    transfer_report,
)
from playground.cache import summary_of
from playground.figures import training as figs
from playground.training import live
from playground.training.common import Picked, message

PRETRAINED_SOURCES = {f"{PRETRAINED}{name}": name for name in KNOWN}  # transfer sources besides runs
PRETRAINED_IMG_S = 75  # about how many 224-px images per second EfficientNet-Lite0 trains on 2 CPU cores (50-100)


@st.cache_data(max_entries=64, show_spinner="Counting parameters…")
def _transfer_params(spec_json: str, num_classes: int, freeze_upto: int) -> ParamReport:
    """Trainable and frozen parameters after ``transfer`` (they depend on the architecture only, not the weights)."""
    return transfer_report(spec_json, num_classes, freeze_upto)


@st.cache_data(max_entries=64, show_spinner=False)
def _fit_head(spec_json: str, num_classes: int) -> NetworkSpec:
    """``fit_head`` once per source network and class count: it traces the whole network (0.07 s for
    EfficientNet-Lite0), and the Training page draws this section on every rerun (bench/README.md)."""
    return fit_head(spec_json, num_classes)


def transfer_ui(store: RunStore, runs: list[RunInfo], labels: dict[str, str], current: Picked | None,
                 config: TrainConfig | None) -> None:
    st.caption("Start from a trained run, or from a network pretrained on ImageNet: keep its layers and weights, "
               "freeze the first ones (their weights stay as they are), give it a new output layer for the classes "
               "of the data chosen above, and train the rest. Freezing nothing uses the trained weights only as a "
               "starting point.")
    if current is None:
        st.caption("Choose the new data above first.")
        return
    sources = [r for r in runs
               if r.status in ("finished", "stopped", "interrupted") and r.epochs > 0 and r.task == "classify"]
    ids = [*(r.id for r in sources), *PRETRAINED_SOURCES]
    names = {key: f"ImageNet backbone: {known(name).title}" for key, name in PRETRAINED_SOURCES.items()} | labels
    # another key while no run is there: once one is, the choice starts from it, as before there were backbones
    key = "_w_tr_transfer_from" if sources else "_w_tr_transfer_backbone"
    src = st.selectbox("Start from", ids, format_func=names.get, key=key,
                       help="One of the runs above that has finished an epoch, or a pretrained backbone.")
    k = current.data.card.num_classes
    try:
        if src in PRETRAINED_SOURCES:
            _pretrained_notes(PRETRAINED_SOURCES[src], current.data)
        new_spec = _fit_head(source_spec(src, store).to_json(indent=None), k)
        head = head_index(new_spec)
    except (ValueError, FileNotFoundError) as e:
        st.error(f"This source cannot be used for transfer: {e}")
        return
    rows = [r for r in summary_of(new_spec).rows if r.depth == 0]
    freeze = st.select_slider(
        "Layers to freeze, from the input", list(range(head + 1)), value=min(head, max(0, head - 2)),
        key=f"_w_tr_freeze_{src}",
        format_func=lambda i: "0 — none" if i == 0 else f"{i} — up to {rows[i - 1].name}")
    try:
        report = _transfer_params(new_spec.to_json(indent=None), k, int(freeze))
    except ValueError as e:
        st.error(str(e))
        return
    cols = st.columns(3)
    cols[0].metric("trainable parameters", f"{report.trainable:,}")
    cols[1].metric("frozen parameters", f"{report.frozen:,}")
    cols[2].metric("new head", f"{rows[head].name} → {k}")
    st.dataframe(figs.param_table(report, head), hide_index=True, width="stretch",
                 height=min(360, 38 + 35 * len(report.layers)))
    if st.button(f"Fine-tune on {current.data.card.title}", key="_w_tr_transfer", type="primary",
                 icon=":material/call_split:", disabled=config is None or live.busy()) and config is not None:
        _start_transfer(store, src, int(freeze), current.data, config)
        st.rerun()
    st.caption("The new run trains with the settings above; the builder's network stays as it is.")


@st.cache_data(max_entries=4, show_spinner=False)
def _weights_line(name: str) -> str:
    return describe_weights(name)


def _pretrained_notes(name: str, data: LoadedData) -> None:
    """Which weights, what the loader does to the images, and what training will cost on a CPU."""
    st.caption(f"Weights: {_weights_line(name)}.")
    c, h, w = known(name).spec().input
    n = len(data.train) + len(data.val)
    secs = n / PRETRAINED_IMG_S
    st.caption(f"Images are resized to {h}×{w}{' and gray repeated to RGB' if data.card.image_shape[0] == 1 else ''} "
               f"by the loader; the first convolution is adjusted to the data's normalisation, which the run keeps. "
               f"At {h}×{w} this network trains about 50–100 images a second on two CPU cores: one epoch of these "
               f"{n:,} images (training and validation) takes roughly {secs / 60:.0f} min — choose fewer training "
               f"images above, or freeze more layers, for a quick try.")


def _start_transfer(store: RunStore, src: str, freeze_upto: int, data: LoadedData, config: TrainConfig) -> None:
    pretrained = src in PRETRAINED_SOURCES
    try:
        origin = source_title(src, store)
        model, name = start_transfer(src, data, freeze_upto, seed=config.seed, store=store)
    except (ValueError, FileNotFoundError) as e:
        message("error", f"Cannot start from {'the ImageNet backbone' if pretrained else f'run {src}'}: {e}")
        return
    label = f"transfer of {origin}{' (ImageNet)' if pretrained else ''} to {data.card.title}"
    live.submit({"kind": "transfer", "label": label, "epochs": config.epochs}, model, data, config, store=store,
                name=name)
