"""Widgets of the training page (pages/training.py). Each ``*_ui()`` draws its part and returns plain values.

Training never runs in the page script: the Train, Resume and Transfer buttons submit ``engine.jobs.runner.train_job``
to the process-wide ``engine.jobs.runner.runner()`` from their callbacks, and the job handle lives in session state
(``state.TRAIN_JOB``), so the run goes on across reruns and page switches and every session has its own. While a job
runs, ``live_ui`` draws two fragments that redraw themselves from snapshots of the job's event log (the progress
every ``PROGRESS_S``, the curves every ``CURVES_S``); when the job ends the page reruns once, and
``collect_finished_job`` takes the outcome in (the active run, its evaluation).

Settings keep their values across page switches with ``persist_state="session"``; the uploaded zip, whose widget
cannot, lives under ``state.TRAIN_UPLOAD``.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, NamedTuple

import streamlit as st

from engine.data import (
    AugmentConfig,
    DatasetCard,
    LoadedData,
    Normalization,
    availability,
    channel_stats,
    dataset_card,
    dataset_names,
    describe_adaptation,
    from_zip,
    load_dataset,
    preview_augmentations,
)
from engine.device import describe, resolve
from engine.jobs import runner as jobs
from engine.jobs.runner import ServerBusyError, TrainOutcome, train_job
from engine.nets.build import build
from engine.nets.presets import PRESETS
from engine.nets.spec import NetworkSpec, parse_spec
from engine.nets.summary import Summary
from engine.nets.weights import KNOWN, imagenet_stats, known
from engine.nets.weights import describe as describe_weights
from engine.training import export
from engine.training.evaluate import Evaluation, evaluate
from engine.training.loop import TrainConfig, fit_head, fit_problems
from engine.training.runs import Run, RunError, RunInfo, RunStore
from engine.training.transfer import ParamReport, from_pretrained, head_index, match_input_stats, param_report, transfer
from engine.units import format_count, format_seconds, format_shape
from playground import state
from playground.builder import editor as builder_ui
from playground.cache import summary_of
from playground.figures import training as figs
from playground.navigation import page_path

PERSIST = "session"
PROGRESS_S = 0.5  # seconds between two redraws of the progress bar while a job runs
CURVES_S = 2.0  # ... and of the live curves
BUILDER_PAGE = page_path("builder")
LR_CHOICES = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)
BATCH_CHOICES = (8, 16, 32, 64, 128, 256, 512)
WD_CHOICES = (0.0, 1e-5, 1e-4, 5e-4, 1e-3, 1e-2, 5e-2, 0.1)
GAMMA_CHOICES = (0.5, 0.3, 0.2, 0.1, 0.05, 0.01)
TRAIN_LIMITS = (500, 1000, 2000, 5000, 10000, 20000)
DOWNLOADABLE = {"mnist": "about 11 MB", "fashion_mnist": "about 30 MB", "cifar10": "about 170 MB"}
WRITING = ("digits", "mnist5k", "mnist")  # a mirrored digit is not the same digit
OPTIMIZERS = {"sgd": "SGD with momentum", "adam": "Adam", "adamw": "AdamW"}
SCHEDULES = {"constant": "constant", "step": "step decay", "cosine": "cosine annealing", "onecycle": "one-cycle"}
SOURCES = {"named": "A data set", "zip": "Your images (zip)", "webcam": "Webcam capture"}
MAX_EVALS = 8  # evaluations kept per session
PRETRAINED = {f"pretrained:{name}": name for name in KNOWN}  # transfer sources besides runs: key -> weights name
PRETRAINED_IMG_S = 75  # about how many 224-px images per second EfficientNet-Lite0 trains on 2 CPU cores (50-100)


class Picked(NamedTuple):
    """The data the user chose and its per-channel statistics (as stored, in [0, 1] units)."""

    data: LoadedData
    stats: Normalization


# --------------------------------------------------------------------------------------------------- resources


def run_store() -> RunStore:
    """The run store (``$CNNPG_RUNS_DIR``, else ./runs). Cheap: a folder and an SQLite file."""
    return RunStore()


@st.cache_resource(max_entries=6, show_spinner="Loading the data set…")
def _named_data(name: str, seed: int, max_train: int | None) -> Picked:
    """A named set, loaded once per (name, seed, size) for the whole server: read-only, shared by every session."""
    data = load_dataset(name, seed=seed, max_train=max_train)
    return Picked(data, channel_stats(data.train))


@st.cache_data(max_entries=128, show_spinner=False)
def _fit_problems(spec_json: str, card: DatasetCard) -> list[str]:
    return fit_problems(spec_json, card)


@st.cache_data(max_entries=64, show_spinner="Counting parameters…")
def _transfer_params(spec_json: str, num_classes: int, freeze_upto: int) -> ParamReport:
    """Trainable and frozen parameters after ``transfer`` (they depend on the architecture only, not the weights)."""
    return param_report(transfer(build(parse_spec(spec_json)), num_classes, freeze_upto))


def _message(level: str, text: str) -> None:
    state.put(state.TRAIN_MESSAGE, (level, text))


def _device_choice() -> str:
    return str(state.get(state.DEVICE))


# --------------------------------------------------------------------------------------------------- the network


def network_title(spec: NetworkSpec) -> str:
    """The preset's title when the network is one, unchanged; else "your network"."""
    for preset in PRESETS.values():
        if preset.spec == spec:
            return preset.title
    return "your network"


