"""Widgets of the "Look inside" page: which network, which input, and the views of filters, maps and predictions.

The network is a trained run from the run store (the training page's active run by default) or the builder's network,
untrained, built with the sidebar seed — so the page shows something before anything is trained. The run's model is
loaded once per session and kept under ``state.INSPECT_MODEL`` (never in a shared cache: the page hooks it to record
feature maps). Every computation is an engine call (``engine.nets.inspect``, ``engine.training.evaluate``,
``engine.media.camera``); this module only reads widgets and draws.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch

from engine.data import ImageSet, Normalization, adapt_batch, describe_adaptation, load_dataset
from engine.media.camera import fit_drawing
from engine.media.images import SAMPLE_IMAGES, centre_square, decode_upload, sample_image
from engine.nets.build import Network, build
from engine.nets.inspect import (
    KINDS_CONV,
    feature_maps,
    filter_images,
    first_layer_filters,
    shrink,
    strongest_channels,
)
from engine.nets.spec import SpecError
from engine.training.evaluate import predict
from engine.training.runs import RunError, RunInfo, RunStore
from engine.units import format_shape
from playground import state
from playground.cache import summary_of
from playground.figures import inspect as inspect_figures
from playground.navigation import PAGES
from playground.webcam import glue as webcam

BUILDER = ""  # the network option that stands for the builder's untrained network
SOURCES = ("Validation sample", "Photo", "Upload an image", "Draw", "Webcam")
UPLOAD_TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff"]
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_UPLOAD_PIXELS = 4_000_000
CANVAS = 280  # the drawing canvas's side, in screen pixels
MAX_FILTERS = 128  # first-layer filters drawn
MAX_CHANNELS = 64  # feature maps drawn for one layer
MAX_OVERVIEW = 12  # layers in the overview strip
MAP_SIDE = 56  # maps larger than this are averaged down for drawing
LIVE_KEY = "inspect_live"
PLOTLY = {"displaylogo": False}


@dataclass(frozen=True)
class Subject:
    """The network the page looks at. ``classes`` is None when its output is not one score per class."""

    title: str
    model: Network
    stats: Normalization | None
    input_shape: tuple[int, int, int]
    classes: tuple[str, ...] | None
    trained: bool
    token: tuple  # identifies the weights: a run and its epochs, or the builder's spec and seed
    dataset: str | None = None  # the run's data set (its name in engine.data), for validation samples
    data_seed: int = 0


@dataclass(frozen=True)
class InputImage:
    """One input: ``image`` ``(C, H, W)`` uint8 as stored or uploaded, what it is, and its true class if known."""

    image: torch.Tensor
    caption: str
    true: str | None = None

    @property
    def key(self) -> str:
        return hashlib.sha1(self.image.numpy().tobytes() + str(tuple(self.image.shape)).encode()).hexdigest()


# --------------------------------------------------------------------------------------------------- the network


def model_ui() -> Subject | None:
    """Choose the network: a run with at least one finished epoch (the active run by default, and again whenever the
    training page starts a new one), or the builder's untrained network. Says so, with a link to the Training page,
    when there are no runs. None when the choice can't be loaded (the reason is shown)."""
    try:
        runs = [r for r in RunStore().list() if r.epochs >= 1 or r.status == "stopped"]
    except (OSError, RunError) as e:
        st.error(f"The run store could not be read: {e}")
        runs = []
    ids = [r.id for r in runs]
    active = state.get(state.ACTIVE_RUN)
    if active != state.get(state.INSPECT_SEEN_ACTIVE):  # a new run from the training page: follow it
        state.put(state.INSPECT_SEEN_ACTIVE, active)
        if active in ids:
            state.put(state.INSPECT_RUN, active)
    options = [*ids, BUILDER]
    if state.get(state.INSPECT_RUN) not in options:
        state.put(state.INSPECT_RUN, active if active in ids else (ids[0] if ids else BUILDER))
    if not runs:
        _no_runs_message()
    by_id = {r.id: r for r in runs}
    seed = int(state.get(state.SEED))
    state.widget_default("_w_inspect_run", state.INSPECT_RUN)
    st.selectbox("Network", options, key="_w_inspect_run", on_change=state.bind,
                 args=("_w_inspect_run", state.INSPECT_RUN),
                 format_func=lambda i: _run_label(by_id[i], i == active) if i else
                 f"The builder's network, untrained (weights from seed {seed})")
    choice = state.get(state.INSPECT_RUN)
    try:
        return _run_subject(by_id[choice]) if choice else _builder_subject(seed)
    except (RunError, SpecError, ValueError, KeyError) as e:
        st.error(f"This network could not be loaded: {e}")
        return None


