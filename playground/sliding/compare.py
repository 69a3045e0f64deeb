"""The first tab: the loop over windows against the convolutional form — window size and stride, both score maps,
their forward passes and times, the speed-up, whether the maps agree and why (not), and the windows found."""

from __future__ import annotations

import streamlit as st
import torch

from engine.detection.compare import Comparison, compare
from engine.detection.search import detections, foreground
from engine.detection.sliding import ScoreMap, conv_stride, convolutional_windows, trunk_stride, window_count
from engine.units import format_seconds, plural
from playground.figures.primitives import plotly_config
from playground.figures.sliding import FOUND, TRUTH, BoxGroup, picture_with_boxes, score_maps
from playground.sliding import conversion, picture
from playground.sliding.classifier import Classifier
from playground.sliding.results import kept

MAX_WINDOWS = 40_000  # the loop classifies each window: beyond this, ask for a larger stride
BEST = "best class"  # the map view: the best class but the background


def tab(clf: Classifier | None) -> None:
    pic = picture.search_ui()
    if pic is None:
        return
    if clf is None:
        st.info("Choose or train a classifier above to slide it over this image.", icon=":material/info:")
        st.image(pic.rgb, caption=pic.caption)
        return
    window, stride = _window_ui(clf, pic)
    h, w = pic.image.shape[1:]
    if window > min(h, w):
        st.warning(f"A window of {window} px does not fit the {w}×{h} image; choose at most {min(h, w)}.")
        return
    n = window_count(h, window, stride) * window_count(w, window, stride)
    if n > MAX_WINDOWS:
        st.warning(f"{n:,} windows would each be classified alone; take a stride of at least "
                   f"{_stride_for(h, w, window)} px (at most {MAX_WINDOWS:,} windows).")
        return
    t = clf.trained
    c = kept(("compare", clf.token, pic.key, window, stride),
             lambda: compare(t.model, pic.image, window, stride, t.stats, t.input_shape),
             spinner=f"Classifying {n:,} windows one by one, then all at once…")
    _numbers(c)
    view = st.selectbox("Map shows", [BEST, *clf.classes], key="_w_sw_view", persist_state="session",
                        help="The best probability of any class but the background, or one class's probability, in "
                             "each window.")
    left, right = st.columns([1, 1], gap="medium")
    with right:
        maps = [(f"loop: {c.loop.shape[0]}×{c.loop.shape[1]} windows, {c.loop.stride:g} px apart", c.loop)]
        if c.conv is not None:
            maps.append((f"convolutional: {c.conv.shape[0]}×{c.conv.shape[1]}, {c.conv.stride:g} px apart", c.conv))
        z = [(title, _view(m, view, clf).numpy()) for title, m in maps]
        st.plotly_chart(score_maps(z), width="stretch", config=plotly_config(), key="sw_maps")
    with left:
        _found_ui(clf, pic, c, window)
    _agreement_ui(c, clf, window)
    conversion.conversion_ui(clf, c, tuple(pic.image.shape[1:]))