def network_ui(spec: NetworkSpec) -> Summary:
    """One line about the builder's network, with a link to edit it; returns its summary."""
    s = summary_of(spec)
    shape_in = format_shape(spec.input)
    shape_out = format_shape(s.output_shape)
    with st.container(border=True):
        text, link = st.columns([4, 1], vertical_alignment="center")
        text.markdown(f"**Network: {network_title(spec)}** (from the builder) — {len(spec.layers)} layers, input "
                      f"{shape_in} → output {shape_out}, {s.total_params:,} parameters, "
                      f"{format_count(s.total_macs)} multiply-accumulates per image")
        link.page_link(BUILDER_PAGE, label="Edit on the builder", icon=":material/account_tree:")
    return s


# --------------------------------------------------------------------------------------------------- data


def data_ui(seed: int) -> Picked | None:
    """Choose the data: a named set, a zip of class folders, or webcam samples. Shows its card and samples;
    returns it, or None (not available, not uploaded yet, or unreadable — with the reason on the page)."""
    source = st.segmented_control("Source", list(SOURCES), format_func=SOURCES.get, default="named",
                                  key="_w_tr_source", persist_state=PERSIST, required=True)
    if source == "zip":
        return _zip_ui(seed)
    if source == "webcam":
        return _webcam_ui()
    return _named_ui(seed)


def _named_ui(seed: int) -> Picked | None:
    names = dataset_names()
    where = {name: availability(name) for name in names}
    left, right = st.columns([2, 3], gap="large")
    with left:
        name = st.selectbox(
            "Data set", names, key="_w_tr_dataset", persist_state=PERSIST,
            format_func=lambda n: dataset_card(n).title + ("" if where[n][0] else " — not on this machine"),
            help="The bundled sets are always here; MNIST, Fashion-MNIST and CIFAR-10 need their files (or a "
                 "download you allow).")
        card = dataset_card(name)
        ok, how = where[name]
        if not ok:
            _download_ui(name, card, how)
        max_train = None
        if ok and card.train_size > TRAIN_LIMITS[0]:
            options = [n for n in TRAIN_LIMITS if n < card.train_size] + [card.train_size]
            max_train = st.select_slider(
                "Training images to use", options, value=card.train_size, key=f"_w_tr_max_train_{name}",
                persist_state=PERSIST, format_func=lambda n: f"{n:,}" + (" (all)" if n == card.train_size else ""),
                help="A subset trains faster on a CPU; the validation set stays whole.")
    picked = None
    if ok:
        try:
            picked = _named_data(name, seed, None if max_train == card.train_size else max_train)
        except (ValueError, OSError) as e:
            left.error(f"{card.title} could not be loaded: {e}")
    with right:
        _card_ui(picked.data.card if picked else card, how if ok else None)
        if picked is not None:
            _samples_ui(picked.data)
    return picked


def _download_ui(name: str, card: DatasetCard, why: str) -> None:
    st.warning(why, icon=":material/cloud_off:")
    if name not in DOWNLOADABLE:
        return
    allow = st.checkbox(f"allow download ({DOWNLOADABLE[name]} from the internet)", key=f"_w_tr_allow_{name}")
    if st.button(f"Download {card.title}", key=f"_w_tr_download_{name}", disabled=not allow,
                 icon=":material/download:"):
        bar = st.progress(0.0, text=f"Downloading {card.title}…")
        try:
            load_dataset(name, download=True,
                         progress=lambda f, text: bar.progress(min(max(float(f), 0.0), 1.0), text=text))
        except (ValueError, OSError, RuntimeError) as e:  # the engine's reasons; a network or disk failure
            st.error(f"{card.title} could not be downloaded: {e}")
        else:
            st.rerun()


def _card_ui(card: DatasetCard, where: str | None) -> None:
    st.markdown(f"**{card.title}** — {card.description}")
    c, h, w = card.image_shape
    cols = st.columns(4)
    cols[0].metric("training images", f"{card.train_size:,}")
    cols[1].metric("validation images", f"{card.val_size:,}")
    cols[2].metric("classes", card.num_classes)
    cols[3].metric(f"image size ({'gray' if c == 1 else 'RGB'})", f"{h}×{w}")
    classes = ", ".join(card.classes[:12]) + (" …" if card.num_classes > 12 else "")
    st.caption(f"Classes: {classes}  \nSource: {card.source}  \nLicence: {card.licence}"
               + (f"  \nHere: {where}" if where else ""))


def _samples_ui(data: LoadedData) -> None:
    idx = figs.class_samples(data.train.labels.numpy(), len(data.train.classes), per_class=2, limit=20)
    if not idx:
        return
    titles = [_short(data.train.classes[int(data.train.labels[i])]) for i in idx]
    st.plotly_chart(figs.image_grid(data.train.images[idx].numpy(), titles, cols=8, cell=48), width="content",
                    config={"displayModeBar": False, "staticPlot": True})


def _zip_ui(seed: int) -> Picked | None:
    upload = st.file_uploader(
        "A zip of class folders", type=["zip"], key="_w_tr_zip",
        help="One folder per class, named after it: cats/001.jpg, dogs/a.png … (PNG, JPEG, BMP, GIF, WebP). At "
             "least two classes with two images each. Images are centre-cropped to squares and resized to 64×64.")
    stored = state.get(state.TRAIN_UPLOAD)
    if upload is not None:
        raw = upload.getvalue()
        if stored is None or stored["name"] != upload.name or stored["bytes"] != raw:
            stored = _read_zip(upload.name, raw, seed)
    elif stored is not None and stored["seed"] != seed:
        stored = _read_zip(stored["name"], stored["bytes"], seed)
    if stored is None:
        st.caption("Nothing uploaded yet. Example layout: `my_data.zip` → `cats/001.jpg`, `cats/002.jpg`, "
                   "`dogs/001.jpg`, …")
        return None
    data = stored["data"]
    if upload is None:
        st.caption(f"Using your earlier upload, {stored['name']}; upload another zip to replace it.")
    left, right = st.columns([2, 3], gap="large")
    with left:
        _card_ui(data.card, None)
    with right:
        _samples_ui(data)
    return Picked(data, stored["stats"])


