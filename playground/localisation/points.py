"""Landmark targets (course notes 1.3.2), hands on: a face of the set with its five points in their fixed order, the
y they make, (l1_x, l1_y, l2_x, …) as fractions of the side (``engine.detection.target.encode_points``); then a
prediction the user moves point by point, each point's squared error (``point_terms``), the loss and the normalised
error — and what swapping two points does to them."""

from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from engine.detection import target as T
from playground import state
from playground.figures import detection as figs
from playground.figures.primitives import plotly_config
from playground.localisation.picker import index_ui, pick_set

K = "_w_loc_pts_"  # widget keys of this editor start so
START_OFFSET = (2.0, 1.5)  # pixels: the prediction starts this far off the true points, so its loss is not zero


def _points() -> np.ndarray:
    return state.get(state.LOC_POINTS)


def _show_point(k: int | None = None) -> None:
    """Fill the x and y sliders from the chosen point's position."""
    names = st.session_state.get(K + "names", [])
    k = names.index(st.session_state[K + "which"]) if k is None else k
    x, y = _points()[k]
    st.session_state[K + "x"], st.session_state[K + "y"] = float(x), float(y)


def _move() -> None:
    k = st.session_state[K + "names"].index(st.session_state[K + "which"])
    _points()[k] = (st.session_state[K + "x"], st.session_state[K + "y"])


def _reset(true: np.ndarray, offset: tuple[float, float] = START_OFFSET) -> None:
    state.put(state.LOC_POINTS, (true + np.asarray(offset, np.float32)).astype(np.float32))
    if K + "which" in st.session_state:
        _show_point()


def _swap(a: int, b: int) -> None:
    p = _points()
    p[[a, b]] = p[[b, a]]
    _show_point()


def points_target_ui(seed: int) -> None:
    picked = pick_set("faces", seed)
    train = picked.data.train
    names, size = train.classes, int(train.images.shape[-1])
    st.session_state[K + "names"] = list(names)
    left, right = st.columns([2, 3], gap="large")
    with left:
        i = index_ui("Face", len(train), K + "index")
        true = train.targets.points[i].numpy()  # (5, 2) pixels
        seeded = state.get(state.LOC_SEEDED, {})
        if seeded.get("points") != ("faces", seed, i) or state.get(state.LOC_POINTS) is None:
            _reset(true)
            seeded["points"] = ("faces", seed, i)
        st.markdown("**Move the prediction's points**")
        if K + "which" not in st.session_state:
            st.session_state[K + "which"] = names[0]
            _show_point(0)
        st.selectbox("point", names, key=K + "which", on_change=_show_point,
                     format_func=lambda n: f"l{names.index(n) + 1}: {n}")
        st.slider("its x (pixels)", 0.0, float(size), key=K + "x", step=0.5, on_change=_move)
        st.slider("its y (pixels)", 0.0, float(size), key=K + "y", step=0.5, on_change=_move)
        a, b = st.columns(2)
        a.button("Swap the eyes", key=K + "swap", icon=":material/swap_horiz:", on_click=_swap, args=(0, 1),
                 width="stretch", help="The same positions, the labels of l1 and l2 exchanged: the order matters.")
        b.button("Reset ŷ", key=K + "reset", icon=":material/restart_alt:", on_click=_reset, args=(true,),
                 width="stretch", help="Put the prediction back near the true points (each 2 px right, 1.5 px down).")
    pred = _points()
    y = T.encode_points(torch.from_numpy(true)[None], size)  # (1, 10)
    y_hat = T.encode_points(torch.from_numpy(pred)[None], size)
    terms = T.point_terms(y_hat.reshape(1, -1, 2), y.reshape(1, -1, 2))[0]  # (5,)
    nme = float(T.point_error(torch.from_numpy(pred)[None], torch.from_numpy(true)[None])[0])
    with right:
        marks = [figs.Marks("y: the true points", figs.TRUE_COLOR, points=true[None]),
                 figs.Marks("ŷ: your prediction", figs.PRED_COLOR, points=pred[None], symbol="x")]
        st.plotly_chart(figs.image_marks(train.images[i : i + 1].numpy(), marks, [f"face {i}"], zoom=7, axes=True,
                                         names=names), width="content", config=plotly_config(), key="loc_pts_face")
        cols = st.columns(2)
        cols[0].metric("loss (mean squared error per point)", f"{float(terms.mean()):.5f}")
        cols[1].metric("normalised error", f"{nme:.3f}", help="The mean distance between your points and the true "
                       "ones over the distance between the eyes: the landmark task's metric.")
    st.dataframe(figs.points_table(names, y[0].tolist(), y_hat[0].tolist(), terms.tolist()), hide_index=True,
                 key="loc_pts_table", column_config={c: st.column_config.NumberColumn(format="%.4f")
                                                     for c in ("l_x", "l_y", "l̂_x", "l̂_y")} | {
                     "squared error": st.column_config.NumberColumn(format="%.5f")})
    st.caption(f"y = (l1_x, l1_y, l2_x, l2_y, …): each point as a fraction of the {size}-pixel side, always in this "
               f"order — output 1 and 2 are the left eye's x and y in every image. Swap two points and the loss "
               f"jumps although the same positions are predicted.")