def _run_label(r: RunInfo, active: bool) -> str:
    acc = f", validation accuracy {r.best_val_acc:.1%}" if r.best_val_acc is not None else ""
    name = r.name if r.name != r.id else r.id
    return (f"{name}{' (active)' if active else ''} — {r.dataset}, {r.epochs} epoch{'s' * (r.epochs != 1)}{acc}, "
            f"{r.status}")


def _no_runs_message() -> None:
    page = PAGES.get("training")
    text = ("No trained network yet. Train one on the **Training** page and it appears here; meanwhile you can look "
            "inside the builder's network as it starts: untrained, with random weights.")
    st.info(text, icon=":material/info:")
    try:
        st.page_link(str(page.path), label="Go to the Training page", icon=page.icon)
    except st.errors.StreamlitAPIException:  # the page runs outside the app's navigation
        pass


def _session_model(token: tuple, make: Callable[[], Network]) -> Network:
    """The network for ``token``, made once and kept for this session (one at a time)."""
    held = st.session_state.get(state.INSPECT_MODEL)
    if held is None or held[0] != token:
        held = (token, make())
        st.session_state[state.INSPECT_MODEL] = held
    return held[1]


def _run_subject(info: RunInfo) -> Subject:
    store = RunStore()
    run = store.get(info.id)
    token = ("run", info.id, info.epochs, info.status)
    model = _session_model(token, lambda: store.load_model(info.id, "cpu"))
    stats = run.config.get("stats")
    dataset = run.config.get("dataset", {})
    return Subject(
        title=info.name, model=model,
        stats=Normalization.coerce(stats),
        input_shape=tuple(run.config.get("input_shape") or run.spec.input),
        classes=tuple(dataset.get("classes", ())) or None, trained=True, token=token,
        dataset=dataset.get("name"), data_seed=int(run.config.get("train", {}).get("seed", 0)),
    )


def _builder_subject(seed: int) -> Subject | None:
    spec = state.spec()
    s = summary_of(spec)
    if s.errors:
        st.error("The builder's network has invalid layers; fix them on the CNN builder page first.")
        return None
    if len(spec.input) != 3:
        st.error(f"The builder's network takes a {format_shape(spec.input)} input, not an image (C×H×W).")
        return None

    def make() -> Network:
        with torch.random.fork_rng(devices=[]):  # seed the weights without moving anyone else's random state
            torch.manual_seed(seed)
            return build(spec).eval()

    out = s.output_shape
    classes = tuple(str(i) for i in range(out[0])) if out is not None and len(out) == 1 else None
    token = ("builder", spec.to_json(indent=None), seed)
    return Subject("the builder's network (untrained)", _session_model(token, make), None, tuple(spec.input),
                   classes, trained=False, token=token)


def subject_caption(subject: Subject) -> None:
    c, h, w = subject.input_shape
    n = sum(p.numel() for p in subject.model.parameters())
    classes = (f"{len(subject.classes)} outputs" if not subject.trained else
               f"{len(subject.classes)} classes: {', '.join(subject.classes[:12])}"
               f"{' …' if len(subject.classes) > 12 else ''}") if subject.classes else "no class scores"
    st.caption(f"Input {c}×{h}×{w} · {n:,} parameters · {classes}"
               + (f" · trained on **{subject.dataset}**" if subject.dataset else ""))
    if not subject.trained:
        st.warning("This network is untrained: its filters are random and its predictions are guesses. Train it on "
                   "the Training page to see what it learns.", icon=":material/casino:")


# --------------------------------------------------------------------------------------------------- filters


def filters_ui(subject: Subject) -> None:
    """The first convolution's filters as small images."""
    try:
        filters = first_layer_filters(subject.model)
    except ValueError as e:
        st.info(str(e))
        return
    weight = filters.weight[:MAX_FILTERS]
    fig = inspect_figures.filters_figure(weight.numpy(), filter_images(weight).numpy(), filters.name)
    st.plotly_chart(fig, width="stretch", config=PLOTLY, key="inspect_filters")
    k = filters.weight.shape[0]
    how = ("Each filter sees the three colour channels, so it is drawn in colour: its weights scaled to 0–255 per "
           "filter. A trained first layer shows edges at several angles, blobs and colour contrasts."
           if filters.rgb else
           "Red weights add the pixel they sit on, blue ones subtract it (white: zero). A trained first layer shows "
           "edge and stroke detectors: a red band next to a blue one.")
    more = f" The first {MAX_FILTERS} of {k} are shown." if k > MAX_FILTERS else ""
    st.caption(how + more)