def _read_zip(name: str, raw: bytes, seed: int) -> dict | None:
    try:
        data = from_zip(raw, seed=seed, title=name)
    except ValueError as e:
        st.error(f"{name}: {e}", icon=":material/folder_zip:")
        return None
    stored = {"name": name, "bytes": raw, "seed": seed, "data": data, "stats": channel_stats(data.train)}
    state.put(state.TRAIN_UPLOAD, stored)
    return stored


def _webcam_ui() -> Picked | None:
    from playground.webcam.capture import capture_dataset_ui  # streamlit-webrtc is imported only when it is used

    data = capture_dataset_ui("train_webcam")
    if data is None:
        return None
    _samples_ui(data)
    return Picked(data, channel_stats(data.train))


def _short(name: str, n: int = 9) -> str:
    return name if len(name) <= n else name[: n - 1] + "…"


# --------------------------------------------------------------------------------------------------- fit check


def fit_ui(spec: NetworkSpec, picked: Picked, s: Summary) -> bool:
    """Say how the images are adapted to the network's input; show what must change first, with a one-click fix
    for the output. True when the network can train on the data as it is."""
    card = picked.data.card
    if len(spec.input) == 3 and s.ok:
        try:
            how = describe_adaptation(card.image_shape, tuple(spec.input), picked.stats)
        except ValueError as e:
            st.warning(f"input: {e}; set the builder's input to 1 (gray) or 3 (RGB) channels",
                       icon=":material/warning:")
            st.page_link(BUILDER_PAGE, label="Fix the network on the builder", icon=":material/account_tree:")
            return False
        st.info(f"**Input, adapted automatically:** {how} (the training set's statistics). The same happens to "
                f"every image the model sees later.", icon=":material/aspect_ratio:")
    problems = _fit_problems(spec.to_json(indent=None), card)
    for problem in problems:
        st.warning(problem, icon=":material/warning:")
    if any(p.startswith("output:") for p in problems):
        st.button(f"Set the output to {card.num_classes} classes", key="_w_tr_fix_head", type="primary",
                  on_click=_fix_head, args=(card.num_classes,), icon=":material/build:",
                  help="Sets the last linear layer's out_features to the number of classes (or appends a flatten "
                       "and a linear layer). The builder shows the change; Undo there brings the old one back.")
    elif problems:
        st.page_link(BUILDER_PAGE, label="Fix the network on the builder", icon=":material/account_tree:")
    return not problems


def _fix_head(num_classes: int) -> None:
    try:
        fitted = fit_head(state.spec(), num_classes)
    except ValueError as e:
        _message("error", str(e))
        return
    state.set_spec(fitted)
    builder_ui.bump_version()
    st.toast(f"The network now gives {num_classes} scores, one per class.", icon=":material/check:")


# --------------------------------------------------------------------------------------------------- augmentation


def augment_ui(picked: Picked | None) -> AugmentConfig | None:
    """The augmentation controls and a live preview of augmented training images; None when all are off."""
    left, right = st.columns([2, 3], gap="large")
    with left:
        hflip = st.toggle("horizontal flip", key="_w_tr_hflip", persist_state=PERSIST,
                          help="Mirror half the images left-right.")
        crop = st.slider("random crop: pad by, then cut back (pixels)", 0, 8, 0, key="_w_tr_crop",
                         persist_state=PERSIST, help="Zero-pad, then cut a window of the original size at a random "
                                                     "offset: a random shift.")
        rotation = st.slider("rotation, up to ± (degrees)", 0, 45, 0, step=5, key="_w_tr_rotation",
                             persist_state=PERSIST)
        jitter = st.slider("colour jitter (brightness, contrast, saturation)", 0.0, 0.5, 0.0, 0.05,
                           key="_w_tr_jitter", persist_state=PERSIST)
        shift = st.slider("colour shift per channel", 0.0, 0.3, 0.0, 0.05, key="_w_tr_shift", persist_state=PERSIST)
        pca = st.slider("PCA colour (AlexNet's σ; it used 0.1)", 0.0, 1.0, 0.0, 0.05, key="_w_tr_pca",
                        persist_state=PERSIST, help="Shift every pixel along the principal components of the "
                                                    "training set's RGB colours (Krizhevsky et al., 2012). Gray "
                                                    "images are unchanged.")
    try:
        config = AugmentConfig(hflip=hflip, crop_padding=int(crop), rotation=float(rotation),
                               color_jitter=float(jitter), color_shift=float(shift), pca_color=float(pca))
    except ValueError as e:
        left.error(str(e))
        return None
    with right:
        if picked is None:
            st.caption("Choose data to see augmented samples.")
        else:
            _preview_ui(picked.data, config)
    return config if config.active else None


def _preview_ui(data: LoadedData, config: AugmentConfig) -> None:
    top = st.columns([3, 2], vertical_alignment="center")
    one = top[0].toggle("one image, 16 ways", key="_w_tr_preview_one", persist_state=PERSIST)
    top[1].button("New samples", key="_w_tr_preview_new", icon=":material/refresh:",
                  on_click=lambda: state.put(state.TRAIN_PREVIEW, state.get(state.TRAIN_PREVIEW, 0) + 1))
    seed = int(state.get(state.TRAIN_PREVIEW, 0))
    index = seed % len(data.train) if one else None
    images = preview_augmentations(data.train, config, n=16, seed=seed, index=index)
    st.plotly_chart(figs.image_grid(images.numpy(), cols=8, cell=52, gap=4), width="content",
                    config={"displayModeBar": False, "staticPlot": True})
    st.caption(f"Augmentation: {config.describe()}. Each epoch draws new variants; the labels stay the same. "
               f"Validation images are never augmented.")
    if config.hflip and data.card.name in WRITING:
        st.caption(":orange[A mirrored digit is often not the same digit (or not a digit at all): flips suit "
                   "photos of things, not writing.]")


