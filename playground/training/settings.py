"""The training page's settings: augmentation (with a live preview of augmented training images) and the optimiser,
schedule, batches, epochs and the task's options, read into an ``engine.training.config.TrainConfig``."""

from __future__ import annotations

import streamlit as st

from engine.data import AugmentConfig, LoadedData, check_targets, preview_augmentations
from engine.device import resolve
from engine.nets.limits import Limits, limits
from engine.training.config import TrainConfig
from engine.training.limits import EPOCHS_ENV, JobLimits, check_epochs, job_limits, time_text
from engine.training.tasks import Classify, card_task, task_from_dict
from engine.units import plural
from playground import state
from playground.figures import training as figs
from playground.training.common import PERSIST, Picked, device_choice

LR_CHOICES = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)
BATCH_CHOICES = (8, 16, 32, 64, 128, 256, 512)
WD_CHOICES = (0.0, 1e-5, 1e-4, 5e-4, 1e-3, 1e-2, 5e-2, 0.1)
GAMMA_CHOICES = (0.5, 0.3, 0.2, 0.1, 0.05, 0.01)
WRITING = ("digits", "mnist5k", "mnist")  # a mirrored digit is not the same digit
OPTIMIZERS = {"sgd": "SGD with momentum", "adam": "Adam", "adamw": "AdamW"}
SCHEDULES = {"constant": "constant", "step": "step decay", "cosine": "cosine annealing", "onecycle": "one-cycle"}
MAX_EPOCHS = 500  # the epochs input's own range, when the server sets no limit
EPOCHS_KEY = "_w_tr_epochs"


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
            try:
                check_targets(config, picked.data.train.targets)
            except ValueError as e:
                st.error(str(e))
                return None
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


def _lr_text(lr: float) -> str:
    return f"{lr:g}"


def settings_ui(augment: AugmentConfig | None, picked: Picked | None) -> TrainConfig | None:
    """Optimiser, learning rate and schedule, batch size, epochs, weight decay, and the task's options (label
    smoothing for classification). Returns the config (device and seed from the sidebar; the task the picked data's),
    or None with the reason shown."""
    task = card_task(picked.data.card) if picked is not None else Classify()
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
    try:
        caps = job_limits()
    except ValueError as e:
        st.error(f"The server's limits per job are misconfigured: {e}")
        return None
    most = epochs_max(EPOCHS_KEY)
    epochs = top[4].number_input("Epochs", 1, most, min(5, most), key=EPOCHS_KEY, persist_state=PERSIST,
                                 help=f"At most {most} on this server." if caps.epochs is not None else None)
    more = st.columns(5)
    decay = more[0].select_slider("Weight decay", WD_CHOICES, value=0.0, format_func=_lr_text, key="_w_tr_wd",
                                  persist_state=PERSIST, help="L2 penalty on the weights (decoupled for AdamW).")
    options = task.to_dict()
    if "label_smoothing" in options:
        options["label_smoothing"] = more[1].slider(
            "Label smoothing", 0.0, 0.3, 0.0, 0.05, key="_w_tr_smoothing", persist_state=PERSIST,
            help="Train towards 1 − ε on the true class and ε spread over all (Szegedy et al., 2016).")
    momentum = more[2].slider("Momentum (SGD)", 0.0, 0.99, 0.9, 0.01, key="_w_tr_momentum", persist_state=PERSIST,
                              disabled=optimizer != "sgd")
    step_size = more[3].number_input("Step every … epochs", 1, 100, 5, key="_w_tr_step", persist_state=PERSIST,
                                     disabled=schedule != "step")
    gamma = more[4].select_slider("Step factor γ", GAMMA_CHOICES, value=0.1, format_func=_lr_text,
                                  key="_w_tr_gamma", persist_state=PERSIST, disabled=schedule != "step")
    device = device_choice()
    amp = False
    try:
        on_cuda = resolve(device).type == "cuda"
    except ValueError:
        on_cuda = False
    if on_cuda:
        amp = st.toggle("mixed precision (bfloat16/float16 on CUDA)", key="_w_tr_amp", persist_state=PERSIST,
                        help="Micikevicius et al., 2018: faster, less memory, nearly the same accuracy.")
    limits_caption(caps)
    try:
        check_epochs(int(epochs))
        return TrainConfig(optimizer=optimizer, lr=float(lr), momentum=float(momentum), schedule=schedule,
                           step_size=int(step_size), gamma=float(gamma), batch_size=int(batch), epochs=int(epochs),
                           weight_decay=float(decay), seed=int(state.get(state.SEED)), device=device, amp=bool(amp),
                           augment=augment, task=task_from_dict(options))
    except ValueError as e:
        st.error(f"These settings cannot train: {e}")
        return None


def most_epochs(caps: JobLimits, own_max: int = MAX_EPOCHS) -> int:
    """The most epochs one job may train here: an input's own maximum, or the server's limit per job when lower."""
    return min(caps.epochs, own_max) if caps.epochs is not None else own_max


def epochs_max(key: str, own_max: int = MAX_EPOCHS) -> int:
    """The maximum for the epochs input ``key`` (``most_epochs``; its own when the server's limits are misconfigured,
    which the Training page's settings say). A value above it (from a link made on another server) is brought down
    to it first, saying why."""
    try:
        caps = job_limits()
    except ValueError:
        return own_max
    most = most_epochs(caps, own_max)
    asked = st.session_state.get(key)
    if isinstance(asked, int) and not isinstance(asked, bool) and asked > most:
        st.session_state[key] = most
        if most == caps.epochs:
            st.warning(f"{asked} epochs is over this server's limit of {most} per job ({EPOCHS_ENV}={most}); set to "
                       f"{most}.")
    return most


def limits_caption(caps: JobLimits) -> None:
    """What this server allows per training job, when it sets limits (nothing on a laptop)."""
    parts = [plural(caps.epochs, "epoch")] if caps.epochs is not None else []
    if caps.seconds is not None:
        parts.append(f"{time_text(caps.seconds)} of training")
    said = [f"This server allows at most {' and '.join(parts)} per job."] if parts else []
    if caps.seconds is not None:
        said.append("A job that reaches the time stops as with Stop; resume it under Runs for as long again.")
    side = limits().input_side
    if side != Limits().input_side:
        said.append(f"Networks take inputs of at most {side}×{side} pixels.")
    if said:
        st.caption(" ".join(said), help="Set by whoever runs the server, in its environment (docs/hosting.md).")