# --------------------------------------------------------------------------------------------------- inputs


def input_ui(subject: Subject) -> InputImage | None:
    """Choose an input: a validation sample of the run's data, a bundled photo, an uploaded image, a drawing, or the
    webcam (live prediction, and a frame taken from it to look inside). None until there is one."""
    if state.get(state.INSPECT_SOURCE) not in SOURCES:  # first visit: the run's own data when there is some
        state.put(state.INSPECT_SOURCE, SOURCES[0] if subject.dataset else SOURCES[1])
    state.widget_default("_w_inspect_source", state.INSPECT_SOURCE)
    source = st.radio("Input", SOURCES, horizontal=True, key="_w_inspect_source", on_change=state.bind,
                      args=("_w_inspect_source", state.INSPECT_SOURCE), label_visibility="collapsed")
    show = {SOURCES[0]: lambda: _sample_ui(subject), SOURCES[1]: lambda: _photo_ui(subject), SOURCES[2]: _upload_ui,
            SOURCES[3]: _drawing_ui, SOURCES[4]: lambda: _webcam_ui(subject)}
    return show[source]()


def _photo_ui(subject: Subject) -> InputImage:
    names = list(SAMPLE_IMAGES)
    state.widget_default("_w_inspect_photo", state.INSPECT_PHOTO)
    if st.session_state["_w_inspect_photo"] not in names:
        st.session_state["_w_inspect_photo"] = "astronaut"
    name = st.selectbox("Photo", names, key="_w_inspect_photo", on_change=state.bind,
                        args=("_w_inspect_photo", state.INSPECT_PHOTO),
                        format_func=lambda n: f"{n}: {SAMPLE_IMAGES[n]}")
    side = max(64, *subject.input_shape[1:])
    img = _photo(name, side)
    return InputImage(_to_uint8_chw(img), f"the photo '{name}'")


@st.cache_data(max_entries=16, show_spinner=False)
def _photo(name: str, side: int) -> np.ndarray:
    """A bundled photo (scikit-image's), centre-cropped, ``(side, side, 3)`` float in [0, 1]."""
    return sample_image(name, size=side, gray=False)


def _validation_set(subject: Subject) -> tuple[ImageSet | None, str]:
    """The run's validation images, or None and why not."""
    if subject.dataset is None:
        return None, ("The builder's network has no data set of its own: upload an image, draw one or use the "
                      "webcam — or train it first.")
    if subject.dataset == "webcam":
        for held in st.session_state.get(state.WEBCAM, {}).values():
            data = getattr(held, "dataset", None)
            if data is not None and subject.classes == tuple(data.card.classes):
                return data.val, ""
        return None, "The webcam samples this run trained on are gone (they live in the session that took them)."
    try:
        return _load_validation(subject.dataset, subject.data_seed), ""
    except ValueError as e:
        return None, f"The validation images of **{subject.dataset}** are not here: {e}"


@st.cache_resource(max_entries=4, show_spinner="Loading the validation images…")
def _load_validation(name: str, seed: int) -> ImageSet:
    """A named set's validation images (split by ``seed``, as the run's were); read-only, shared by sessions."""
    return load_dataset(name, seed=seed, max_train=1).val


def _sample_ui(subject: Subject) -> InputImage | None:
    val, why = _validation_set(subject)
    if val is None or len(val) == 0:
        st.info(why or "The validation set is empty.")
        return None
    n = len(val)
    if not 0 <= int(state.get(state.INSPECT_SAMPLE, 0)) < n:
        state.put(state.INSPECT_SAMPLE, 0)
    a, b = st.columns([3, 1], vertical_alignment="bottom")
    state.widget_default("_w_inspect_sample", state.INSPECT_SAMPLE)
    a.number_input(f"Validation sample (0–{n - 1})", 0, n - 1, step=1, key="_w_inspect_sample",
                   on_change=state.bind, args=("_w_inspect_sample", state.INSPECT_SAMPLE))
    b.button("Random sample", icon=":material/shuffle:", width="stretch", key="_w_inspect_random",
             on_click=lambda: state.put(state.INSPECT_SAMPLE, random.randrange(n)))
    i = int(state.get(state.INSPECT_SAMPLE))
    true = val.classes[int(val.labels[i])]
    return InputImage(val.images[i], f"validation sample {i} of {subject.dataset} (class {true})", true)