# --------------------------------------------------------------------------------------------------- settings


def _lr_text(lr: float) -> str:
    return f"{lr:g}"


def settings_ui(augment: AugmentConfig | None) -> TrainConfig | None:
    """Optimiser, learning rate and schedule, batch size, epochs, weight decay, label smoothing. Returns the
    config (device and seed from the sidebar), or None with the reason shown."""
    top = st.columns(5)
    optimizer = top[0].selectbox("Optimiser", list(OPTIMIZERS), index=1, format_func=OPTIMIZERS.get,
                                 key="_w_tr_optimizer", persist_state=PERSIST,
                                 help="SGD with momentum; Adam (Kingma & Ba, 2015); AdamW: Adam with decoupled "
                                      "weight decay (Loshchilov & Hutter, 2019).")
    lr = top[1].select_slider("Learning rate", LR_CHOICES, value=1e-3, format_func=_lr_text, key="_w_tr_lr",
                              persist_state=PERSIST, help="The step size; for one-cycle, the peak.")
    schedule = top[2].selectbox("Learning-rate schedule", list(SCHEDULES), format_func=SCHEDULES.get,
                                key="_w_tr_schedule", persist_state=PERSIST,
                                help="constant; step decay (× γ every few epochs); cosine annealing to 0 "
                                     "(Loshchilov & Hutter, 2017); one-cycle: warm up, then anneal (Smith & "
                                     "Topin, 2018).")
    batch = top[3].select_slider("Batch size", BATCH_CHOICES, value=64, key="_w_tr_batch", persist_state=PERSIST)
    epochs = top[4].number_input("Epochs", 1, 500, 5, key="_w_tr_epochs", persist_state=PERSIST)
    more = st.columns(5)
    decay = more[0].select_slider("Weight decay", WD_CHOICES, value=0.0, format_func=_lr_text, key="_w_tr_wd",
                                  persist_state=PERSIST, help="L2 penalty on the weights (decoupled for AdamW).")
    smoothing = more[1].slider("Label smoothing", 0.0, 0.3, 0.0, 0.05, key="_w_tr_smoothing", persist_state=PERSIST,
                               help="Train towards 1 − ε on the true class and ε spread over all (Szegedy et al., "
                                    "2016).")
    momentum = more[2].slider("Momentum (SGD)", 0.0, 0.99, 0.9, 0.01, key="_w_tr_momentum", persist_state=PERSIST,
                              disabled=optimizer != "sgd")
    step_size = more[3].number_input("Step every … epochs", 1, 100, 5, key="_w_tr_step", persist_state=PERSIST,
                                     disabled=schedule != "step")
    gamma = more[4].select_slider("Step factor γ", GAMMA_CHOICES, value=0.1, format_func=_lr_text,
                                  key="_w_tr_gamma", persist_state=PERSIST, disabled=schedule != "step")
    device = _device_choice()
    amp = False
    try:
        on_cuda = resolve(device).type == "cuda"
    except ValueError:
        on_cuda = False
    if on_cuda:
        amp = st.toggle("mixed precision (bfloat16/float16 on CUDA)", key="_w_tr_amp", persist_state=PERSIST,
                        help="Micikevicius et al., 2018: faster, less memory, nearly the same accuracy.")
    try:
        return TrainConfig(optimizer=optimizer, lr=float(lr), momentum=float(momentum), schedule=schedule,
                           step_size=int(step_size), gamma=float(gamma), batch_size=int(batch), epochs=int(epochs),
                           weight_decay=float(decay), label_smoothing=float(smoothing),
                           seed=int(state.get(state.SEED)), device=device, amp=bool(amp), augment=augment)
    except ValueError as e:
        st.error(f"These settings cannot train: {e}")
        return None


# --------------------------------------------------------------------------------------------------- jobs


def _submit(task: dict[str, Any], *args: Any, **kwargs: Any) -> None:
    """Start ``train_job(*args, **kwargs)`` for this session (a callback: it runs before the page redraws)."""
    state.put(state.TRAIN_MESSAGE, None)
    current = state.get(state.TRAIN_JOB)
    if current is not None and not current.done:
        _message("warning", "This session is already training; stop that run first.")
        return
    try:
        job = jobs.runner().submit(train_job, *args, **kwargs)
    except (ServerBusyError, ValueError) as e:
        _message("error", str(e)[:1].upper() + str(e)[1:])
        return
    state.put(state.TRAIN_JOB, job)
    state.put(state.TRAIN_JOB_TASK, task)


def _start_new(spec: NetworkSpec, data: LoadedData, config: TrainConfig) -> None:
    _submit({"kind": "new", "label": f"{network_title(spec)} on {data.card.title}", "epochs": config.epochs},
            spec, data, config, store=run_store())


def current_job() -> jobs.Job | None:
    return state.get(state.TRAIN_JOB)


def _busy() -> bool:
    """Whether this session's job is still running."""
    job = current_job()
    return job is not None and not job.done


