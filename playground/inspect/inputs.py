"""Look inside: the input — a validation sample of the run's data, or a picture from the shared image source (a
bundled photo, an upload, a drawing, a webcam frame; with a live prediction while the camera runs)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch

from engine.data import ClassIds, ImageSet, adapt_batch, load_dataset
from engine.media.images import to_chw, to_hwc
from playground import state
from playground.inspect.drawing import drawing_advice_ui
from playground.inspect.subject import Subject
from playground.widgets import image_source

KEY = "inspect"  # the image source's key: its widgets are _w_inspect_source, _w_inspect_photo, ...
SAMPLE = {"sample": "Validation sample"}


@dataclass(frozen=True)
class InputImage:
    """One input: ``image`` ``(C, H, W)`` uint8 as stored or uploaded, what it is, its true class if known, and a key
    that identifies its pixels."""

    image: torch.Tensor
    caption: str
    key: str
    true: str | None = None


def input_ui(subject: Subject, live: Callable[[str], None] | None = None) -> InputImage | None:
    """Choose an input: a validation sample of the run's data (the first choice when the run has data), a bundled
    photo, an uploaded image, a drawing, or the webcam (drawn by ``live``: a live prediction; a frame taken from it is
    the input). None until there is one."""
    source = image_source.source_ui(KEY, SAMPLE, default="sample" if subject.dataset else "photo")
    if source == "sample":
        return _sample_ui(subject)
    if source == "drawing":
        drawing_advice_ui(subject)  # a drawn digit needs a digit reader: the user's MNIST run, or one trained now
    options = image_source.Options(
        live=live, snapshot_label="Look inside the current frame",
        webcam_help="Press **START**: every frame is classified as it arrives. The yellow square is what the network "
                    "sees (shown small at the bottom right, at its input's size).")
    picture = image_source.picture_ui(KEY, source, options)
    if picture is None:
        return None
    return InputImage(torch.from_numpy(to_chw(picture.image)), picture.caption, picture.key)


def seen(subject: Subject, inp: InputImage) -> np.ndarray:
    """The input as the network sees it, before normalisation: ``(h, w)`` or ``(h, w, 3)`` in [0, 1]."""
    return to_hwc(adapt_batch(inp.image[None], subject.input_shape, None)[0].numpy())


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
        # the One-shot lab's identities keep their base set's validation images whole (engine/faces/embed.py)
        return _load_validation(subject.dataset.removesuffix("_identities"), subject.data_seed), ""
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
    true = val.classes[int(val.labels[i])] if val.targets.kind == ClassIds.kind else None  # boxes, points: no class
    return InputImage(val.images[i], f"validation sample {i} of {subject.dataset}"
                      + (f" (class {true})" if true is not None else ""),
                      f"sample:{subject.dataset}:{subject.data_seed}:{i}", true)
