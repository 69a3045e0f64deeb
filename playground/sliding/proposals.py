"""The region-proposals tab (R-CNN): Felzenszwalb's segmentation of the image, the boxes of the regions a
selective-search hierarchy forms from it, the classifier run on each, and the classifier calls this takes against
sliding windows over the same image."""

from __future__ import annotations

import numpy as np
import streamlit as st

from engine.detection.proposals import Proposals, propose
from engine.detection.search import classify_boxes, proposal_detections, sliding_calls, smallest_first
from engine.detection.sliding import conv_stride
from engine.units import plural
from playground.figures.primitives import plotly_config
from playground.figures.sliding import FOUND, TRUTH, WINDOW, BoxGroup, picture_with_boxes, segments_picture
from playground.sliding import picture
from playground.sliding.classifier import Classifier
from playground.sliding.results import kept

ORDERS = {"smallest first": "size", "in the order they formed": "level"}


@st.cache_data(max_entries=16, show_spinner="Segmenting and merging regions…")
def _propose(key: str, _rgb: np.ndarray, scale: float, sigma: float, min_size: int) -> Proposals:
    return propose(_rgb, scale, sigma, min_size)


def tab(clf: Classifier | None) -> None:
    pic = picture.search_ui()
    if pic is None:
        return
    a, b, c = st.columns(3)
    scale = a.slider("Felzenszwalb scale", 10, 1000, 100, 10, key="_w_rp_scale", persist_state="session",
                     help="Larger: fewer, larger segments.")
    sigma = b.slider("Smoothing σ", 0.0, 2.0, 0.8, 0.1, key="_w_rp_sigma", persist_state="session",
                     help="Gaussian blur before segmenting.")
    min_size = c.slider("Smallest segment (px)", 5, 500, 30, 5, key="_w_rp_min_size", persist_state="session")
    p = _propose(pic.key, pic.rgb, float(scale), float(sigma), int(min_size))
    total = len(p.boxes)
    if total == 0:
        st.warning("No region is large enough to propose: lower the smallest segment.")
        return
    order = st.radio("Draw", list(ORDERS), horizontal=True, key="_w_rp_order", persist_state="session")
    shown = st.slider("Proposals drawn", 1, total, min(total, 30), key=f"_w_rp_shown_{total}")
    boxes = smallest_first(p.boxes) if ORDERS[order] == "size" else p.boxes
    left, right = st.columns(2, gap="medium")
    with left:
        st.image(segments_picture(p.segments), caption=f"{plural(int(p.segments.max()) + 1, 'segment')} "
                 f"(Felzenszwalb & Huttenlocher)", width="stretch")
    with right:
        group = BoxGroup(boxes[:shown].tolist(), None, WINDOW, f"{shown} of {total} proposals", width=1.5)
        st.plotly_chart(picture_with_boxes(pic.rgb, [group]), width="stretch", config=plotly_config(), key="rp_boxes")
    st.caption(f"{plural(total, 'proposal')}: the box of every segment, then of every region formed by merging the two "
               f"most similar neighbours (colour, size, how well they fill their joint box), up to the whole image.")
    if clf is None:
        st.info("Choose or train a classifier above to classify each proposal.", icon=":material/info:")
        return
    _classified_ui(clf, pic, p)


def _classified_ui(clf: Classifier, pic: picture.Search, p: Proposals) -> None:
    st.subheader("The classifier on each proposal", divider="gray")
    t = clf.trained
    probs = kept(("proposals", clf.token, pic.key, tuple(p.boxes.flatten().tolist())),
                 lambda: classify_boxes(t.model, pic.image, p.boxes, t.stats, t.input_shape),
                 spinner="Classifying each proposal…")
    a, b = st.columns(2)
    threshold = a.slider("Threshold", 0.05, 1.0, 0.8, 0.05, key="_w_rp_threshold", persist_state="session")
    iou = b.slider("NMS IoU", 0.05, 1.0, 0.3, 0.05, key="_w_rp_iou", persist_state="session")
    found = proposal_detections(p.boxes, probs, threshold, iou, clf.background)
    names = [clf.classes[k] for k in found.labels.tolist()]
    groups = [BoxGroup(pic.boxes.tolist(), None, TRUTH, "true boxes", dash="dot")] if pic.boxes is not None else []
    groups.append(BoxGroup(found.boxes.tolist(), [f"{n} {s:.2f}" for n, s in zip(names, found.scores.tolist(),
                                                                                 strict=True)], FOUND, "found"))
    left, right = st.columns(2, gap="medium")
    with left:
        st.plotly_chart(picture_with_boxes(pic.rgb, groups), width="stretch", config=plotly_config(), key="rp_found")
        text = (f"{plural(len(p.boxes), 'classifier call')}: {found.candidates} proposals at or above "
                f"{threshold:g}, {plural(len(found), 'box', 'boxes')} after non-maximum suppression")
        m = picture.matched(pic, found, clf.classes)
        if m is not None:
            text += f"; **found {m.found} of {plural(m.objects, 'shape')}**, {m.extra} other"
        st.caption(text + ". Each proposal is cropped as a square around its box, with a quarter more around it, and "
                          "resized to the classifier's input.")
    with right:
        _calls_ui(clf, pic, len(p.boxes))


def _calls_ui(clf: Classifier, pic: picture.Search, proposals: int) -> None:
    spec = clf.trained.model.spec
    n = clf.trained.input_shape[1]
    h, w = pic.image.shape[1:]
    sizes = [s for s in (n, 3 * n // 2, 2 * n, 3 * n) if s <= min(h, w)]
    try:
        strides = [max(1, round(conv_stride(spec, s))) for s in sizes]
        how = "the convolutional form's stride at each size"
    except ValueError:
        strides = [max(1, s // 8) for s in sizes]
        how = "an eighth of the window"
    calls = sliding_calls(h, w, sizes, strides)
    rows = [{"way": f"sliding windows of {c.window} px, {c.stride} px apart", "classifier calls": f"{c.calls:,}"}
            for c in calls]
    rows.append({"way": f"sliding windows, these {len(calls)} sizes", "classifier calls":
                 f"{sum(c.calls for c in calls):,}"})
    rows.append({"way": "region proposals", "classifier calls": f"{proposals:,}"})
    st.dataframe(rows, hide_index=True, width="stretch")
    total = sum(c.calls for c in calls)
    st.caption(f"Strides: {how}. The proposals ask the classifier {total / max(proposals, 1):,.0f} times less often "
               f"than sliding windows at these sizes — R-CNN's point; its cost moved into the segmentation, and Fast "
               f"and Faster R-CNN then shared the convolutions, as the convolutional form does.")
