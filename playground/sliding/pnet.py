"""The P-Net tab: MTCNN's first stage, a real sliding-window face detector in convolutional form, on a photo (the
astronaut by default), an upload or a webcam snapshot — every pyramid level's face-probability map, the candidate
boxes after non-maximum suppression, and how many 12×12 windows it classified."""

from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from engine.detection.pnet import CELL, STRIDE, Detections, PNet, detect, load_pnet
from engine.detection.search import search_image
from playground.figures.primitives import plotly_config
from playground.figures.sliding import FOUND, BoxGroup, picture_with_boxes, small_multiples
from playground.widgets import image_source

KEY = "slide_pnet"
MAX_SIDE = 640  # P-Net is tiny: a photo up to this size is searched whole in well under a second
MAX_LEVELS = 8  # drawn as small multiples
LABELLED = 12  # the most probable candidates get their probability written on them; the rest would hide the photo


@st.cache_resource(show_spinner="Loading P-Net's weights…")
def _pnet() -> PNet:
    """P-Net with its published weights, in eval mode: read-only, shared by every session."""
    return load_pnet()


@st.cache_data(max_entries=16, show_spinner="Running P-Net over the image pyramid…")
def _detect(key: str, _image: torch.Tensor, threshold: float, min_face: int, factor: float, iou: float) -> Detections:
    return detect(_pnet(), _image, threshold, min_face, factor, iou)


@st.cache_data(max_entries=16, show_spinner=False)
def _shrunk(key: str, _picture: np.ndarray) -> torch.Tensor:
    return search_image(_picture, MAX_SIDE)


def tab() -> None:
    source = image_source.source_ui(KEY, default="photo", label="Photo")
    picture = image_source.picture_ui(KEY, source, image_source.Options(square=False, photo="astronaut"))
    if picture is None:
        return
    image = _shrunk(picture.key, picture.image)
    a, b, c, d = st.columns(4)
    threshold = a.slider("Face probability ≥", 0.05, 1.0, 0.6, 0.05, key="_w_pn_threshold", persist_state="session")
    iou = b.slider("NMS IoU", 0.05, 1.0, 0.5, 0.05, key="_w_pn_iou", persist_state="session",
                   help="Within a level, then across levels (at 0.7, as MTCNN does).")
    min_face = c.slider("Smallest face (px)", CELL, 200, 40, key="_w_pn_min_face", persist_state="session",
                        help="The first level shrinks the image so that a face this size becomes P-Net's 12×12.")
    factor = d.slider("Pyramid factor", 0.5, 0.9, 0.709, 0.01, key="_w_pn_factor", persist_state="session",
                      help="Each level is this much smaller than the one before.")
    try:
        found = _detect(picture.key, image, threshold, int(min_face), float(factor), iou)
    except FileNotFoundError as e:
        st.error(str(e))
        return
    h, w = image.shape[1:]
    cols = st.columns(4)
    cols[0].metric("Pyramid levels", len(found.levels))
    cols[1].metric("12×12 windows classified", f"{found.windows:,}")
    cols[2].metric("Face boxes", len(found.boxes))
    cols[3].metric("Forward passes", len(found.levels), help="One per level, over the whole resized image.")
    left, right = st.columns([1, 1], gap="medium")
    with left:
        rgb = image.permute(1, 2, 0).contiguous().numpy()
        texts = [f"{s:.2f}" if k < LABELLED else "" for k, s in enumerate(found.scores.tolist())]
        group = BoxGroup(found.boxes.tolist(), texts, FOUND, "face candidates")
        st.plotly_chart(picture_with_boxes(rgb, [group]), width="stretch", config=plotly_config(), key="pn_boxes")
        labelled = f"; the {LABELLED} most probable are labelled" if len(found.boxes) > LABELLED else ""
        st.caption(f"{picture.caption} ({w}×{h}). Candidates after non-maximum suppression{labelled} — P-Net's job "
                   f"in MTCNN is to propose, the next two networks check and refine.")
    with right:
        levels = found.levels[:MAX_LEVELS]
        maps = [(f"×{lv.scale:.2f}: {lv.probs.shape[0]}×{lv.probs.shape[1]}", lv.probs.numpy()) for lv in levels]
        st.plotly_chart(small_multiples(maps, cols=min(4, len(maps))), width="stretch", config=plotly_config(),
                        key="pn_levels")
        more = len(found.levels) - len(levels)
        st.caption(f"The face probability of every {CELL}×{CELL} window, {STRIDE} px apart, at each level (the "
                   f"image's scale)" + (f"; {more} smaller levels not drawn." if more else "."))
    st.markdown(
        f"**Why this is sliding windows in convolutional form.** P-Net was trained to classify {CELL}×{CELL} crops "
        f"(face or not, and where the face's box lies in the crop). It has no fully connected layer — its last layers "
        f"are 1×1 convolutions — so run on a whole image it classifies every {CELL}×{CELL} window at once, {STRIDE} px "
        f"apart (its one 2×2 pooling): {found.windows:,} windows in {len(found.levels)} forward passes instead of one "
        f"pass each. Larger faces are found the way the course says: larger windows, had here by shrinking the image "
        f"(a pyramid) under the same {CELL}×{CELL} window.")