def collect_finished_job(store: RunStore) -> None:
    """Once per finished job: make its run the active one, keep its evaluation, remember it as this session's."""
    job = current_job()
    if job is None or not job.done or state.get(state.TRAIN_COLLECTED) == job.id:
        return
    state.put(state.TRAIN_COLLECTED, job.id)
    outcome = job.result
    if not isinstance(outcome, TrainOutcome) or outcome.run_id is None:
        return
    run_id = outcome.run_id
    mine = state.get(state.TRAIN_MY_RUNS, [])
    if run_id not in mine:
        mine.append(run_id)
    if job.status == "failed":
        return
    state.put(state.ACTIVE_RUN, run_id)
    if outcome.evaluation is not None:
        try:
            _remember_eval(_eval_key(store.get(run_id)), outcome.evaluation)
        except RunError:
            pass  # deleted meanwhile


def train_ui(spec: NetworkSpec, picked: Picked | None, config: TrainConfig | None, ready: bool) -> None:
    """The Train button, what it will do, and the live view of this session's job."""
    job = current_job()
    running = job is not None and not job.done
    button, plan = st.columns([1, 5], vertical_alignment="center")
    # Handled here, not in an on_click callback: a callback's arguments are the previous run's, and a value typed
    # just before the click (the number of epochs) arrives with the click itself.
    if button.button("Train", key="_w_tr_train", type="primary", icon=":material/play_arrow:", width="stretch",
                     disabled=running or not ready or config is None) and picked is not None and config is not None:
        _start_new(spec, picked.data, config)
        st.rerun()  # draw the page with the job: Train disabled, the live view on
    if picked is not None and config is not None:
        n, bs = len(picked.data.train), config.batch_size
        batches = -(-n // bs)
        try:
            where = describe(resolve(config.device))
        except ValueError as e:
            where = str(e)
        plan.caption(f"Trains **{network_title(spec)}** on **{picked.data.card.title}** for {config.epochs} "
                     f"epoch{'s' * (config.epochs != 1)} on {where}. Each epoch: {n:,} images in {batches:,} "
                     f"batches of {bs}, then a check on {len(picked.data.val):,} validation images. Every run is "
                     f"kept under Runs: stop it, resume it, compare it.")
    message = state.get(state.TRAIN_MESSAGE)
    if message:
        level, text = message
        (st.error if level == "error" else st.warning)(text)
    live_ui()


def live_ui() -> None:
    """Progress, Stop and the curves of this session's job: two fragments that redraw themselves while it runs —
    the progress often, the curves less often (drawing a chart costs the browser more than a bar)."""
    job = current_job()
    if job is None:
        st.caption("Press **Train**: the loss and accuracy curves draw here as it learns.")
        return
    running = not job.done

    @st.fragment(run_every=PROGRESS_S if running else None)
    def _status() -> None:
        job = current_job()
        task = state.get(state.TRAIN_JOB_TASK) or {}
        snap = job.log.snapshot()
        if job.done:
            _outcome_ui(job, snap, task)
        else:
            _progress_ui(job, snap, task)
        if running and job.done:
            st.rerun()  # the whole page: the curves' last epoch, the evaluation and the runs list follow

    @st.fragment(run_every=CURVES_S if running else None)
    def _curves() -> None:
        snap = current_job().log.snapshot()
        if snap.epochs or snap.batch_losses:
            total = snap.start.epochs if snap.start else None
            st.plotly_chart(figs.curves_figure(snap.epochs, snap.batch_losses, total), width="stretch",
                            config={"displaylogo": False})
        elif running:
            st.caption("The curves start after the first batches.")

    _status()
    _curves()


def _progress_ui(job: jobs.Job, snap: jobs.LogSnapshot, task: dict[str, Any]) -> None:
    b, start = snap.latest, snap.start
    if start is None:
        text = "Preparing: building the network, computing the data's statistics…"
    elif b is None or snap.fraction == 0.0 and b.epoch <= start.start_epoch:
        text = f"Starting epoch {start.start_epoch + 1} of {start.epochs} on {start.device}…"
    else:
        text = (f"epoch {b.epoch}/{start.epochs} · batch {b.batch}/{b.batches} · loss {b.loss:.3f} · "
                f"{b.images_per_second:,.0f} images/s · about {format_seconds(b.eta_s)} left")
    st.progress(snap.fraction, text=text)
    stop, about = st.columns([1, 5], vertical_alignment="center")
    stopping = job.stop.is_set()
    stop.button("Stopping…" if stopping else "Stop", key="_w_tr_stop", icon=":material/stop:", width="stretch",
                on_click=job.request_stop, disabled=stopping)
    run = f" · run {start.run_id} on {start.device}" if start is not None else ""
    about.caption(f"{task.get('label', 'Training')}{run}. It goes on if you change the settings or visit another "
                  f"page; it stops cleanly after the current batch when you press Stop.")


def _outcome_ui(job: jobs.Job, snap: jobs.LogSnapshot, task: dict[str, Any]) -> None:
    outcome = job.result if isinstance(job.result, TrainOutcome) else None
    label = task.get("label", "the run")
    if job.status == "finished" and outcome is not None:
        r = outcome.result
        acc = f"{r.val_acc:.1%}" if r.val_acc is not None and r.val_acc == r.val_acc else "—"
        st.success(f"Finished {label}: validation accuracy **{acc}** after {r.epochs} epoch{'s' * (r.epochs != 1)} "
                   f"on {r.device} — {r.images_per_second:,.0f} images/s, {format_seconds(job.seconds)} in all.",
                   icon=":material/check_circle:")
    elif job.status == "stopped":
        b = snap.latest
        where = f" in epoch {b.epoch}, after batch {b.batch} of {b.batches}" if b is not None else ""
        st.warning(f"Stopped ({job.reason}){where}; {len(snap.epochs)} epochs finished. The run keeps its "
                   f"checkpoint: resume it under **Runs → Manage a run**.", icon=":material/pause_circle:")
    else:
        st.error(f"Training failed: {job.error}", icon=":material/error:")
    if outcome is not None:
        for note in outcome.notes:
            st.caption(note)


# --------------------------------------------------------------------------------------------------- evaluation


def _eval_key(run: Run) -> tuple[str, int, int]:
    checkpoint = run.path / "checkpoint.safetensors"
    return run.info.id, run.info.epochs, checkpoint.stat().st_mtime_ns if checkpoint.is_file() else 0


def _remember_eval(key: tuple, evaluation: Evaluation) -> None:
    evals = state.get(state.TRAIN_EVALS, {})
    evals[key] = evaluation
    for old in list(evals)[:-MAX_EVALS]:
        del evals[old]


def _stats(run: Run) -> Normalization:
    return Normalization.coerce(run.config["stats"])


def run_data(run: Run, current: Picked | None) -> tuple[LoadedData | None, str]:
    """The data a stored run trained on, with its split: a named set is loaded again by its name and the run's seed;
    the user's own images only when they are the ones loaded now. (data, "") or (None, why not)."""
    ds = run.config["dataset"]
    name, seed = ds["name"], int(run.config["train"]["seed"])
    if name in dataset_names():
        ok, why = availability(name)
        if not ok:
            return None, why
        full = dataset_card(name).train_size
        try:
            return _named_data(name, seed, ds["train_size"] if ds["train_size"] < full else None).data, ""
        except ValueError as e:
            return None, str(e)
    data = current.data if current is not None else None
    if data is not None and data.card.name == name and list(data.card.classes) == list(ds["classes"]) and \
            (len(data.train), len(data.val)) == (ds["train_size"], ds["val_size"]):
        return data, ""
    return None, (f"This run trained on {ds['title']}, which is not loaded now: choose the same images above (with "
                  f"seed {seed} in the sidebar) to evaluate or resume it.")


def _evaluation(store: RunStore, run: Run, data: LoadedData) -> Evaluation:
    key = _eval_key(run)
    evals = state.get(state.TRAIN_EVALS, {})
    if key not in evals:
        try:
            device = resolve(_device_choice())
        except ValueError:
            device = resolve("cpu")
        with st.spinner("Evaluating the run on its validation images…"):
            model = store.load_model(run.info.id, device=device)
            _remember_eval(key, evaluate(model, data.val, _stats(run)))
    return evals[key]


def results_ui(store: RunStore, current: Picked | None) -> None:
    """How the active run does on its validation images: accuracy, per class, confusion, mistakes; downloads."""
    run_id = state.get(state.ACTIVE_RUN)
    if not run_id:
        st.caption("Train a network, or pick a run under Runs, to see how well it does.")
        return
    try:
        run = store.get(run_id)
    except RunError:
        state.put(state.ACTIVE_RUN, None)
        st.caption("The run shown before was deleted. Train a network, or pick a run under Runs.")
        return
    ds = run.config["dataset"]
    st.markdown(f"**{run.info.name}** — {network_title(run.spec)} on {ds['title']}: {run.info.status}, "
                f"{run.info.epochs} epoch{'s' * (run.info.epochs != 1)} on {run.info.device}.")
    if not run.has_checkpoint:
        st.info("This run has no checkpoint yet: it stopped before its first batch finished.")
        return
    data, why = run_data(run, current)
    if data is None:
        st.info(why)
    elif len(data.val) == 0:
        st.info("The run's data has no validation images to evaluate on.")
    else:
        try:
            evaluation = _evaluation(store, run, data)
        except ValueError as e:
            st.error(f"The run could not be evaluated: {e}")
        else:
            _evaluation_ui(evaluation, data, run)
    downloads_ui(store, run)


def _evaluation_ui(ev: Evaluation, data: LoadedData, run: Run) -> None:
    classes = list(ev.classes)
    wrong = ev.misclassified()
    cols = st.columns(4)
    cols[0].metric("validation accuracy", f"{ev.accuracy:.1%}")
    best = run.info.best_val_acc
    cols[1].metric("best epoch's accuracy", f"{best:.1%}" if best is not None else "—")
    cols[2].metric("validation images", f"{len(ev.labels):,}")
    cols[3].metric("mistakes", f"{len(wrong):,}")
    confusion = ev.confusion
    left, right = st.columns(2, gap="large")
    left.plotly_chart(figs.confusion_figure(confusion.numpy(), classes), width="stretch",
                      config={"displaylogo": False})
    right.plotly_chart(figs.per_class_figure(ev.per_class_accuracy, classes), width="stretch",
                       config={"displaylogo": False})
    left, right = st.columns([2, 3], gap="large")
    with left:
        st.markdown("**Most confused pairs**")
        pairs = ev.most_confused(8)
        if pairs:
            st.dataframe(figs.confused_table(pairs, classes, confusion.sum(1).tolist()), hide_index=True,
                         column_config={"share of the class": st.column_config.NumberColumn(format="percent")})
        else:
            st.caption("No class was mistaken for another.")
    with right:
        st.markdown("**Misclassified examples**, most confidently wrong first")
        if wrong:
            shown = wrong[:24]
            titles = [f"{_short(classes[m.true], 7)}→{_short(classes[m.predicted], 7)}<br>{m.confidence:.0%}"
                      for m in shown]
            images = data.val.images[[m.index for m in shown]].numpy()
            st.plotly_chart(figs.image_grid(images, titles, cols=8, cell=56), width="content",
                            config={"displayModeBar": False, "staticPlot": True})
            st.caption("Above each image: true class → predicted class, and the predicted class's probability.")
        else:
            st.caption("No mistakes on the validation images.")


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "model"


def downloads_ui(store: RunStore, run: Run) -> None:
    """The run's model as a bundle (safetensors weights + spec JSON + meta), ONNX and TorchScript; each made when
    its button is pressed."""
    run_id, classes, stats = run.info.id, list(run.config["dataset"]["classes"]), _stats(run)
    slug = _slug(run.info.name)
    st.markdown("**Download the trained model**")
    cols = st.columns(3)
    cols[0].download_button(
        "Weights + spec (.zip)", data=lambda: export.bundle(store.load_model(run_id), classes=classes, stats=stats),
        file_name=f"{slug}.zip", mime="application/zip", on_click="ignore", icon=":material/download:",
        key="_w_tr_dl_bundle", width="stretch",
        help="model.safetensors, spec.json and meta.json (classes, normalisation, input shape). "
             "`python -m engine codegen spec.json` writes the PyTorch module the weights load into.")
    cols[1].download_button(
        "ONNX", data=lambda: export.to_onnx(store.load_model(run_id)), file_name=f"{slug}.onnx",
        mime="application/octet-stream", on_click="ignore", icon=":material/download:", key="_w_tr_dl_onnx",
        width="stretch", help="For onnxruntime and other runtimes: input 'input' (batch, C, H, W), output 'logits'.")
    cols[2].download_button(
        "TorchScript", data=lambda: export.to_torchscript(store.load_model(run_id)), file_name=f"{slug}.pt",
        mime="application/octet-stream", on_click="ignore", icon=":material/download:", key="_w_tr_dl_script",
        width="stretch", help="torch.jit.load(...) runs it without this project's code.")
    st.caption(f"Inputs are normalised per channel with mean {_numbers(stats.mean)} and std {_numbers(stats.std)} "
               f"after scaling pixels to [0, 1]; meta.json in the zip says so too.")


def _numbers(values: Any) -> str:
    return "(" + ", ".join(f"{v:.3f}" for v in values) + ")"


# --------------------------------------------------------------------------------------------------- runs


def _labels(runs: list[RunInfo]) -> dict[str, str]:
    names = [r.name for r in runs]
    return {r.id: r.name if names.count(r.name) == 1 or r.name == r.id else f"{r.name} ({r.id})" for r in runs}


def runs_ui(store: RunStore, current: Picked | None, config: TrainConfig | None) -> None:
    """Every stored run; compare, manage (show, rename, resume, delete) and transfer from one."""
    runs = store.list()
    if not runs:
        st.caption("No runs yet. Every training run is kept here — its settings, curves and weights — to compare, "
                   "resume or fine-tune later.")
        st.markdown("**Transfer learning**")
        _transfer_ui(store, [], {}, current, config)
        return
    mine = state.get(state.TRAIN_MY_RUNS, [])
    only_mine = st.toggle("only this session's runs", key="_w_tr_only_mine", persist_state=PERSIST,
                          help="The run store is shared by everyone using this server.")
    shown = [r for r in runs if r.id in mine] if only_mine else runs
    if not shown:
        st.caption("This session has not trained yet.")
        return
    st.dataframe(figs.runs_table(shown, state.get(state.ACTIVE_RUN), mine), hide_index=True, width="stretch",
                 height=min(400, 38 + 35 * len(shown)),
                 column_config={"best val. accuracy": st.column_config.NumberColumn(format="percent"),
                                "": st.column_config.TextColumn(width="small",
                                                                help="▶ shown above · ● trained in this session")})
    labels = _labels(shown)
    compare, manage, transfer_tab = st.tabs(["Compare runs", "Manage a run", "Transfer learning"])
    with compare:
        _compare_ui(store, shown, labels)
    with manage:
        _manage_ui(store, shown, labels, current)
    with transfer_tab:
        _transfer_ui(store, shown, labels, current, config)


def _compare_ui(store: RunStore, runs: list[RunInfo], labels: dict[str, str]) -> None:
    ids = [r.id for r in runs]
    active = state.get(state.ACTIVE_RUN)
    default = ([active] if active in ids else []) + [i for i in ids if i != active][:2]
    chosen = st.multiselect("Runs to overlay", ids, default=default, format_func=labels.get,
                            key=f"_w_tr_compare_{active}",  # a new active run starts a fresh choice with it
                            help="Their validation (solid) and training (dotted) curves, epoch by epoch.")
    if not chosen:
        return
    try:
        histories = store.compare(chosen)
    except RunError as e:
        st.error(str(e))
        return
    if not any(histories.values()):
        st.caption("None of these runs has finished an epoch yet.")
        return
    st.plotly_chart(figs.compare_figure({labels[i]: histories[i] for i in chosen}), width="stretch",
                    config={"displaylogo": False})


def _manage_ui(store: RunStore, runs: list[RunInfo], labels: dict[str, str], current: Picked | None) -> None:
    ids = [r.id for r in runs]
    active = state.get(state.ACTIVE_RUN)
    run_id = st.selectbox("Run", ids, index=ids.index(active) if active in ids else 0, format_func=labels.get,
                          key=f"_w_tr_manage_run_{active}")  # a new active run is the one to manage
    info = next(r for r in runs if r.id == run_id)
    busy = _training_now(run_id)
    show, rename, delete = st.columns(3, gap="large")
    with show:
        st.button("Show its evaluation", key="_w_tr_show", icon=":material/visibility:", disabled=run_id == active,
                  on_click=state.put, args=(state.ACTIVE_RUN, run_id),
                  help="Make it the active run: the evaluation above, the downloads and the other pages use it.")
        try:
            run = store.get(run_id)
        except RunError as e:
            st.error(str(e))
            return
        planned = int(run.config["train"]["epochs"])
        st.number_input("Resume: train until epoch", min_value=info.epochs + 1, max_value=info.epochs + 500,
                        value=max(planned, info.epochs + 1), key=f"_w_tr_resume_to_{run_id}")
        st.button("Resume", key="_w_tr_resume", icon=":material/resume:", disabled=busy or _busy(),
                  on_click=_resume, args=(store, run_id, f"_w_tr_resume_to_{run_id}", current),
                  help="Continue the same run from its checkpoint: the same settings and data; the epochs go on "
                       "counting and the curves grow.")
    with rename:
        st.text_input("New name", value=info.name, key=f"_w_tr_name_{run_id}", max_chars=80)
        st.button("Rename", key="_w_tr_rename", icon=":material/edit:", on_click=_rename,
                  args=(store, run_id, f"_w_tr_name_{run_id}"))
    with delete:
        sure = st.checkbox("yes, delete it for good", key=f"_w_tr_sure_{run_id}")
        st.button("Delete", key="_w_tr_delete", icon=":material/delete:", disabled=not sure or busy,
                  on_click=_delete, args=(store, run_id))
        if busy:
            st.caption("It is training now; stop it first.")
        elif info.status == "running":
            st.caption("It says “running”, but no job here trains it: its server stopped while it trained. Its "
                       "last checkpoint can be resumed.")


def _training_now(run_id: str) -> bool:
    """Whether a job of this server (any session's) is training ``run_id`` now."""
    for job in jobs.runner().active():
        start = job.log.snapshot().start
        if start is not None and start.run_id == run_id:
            return True
    return False


def _rename(store: RunStore, run_id: str, key: str) -> None:
    try:
        store.rename(run_id, st.session_state[key])
    except ValueError as e:
        _message("error", f"Cannot rename the run: {e}")


def _delete(store: RunStore, run_id: str) -> None:
    if _training_now(run_id):
        _message("warning", "This run is training; stop it before deleting it.")
        return
    try:
        store.delete(run_id)
    except ValueError as e:
        _message("error", f"Cannot delete the run: {e}")
        return
    if state.get(state.ACTIVE_RUN) == run_id:
        state.put(state.ACTIVE_RUN, None)
    mine = state.get(state.TRAIN_MY_RUNS, [])
    if run_id in mine:
        mine.remove(run_id)


def _resume(store: RunStore, run_id: str, key: str, current: Picked | None) -> None:
    try:
        run = store.get(run_id)
        data, why = run_data(run, current)
        if data is None:
            _message("warning", why)
            return
        config = dataclasses.replace(TrainConfig.from_dict(run.config["train"]),
                                     epochs=int(st.session_state[key]), device=_device_choice())
    except ValueError as e:
        _message("error", f"Cannot resume the run: {e}")
        return
    _submit({"kind": "resume", "label": f"{run.info.name} (resumed)", "epochs": config.epochs},
            None, data, config, store=store, run_id=run_id)


def _transfer_ui(store: RunStore, runs: list[RunInfo], labels: dict[str, str], current: Picked | None,
                 config: TrainConfig | None) -> None:
    st.caption("Start from a trained run, or from a network pretrained on ImageNet: keep its layers and weights, "
               "freeze the first ones (their weights stay as they are), give it a new output layer for the classes "
               "of the data chosen above, and train the rest. Freezing nothing uses the trained weights only as a "
               "starting point.")
    if current is None:
        st.caption("Choose the new data above first.")
        return
    sources = [r for r in runs if r.status in ("finished", "stopped") and r.epochs > 0]
    ids = [*(r.id for r in sources), *PRETRAINED]
    names = {key: f"ImageNet backbone: {known(name).title}" for key, name in PRETRAINED.items()} | labels
    # another key while no run is there: once one is, the choice starts from it, as before there were backbones
    key = "_w_tr_transfer_from" if sources else "_w_tr_transfer_backbone"
    src = st.selectbox("Start from", ids, format_func=names.get, key=key,
                       help="One of the runs above that has finished an epoch, or a pretrained backbone.")
    k = current.data.card.num_classes
    try:
        if src in PRETRAINED:
            spec = known(PRETRAINED[src]).spec()
            _pretrained_notes(PRETRAINED[src], current.data)
        else:
            spec = store.get(src).spec
        new_spec = fit_head(spec, k)
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
                 icon=":material/call_split:", disabled=config is None or _busy()) and config is not None:
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
    if src in PRETRAINED:
        name = PRETRAINED[src]
        try:
            model = from_pretrained(name)
            match_input_stats(model, channel_stats(data.train, channels=model.spec.input[0]), imagenet_stats(name))
            model = transfer(model, data.card.num_classes, freeze_upto, seed=config.seed)
        except (ValueError, FileNotFoundError) as e:
            _message("error", f"Cannot start from {known(name).title}: {e}")
            return
        title = known(name).title
        _submit({"kind": "transfer", "label": f"transfer of {title} (ImageNet) to {data.card.title}",
                 "epochs": config.epochs}, model, data, config, store=store, name=f"{title} → {data.card.title}")
        return
    try:
        info = store.info(src)
        model = transfer(store.load_model(src), data.card.num_classes, freeze_upto, seed=config.seed)
    except ValueError as e:
        _message("error", f"Cannot start from run {src}: {e}")
        return
    name = f"{info.name} → {data.card.title}"
    _submit({"kind": "transfer", "label": f"transfer of {info.name} to {data.card.title}", "epochs": config.epochs},
            model, data, config, store=store, name=name)