def _window_ui(clf: Classifier, pic: picture.Search) -> tuple[int, int]:
    _, n, _ = clf.trained.input_shape
    side = min(pic.image.shape[1:])
    sizes = sorted({s for s in (n // 2, 3 * n // 4, n, 5 * n // 4, 3 * n // 2, 2 * n, 5 * n // 2, 3 * n) if s >= 8})
    sizes = [s for s in sizes if s <= side] or [min(sizes)]
    try:
        ts = trunk_stride(clf.trained.model.spec)
    except ValueError:
        ts = max(1, n // 8)
    if st.session_state.get("_w_sw_window") not in sizes:
        st.session_state["_w_sw_window"] = n if n in sizes else sizes[0]

    def exact() -> None:
        st.session_state["_w_sw_window"], st.session_state["_w_sw_stride"] = n, min(ts, 32)

    a, b, c = st.columns([3, 3, 2], vertical_alignment="bottom")
    window = a.select_slider("Window size (px)", sizes, key="_w_sw_window",
                             help=f"Each window is cropped and resized to the classifier's {n}×{n} input.")
    stride = b.slider("Stride (px)", 1, 32, min(ts, 32), key="_w_sw_stride", persist_state="session",
                      help="How far apart the loop's windows are. The convolutional form's are its trunk's stride "
                           f"apart ({ts} px for a {n}-px window), whatever this says.")
    c.button("Exact setting", key="_w_sw_exact", on_click=exact, disabled=n not in sizes, width="stretch",
             help=f"Window = the classifier's input ({n} px), stride = its trunk's stride ({ts} px): the two maps "
                  f"are then the same.")
    return int(window), int(stride)


def _stride_for(h: int, w: int, window: int) -> int:
    s = 1
    while window_count(h, window, s) * window_count(w, window, s) > MAX_WINDOWS:
        s += 1
    return s


def _view(m: ScoreMap, view: str, clf: Classifier) -> torch.Tensor:
    if view == BEST:
        return foreground(m.probs, clf.background)[0]
    return m.probs[..., clf.classes.index(view)]


def _numbers(c: Comparison) -> None:
    cols = st.columns(4)
    cols[0].metric("Loop: forward passes", f"{c.loop.passes:,}", help="One per window (batched, 256 at a time).")
    cols[0].caption(f"{format_seconds(c.loop.seconds)} in all")
    if c.conv is None:
        cols[1].metric("Convolutional form", "—")
        st.warning(f"This classifier has no convolutional form: {c.conv_error}.", icon=":material/block:")
        return
    cols[1].metric("Convolutional: forward passes", "1")
    cols[1].caption(f"{format_seconds(c.conv.seconds)} for {plural(c.conv.shape[0] * c.conv.shape[1], 'window')}")
    cols[2].metric("Speed-up", f"{c.speedup:,.1f}×", help="The loop's time over the convolutional form's, each the "
                   "best of up to three runs on this server's CPU.")
    a = c.agreement
    cols[3].metric("Largest difference", "—" if a.max_difference is None else f"{a.max_difference:.1e}",
                   help="The largest difference of any class probability on the windows both computed.")
    cols[3].caption("the maps are equal" if c.exact else
                    f"on {plural(a.compared, 'window')}" if a.compared else "no window in common")


def _found_ui(clf: Classifier, pic: picture.Search, c: Comparison, window: int) -> None:
    a, b, d = st.columns([2, 2, 3], vertical_alignment="center")
    threshold = a.slider("Threshold", 0.05, 1.0, 0.8, 0.05, key="_w_sw_threshold", persist_state="session",
                         help="A window is a candidate when the probability of its best class (the background "
                              "aside) is at least this.")
    iou = b.slider("NMS IoU", 0.05, 1.0, 0.1, 0.05, key="_w_sw_iou", persist_state="session",
                   help="Of candidates that overlap by more than this IoU only the most probable is kept "
                        "(non-maximum suppression, torchvision.ops.nms).")
    more = d.toggle("Larger windows", key="_w_sw_more", value=True, persist_state="session",
                    disabled=c.network is None,
                    help="Also slide windows 1.5 and 2 times as large (in convolutional form: the image shrunk) and "
                         "merge all: larger shapes are framed by larger windows.")
    maps = [c.loop]
    if more and c.network is not None:
        h, w = pic.image.shape[1:]
        t = clf.trained
        for size in (round(window * 1.5), window * 2):
            if size <= min(h, w):
                maps.append(kept(("conv", clf.token, pic.key, size), lambda s=size: convolutional_windows(
                    c.network, pic.image, s, t.stats, t.input_shape)))
    found = detections(maps, threshold, iou, clf.background, clf.fill)
    names = [clf.classes[k] for k in found.labels.tolist()]
    groups = []
    if pic.boxes is not None:
        groups.append(BoxGroup(pic.boxes.tolist(), None, TRUTH, "true boxes", dash="dot"))
    groups.append(BoxGroup(found.boxes.tolist(), [f"{n} {p:.2f}" for n, p in zip(names, found.scores.tolist(),
                                                                                 strict=True)], FOUND, "found"))
    st.plotly_chart(picture_with_boxes(pic.rgb, groups), width="stretch", config=plotly_config(), key="sw_found")
    sizes = ", ".join(f"{m.window:g}" for m in maps)
    text = (f"{plural(found.candidates, 'window')} of {sizes} px at or above {threshold:g}, "
            f"{plural(len(found), 'box', 'boxes')} after non-maximum suppression")
    m = picture.matched(pic, found, clf.classes)
    if m is not None:
        text += f"; **found {m.found} of {plural(m.objects, 'shape')}** (right class, IoU ≥ 0.5), {m.extra} other"
    st.caption(f"{pic.caption}. {text}. " + ("Each box is the window's central "
               f"{clf.fill:.0%}: the part of a window the window classifier's shapes fill." if clf.fill < 1 else
               "Each box is a whole window: a classifier says what, not exactly where."))


def _agreement_ui(c: Comparison, clf: Classifier, window: int) -> None:
    if c.conv is None:
        return
    n = clf.trained.input_shape[1]
    a = c.agreement
    if c.exact:
        st.success(f"Equal: the convolutional form computed every one of the loop's {plural(a.compared, 'window')} "
                   f"in one pass, to float rounding (largest difference {a.max_difference:.1e}).",
                   icon=":material/check_circle:")
    elif a.compared:
        st.info(f"Compared on {a.note}: largest difference {a.max_difference:.2g}.", icon=":material/info:")
    else:
        st.info(f"Not compared: {a.note}.", icon=":material/info:")
    with st.expander("When are the two maps equal, and why do they differ otherwise?", expanded=not c.exact):
        st.markdown(
            f"The convolutional form computes, at every position of its output, exactly what the classifier computes "
            f"on one {n}×{n} window — when nothing in the trunk reaches past a window's edge (**no padding**, no "
            f"pooling that rounds up), the windows are **{n} px** (the classifier's input) and the loop's windows "
            f"lie on its grid, **{trunk_stride(clf.trained.model.spec)} px** apart (the product of the trunk's "
            f"strides). Any other window size is had by resizing the whole image by {n}/window first: the "
            f"convolutional form's windows are then {conv_stride(clf.trained.model.spec, window):g} px apart here.")
        for reason in c.reasons:
            st.markdown(f"- Here, {reason}.")
        if a.step and a.step > 1:
            st.markdown(f"- The loop's stride is {a.step} times the convolutional form's: it computes every "
                        f"{a.step}th of its windows each way, and those are compared.")
