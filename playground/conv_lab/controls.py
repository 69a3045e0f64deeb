"""Controls the convolution lab's tabs share: the padding choice, editable grids of numbers and their reset.

Sliders and choices keep their values with ``persist_state="session"``: the lab's tabs run lazily (only the open one is
drawn), and a student who visits another page finds the lab as it was. Data editors cannot do that, so their content
lives under durable keys of ``playground.state`` (the user's grid, filter and filter bank); a reset bumps
``state.CONV_EDIT_VERSION``, which is part of every editor's key, so the editors start fresh.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from engine.conv.arithmetic import same_padding
from playground import state

PERSIST = "session"


def version() -> int:
    return int(state.get(state.CONV_EDIT_VERSION, 0))


def bump_version(*reset: str) -> None:
    """on_click of a reset: forget the durable values ``reset`` and start the editors fresh."""
    for key in reset:
        state.put(key, None)
    state.put(state.CONV_EDIT_VERSION, version() + 1)


def resized(old: np.ndarray | None, fresh: np.ndarray) -> np.ndarray:
    """``fresh`` with the top-left overlap of ``old`` copied in (so growing a grid keeps what was typed)."""
    if old is None:
        return fresh
    out = fresh.astype(np.float64).copy()
    h, w = min(old.shape[0], out.shape[0]), min(old.shape[1], out.shape[1])
    out[:h, :w] = old[:h, :w]
    return out


def number_grid(key: str, values: np.ndarray) -> np.ndarray:
    """An editable grid of numbers (rows and columns numbered from 0); empty cells count as 0."""
    cols = [str(j) for j in range(values.shape[1])]
    config = {c: st.column_config.NumberColumn(c, format="%g", width=46, required=True) for c in cols}
    edited = st.data_editor(pd.DataFrame(values, columns=cols), key=key, column_config=config, hide_index=False,
                            width="content")
    return np.nan_to_num(edited.to_numpy(dtype=np.float64))


def padding_ui(prefix: str, where: Any, where_p: Any) -> int | str:
    """valid, same or a custom p (the number input goes in ``where_p``)."""
    mode = where.segmented_control(
        "padding", ["valid", "same", "custom"], default="valid", required=True, key=f"{prefix}pad",
        persist_state=PERSIST,
        help="valid: no padding, the output shrinks. same: enough zeros around the input that the output has ⌈n/s⌉ "
             "cells (at stride 1: the input's size). custom: choose p, zeros on every side.",
    )
    if mode != "custom":
        return mode
    p = where_p.number_input("p", 0, 20, 1, key=f"{prefix}p", persist_state=PERSIST,
                             help="Zeros added on every side of the input.")
    return int(p)


def padding_text(padding: int | str, f: int, d: int = 1, n: int | None = None, s: int = 1) -> str:
    """How the padding reads in a formula's caption: "valid (p = 0)", "same (p = 1)", "p = 2"."""
    if padding == "same":
        left, right = same_padding(f, d, n, s)
        return f"same (p = {left})" if left == right else f"same ({left} before, {right} after)"
    return "valid (p = 0)" if padding == "valid" else f"p = {padding}"