def _upload_ui() -> InputImage | None:
    file = st.file_uploader("An image (PNG, JPEG, GIF, BMP, WebP or TIFF; at most 5 MB)", type=UPLOAD_TYPES,
                            key="_w_inspect_upload")
    if file is not None:
        state.put(state.INSPECT_UPLOAD, (file.name, file.getvalue()))
    held = state.get(state.INSPECT_UPLOAD)
    if held is None:
        st.caption("Upload a photo or a scan: its centred square is what the network gets, as with webcam frames.")
        return None
    name, data = held
    try:
        img = decode_upload(data, max_bytes=MAX_UPLOAD_BYTES, max_pixels=MAX_UPLOAD_PIXELS)
    except ValueError as e:
        st.error(f"{name}: {e}")
        return None
    if file is None:
        st.caption(f"Using **{name}**, uploaded earlier.")
    top, left, side = centre_square(img)
    return InputImage(_to_uint8_chw(img[top : top + side, left : left + side]), f"your image {name} (centre square)")


def _drawing_ui() -> InputImage | None:
    from streamlit_drawable_canvas import st_canvas

    a, b = st.columns([1, 1])
    with b:
        ink = st.radio("Ink", ["white on black (like the digit sets)", "black on white"], key="_w_inspect_ink",
                       on_change=lambda: state.put(state.INSPECT_DRAWING, None))
        fit = st.toggle("Centre and fit the drawing", value=True, key="_w_inspect_fit",
                        help="Crop to the strokes and centre them with a margin, as MNIST's digits were prepared.")
        width = st.slider("Pen width", 4, 40, 22, key="_w_inspect_pen")
    white = ink.startswith("white")
    fg, bg = ("#ffffff", "#000000") if white else ("#000000", "#ffffff")
    with a:
        st.markdown("**Your drawing**")  # room for the canvas's toolbar, which floats above it
        result = st_canvas(stroke_width=width, stroke_color=fg, background_color=bg, height=CANVAS, width=CANVAS,
                           drawing_mode="freedraw", return_image_data=True, key=f"inspect_canvas_{int(white)}",
                           initial_drawing=state.get(state.INSPECT_DRAWING))
    if result is None or result.image_data is None:
        st.caption("Draw something with the mouse (or a finger); the prediction follows each stroke.")
        return None
    if result.json_data is not None:
        st.session_state[state.INSPECT_DRAWING] = result.json_data
    rgba = np.asarray(result.image_data, dtype=np.uint8)
    background = (0, 0, 0) if white else (255, 255, 255)
    img = fit_drawing(rgba, background) if fit else rgba[..., :3]
    if img is None:
        st.caption("The canvas is empty: draw something.")
        return None
    return InputImage(torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).contiguous(), "your drawing")


def _webcam_ui(subject: Subject) -> InputImage | None:
    video, side = st.columns([3, 2], gap="large")
    with video:
        if subject.classes is None:
            st.info("This network does not end with one score per class, so there is nothing to predict.")
        else:
            webcam.live_prediction_ui(subject.model, subject.stats, subject.input_shape, subject.classes, LIVE_KEY)
    with side:
        st.markdown("Press **START**: every frame is classified as it arrives. The yellow square is what the "
                    "network sees (shown small at the bottom right, at its input's size).")
        if st.button("Look inside the current frame", icon=":material/photo_camera:", key="_w_inspect_snap"):
            frame = webcam.latest_frame(LIVE_KEY)
            if frame is None:
                st.warning("No frame yet: press START and wait for the picture.")
            else:
                state.put(state.INSPECT_SNAPSHOT, frame.copy())
    frame = state.get(state.INSPECT_SNAPSHOT)
    if frame is None:
        return None
    top, left, size = centre_square(frame)
    square = np.ascontiguousarray(frame[top : top + size, left : left + size])
    return InputImage(torch.from_numpy(square).permute(2, 0, 1).contiguous(), "the webcam frame you took")


def _to_uint8_chw(img: np.ndarray) -> torch.Tensor:
    """float [0, 1] ``(H, W, 3)`` or ``(H, W)`` -> uint8 ``(C, H, W)``."""
    a = np.rint(np.clip(img, 0.0, 1.0) * 255.0).astype(np.uint8)
    a = a[..., None] if a.ndim == 2 else a
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))


# --------------------------------------------------------------------------------------------------- prediction


def _seen(subject: Subject, inp: InputImage) -> np.ndarray:
    """The input as the network sees it, before normalisation: ``(h, w)`` or ``(h, w, 3)`` in [0, 1]."""
    x = adapt_batch(inp.image[None], subject.input_shape, None)[0]  # (C, h, w)
    return x[0].numpy() if x.shape[0] == 1 else x.permute(1, 2, 0).numpy()


def prediction_ui(subject: Subject, inp: InputImage) -> None:
    """The input as the network sees it, and its top-k classes."""
    left, right = st.columns([2, 3], gap="large")
    c, h, w = subject.input_shape
    with left:
        st.plotly_chart(inspect_figures.input_figure(_seen(subject, inp), f"What the network sees: {c}×{h}×{w}"),
                        width="stretch", config=PLOTLY, key="inspect_input")
        st.caption(f"{inp.caption}: " + describe_adaptation(tuple(inp.image.shape), subject.input_shape,
                                                            subject.stats))
    with right:
        if subject.classes is None:
            st.info("This network does not end with one score per class (a flatten and a linear layer), so it makes "
                    "no prediction; its feature maps are below.")
            return
        try:
            top = predict(subject.model, inp.image, subject.stats, subject.input_shape, k=min(5, len(subject.classes)))
        except (ValueError, RuntimeError) as e:
            st.error(f"The network could not classify this input: {str(e).splitlines()[0]}")
            return
        pairs = [(subject.classes[int(i)], float(p)) for p, i in zip(top.probs[0], top.indices[0], strict=True)]
        st.plotly_chart(inspect_figures.topk_figure(pairs, inp.true), width="stretch", config=PLOTLY,
                        key="inspect_topk")
        name, p = pairs[0]
        verdict = "" if inp.true is None else (" — right" if name == inp.true else f" — wrong: it is **{inp.true}**")
        st.markdown(f"Prediction: **{name}** with probability {p:.1%}{verdict}.")


# --------------------------------------------------------------------------------------------------- feature maps


def _maps(subject: Subject, inp: InputImage, every: bool) -> list[tuple[str, torch.Tensor]]:
    """The feature maps for this network and input (one sample: ``(C, H, W)`` each), computed once per choice."""
    key = (subject.token, inp.key, every)
    held = st.session_state.get(state.INSPECT_MAPS)
    if held is None or held[0] != key:
        x = adapt_batch(inp.image[None], subject.input_shape, subject.stats)
        maps = feature_maps(subject.model, x, kinds=None if every else KINDS_CONV)
        held = (key, [(name, m[0]) for name, m in maps])
        st.session_state[state.INSPECT_MAPS] = held
    return held[1]


def feature_maps_ui(subject: Subject, inp: InputImage) -> None:
    """The overview strip across layers, then one chosen layer's channels as a grid of heatmaps."""
    every = st.toggle("Also activation, pooling and normalisation layers", key="_w_inspect_every",
                      help="Off: the output of every convolution. On: of every layer whose output is still a stack "
                           "of maps — see what ReLU clips and what pooling keeps.")
    maps = _maps(subject, inp, every)
    if not maps:
        st.info("This network has no convolutional layer, so it has no feature maps to show.")
        return
    picks = np.unique(np.linspace(0, len(maps) - 1, min(MAX_OVERVIEW, len(maps))).round().astype(int))
    strip = [(maps[i][0], shrink(maps[i][1], MAP_SIDE // 2).numpy(), strongest_channels(maps[i][1], 4),
              tuple(maps[i][1].shape)) for i in picks]
    st.plotly_chart(inspect_figures.overview_figure(_seen(subject, inp), strip), width="stretch", config=PLOTLY,
                    key="inspect_overview")
    left = f"; {len(picks)} of {len(maps)} layers, evenly spread" if len(picks) < len(maps) else ""
    st.caption(f"Each column is a layer's four most active channels (red positive, blue negative, one scale per "
               f"layer){left}. Early layers keep the picture's layout; deeper ones are smaller and more abstract.")
    names = [name for name, _ in maps]
    a, b = st.columns([2, 1], vertical_alignment="bottom")
    name = a.selectbox("Layer", names, key="_w_inspect_layer")
    strongest = b.toggle("Most active channels first", value=True, key="_w_inspect_sort")
    m = dict(maps)[name]
    c, h, w = m.shape
    order = strongest_channels(m, MAX_CHANNELS) if strongest else list(range(min(c, MAX_CHANNELS)))
    shown = f", the {len(order)} {'most active' if strongest else 'first'} shown" if len(order) < c else ""
    title = f"{name}: {c} channel{'s' * (c != 1)} of {h}×{w}{shown}"
    st.plotly_chart(inspect_figures.maps_figure(shrink(m, MAP_SIDE).numpy(), order, title), width="stretch",
                    config=PLOTLY, key="inspect_maps")
    small = f" (drawn averaged down to at most {MAP_SIDE}×{MAP_SIDE})" if max(h, w) > MAP_SIDE else ""
    st.caption(f"Values from {float(m.min()):.3g} to {float(m.max()):.3g}{small}. Each map is one filter slid over "
               f"the layer's input: bright where the input matches the filter's pattern.")
