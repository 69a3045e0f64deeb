"""Widgets of the convolution lab (pages/conv_lab.py). Each ``*_ui()`` draws its widgets and returns plain values.

Sliders and choices keep their values with ``persist_state="session"``: the lab's tabs run lazily (only the open one is
drawn), and a student who visits another page finds the lab as it was. Data editors and the uploader cannot do that,
so their content lives under durable keys of ``playground.state`` (the user's grid, filter and filter bank, the upload).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from engine.conv.arithmetic import same_padding
from engine.conv.filters import FILTERS, example_image, make_filter, random_filter
from engine.media.images import SAMPLE_IMAGES, decode_upload, resize_square, to_gray, to_rgb
from playground import state

PERSIST = "session"
TICK_S = 0.6  # seconds between two frames of "Play"
PLAY_FRAMES = 120  # a play sweeps the whole output in at most this many frames (bigger outputs move faster)
SOURCES = {
    "example": "course example",
    "grid": "your numbers",
    "photo": "photo",
    "upload": "upload",
}
UPLOAD_TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff"]
CUSTOM = "custom (edit the numbers)"
CHANNEL_CHOICES = ["all", "R", "G", "B"]
_BANK_DEFAULT = [
    ("vertical edge", "all"), ("horizontal edge", "all"), ("sobel x", "R"), ("sobel y", "G"), ("laplacian", "B"),
    ("box blur", "all"), ("sharpen", "all"), ("random", "all"), ("random", "R"), ("random", "B"),
]


# --------------------------------------------------------------------------------------------------- cached work


@st.cache_data(max_entries=64, show_spinner=False)
def photo(name: str, n: int, gray: bool) -> np.ndarray:
    """A bundled photo at n×n: float32 [0, 1], (n, n) or (n, n, 3). Shared by sessions (it is pure)."""
    from engine.media.images import sample_image

    return sample_image(name, n, gray)


@st.cache_data(max_entries=8, show_spinner=False)
def upload_image(data: bytes, n: int, gray: bool) -> np.ndarray:
    """An uploaded file decoded safely (size-capped, see ``engine.media.images.decode_upload``) and resized to n×n.
    Raises ValueError with a message for the user when the file is not a usable image."""
    return resize_square(decode_upload(data, gray=gray), n)


# --------------------------------------------------------------------------------------------------- input


@dataclass(frozen=True)
class LabInput:
    """The image every tab works on."""

    image: np.ndarray  # (n, n) gray or (n, n, 3) colour, float32
    rgb: np.ndarray  # (n, n, 3): the same image in colour, for the volume tab
    label: str  # what it is, for captions
    distinct_channels: bool  # False when R, G and B are equal (a gray source)

    @property
    def n(self) -> int:
        return int(self.image.shape[0])

    @property
    def is_rgb(self) -> bool:
        return self.image.ndim == 3


def input_ui() -> LabInput | None:
    """Choose the input: the course's 6×6 example, an editable grid of numbers, a bundled photo or an upload; its
    size n and, for pictures, gray or colour. None (with the reason shown) when an upload can't be used."""
    top = st.columns([6, 3, 2.2, 1.8], vertical_alignment="bottom")
    source = top[0].segmented_control(
        "Input", list(SOURCES), format_func=SOURCES.get, default="example", required=True, key="_w_cl_source",
        persist_state=PERSIST, help="The course's picture of an edge (bright left half, dark right half), a grid of "
                                    "numbers you type, a bundled photo, or an image file of your own.",
    )
    if source == "example":
        n = top[1].slider("size n", 4, 16, 6, key="_w_cl_n_example", persist_state=PERSIST)
        img = example_image(n).astype(np.float32)
        return LabInput(img, to_rgb(img), f"the course's {n}×{n} example", False)
    if source == "grid":
        n = top[1].slider("size n", 2, 16, 6, key="_w_cl_n_grid", persist_state=PERSIST)
        img = _grid_ui(n).astype(np.float32)
        return LabInput(img, to_rgb(img), f"your {n}×{n} grid", False)
    n = top[2].slider("size n", 8, 128, 64, key="_w_cl_n_photo", persist_state=PERSIST,
                      help="The picture is cropped to a square and resized to n×n.")
    colour = top[3].segmented_control("colour", ["gray", "RGB"], default="gray", required=True, key="_w_cl_colour",
                                      persist_state=PERSIST, help="Gray: one channel. RGB: three, and the filter "
                                                                  "becomes f×f×3.")
    gray = colour == "gray"
    if source == "photo":
        name = top[1].selectbox("photo", list(SAMPLE_IMAGES), key="_w_cl_photo", persist_state=PERSIST,
                                format_func=lambda k: f"{k} — {SAMPLE_IMAGES[k]}")
        rgb = photo(name, n, False)
        distinct = not np.allclose(rgb[..., 0], rgb[..., 1]) or not np.allclose(rgb[..., 1], rgb[..., 2])
        return LabInput(photo(name, n, True) if gray else rgb, rgb, f"the {name} photo at {n}×{n}", distinct)
    return _upload_ui(top[1], n, gray)


def _upload_ui(where: Any, n: int, gray: bool) -> LabInput | None:
    where.file_uploader("image file", type=UPLOAD_TYPES, key="_w_cl_upload", on_change=_keep_upload,
                        help="PNG, JPEG, GIF, BMP, WebP or TIFF, up to 20 MB and 25 megapixels.")
    kept = state.get(state.CONV_UPLOAD)
    if kept is None:
        st.info("Upload an image to convolve it (it stays on this server, in your session only).")
        return None
    name, data = kept
    try:
        rgb = upload_image(data, n, False)
        img = upload_image(data, n, True) if gray else rgb
    except ValueError as e:
        st.error(f"**{name}** can't be used: {e}")
        return None
    distinct = not np.allclose(rgb[..., 0], rgb[..., 1]) or not np.allclose(rgb[..., 1], rgb[..., 2])
    return LabInput(img, rgb, f"{name} at {n}×{n}", distinct)


def _keep_upload() -> None:
    """The uploader changed: keep its file (or its removal) where a page switch won't drop it."""
    f = st.session_state.get("_w_cl_upload")
    state.put(state.CONV_UPLOAD, None if f is None else (f.name, f.getvalue()))


def _version() -> int:
    return int(state.get(state.CONV_EDIT_VERSION, 0))


def _bump_version(*reset: str) -> None:
    for key in reset:
        state.put(key, None)
    state.put(state.CONV_EDIT_VERSION, _version() + 1)


def _resized(old: np.ndarray | None, fresh: np.ndarray) -> np.ndarray:
    """``fresh`` with the top-left overlap of ``old`` copied in (so growing a grid keeps what was typed)."""
    if old is None:
        return fresh
    out = fresh.astype(np.float64).copy()
    h, w = min(old.shape[0], out.shape[0]), min(old.shape[1], out.shape[1])
    out[:h, :w] = old[:h, :w]
    return out


def _number_grid(key: str, values: np.ndarray) -> np.ndarray:
    """An editable grid of numbers (rows and columns numbered from 0); empty cells count as 0."""
    cols = [str(j) for j in range(values.shape[1])]
    config = {c: st.column_config.NumberColumn(c, format="%g", width=46, required=True) for c in cols}
    edited = st.data_editor(pd.DataFrame(values, columns=cols), key=key, column_config=config, hide_index=False,
                            width="content")
    return np.nan_to_num(edited.to_numpy(dtype=np.float64))


def _grid_ui(n: int) -> np.ndarray:
    """The user's own n×n input, kept under ``state.CONV_GRID`` (it starts as the course's example)."""
    grid = state.get(state.CONV_GRID)
    if grid is None or grid.shape != (n, n):
        grid = _resized(grid, example_image(n))
    with st.expander(f"Your {n}×{n} input — click a cell to change it", expanded=True):
        grid = _number_grid(f"_w_cl_grid_{n}_{_version()}", grid)
        st.button("Reset to the course's example", key="_w_cl_grid_reset", on_click=_bump_version,
                  args=(state.CONV_GRID,))
    state.put(state.CONV_GRID, grid)
    return grid


# --------------------------------------------------------------------------------------------------- convolution


@dataclass(frozen=True)
class ConvSettings:
    filter: str  # a name of engine.conv.reference.FILTERS, or CUSTOM
    f: int
    padding: int | str  # p, "valid" or "same"
    stride: int
    dilation: int = 1
    bias: float = 0.0

    def padding_text(self) -> str:
        if self.padding == "same":
            left, right = same_padding(self.f, self.dilation)
            return f"same (p = {left})" if left == right else f"same ({left} before, {right} after)"
        return "valid (p = 0)" if self.padding == "valid" else f"p = {self.padding}"


def _padding_ui(prefix: str, where: Any, where_p: Any) -> int | str:
    mode = where.segmented_control(
        "padding", ["valid", "same", "custom"], default="valid", required=True, key=f"{prefix}pad",
        persist_state=PERSIST, help="valid: no padding, the output shrinks. same: enough zeros around the input to "
                                    "keep its size (stride 1 only). custom: choose p, zeros on every side.",
    )
    if mode != "custom":
        return mode
    p = where_p.number_input("p", 0, 20, 1, key=f"{prefix}p", persist_state=PERSIST,
                             help="Zeros added on every side of the input.")
    return int(p)


def conv_settings_ui() -> ConvSettings:
    """The filter (a preset or your own numbers), its size f, padding, stride and, in 'more', dilation and bias."""
    cols = st.columns([3, 2, 3.3, 1.1, 2, 1.5], vertical_alignment="bottom")
    name = cols[0].selectbox("filter", [*FILTERS, CUSTOM], key="_w_cl_filter", persist_state=PERSIST,
                             help="A classic filter, or a grid of weights you type. In a CNN these numbers are "
                                  "learned.")
    f = cols[1].slider("filter size f", 1, 11, 3, key="_w_cl_f", persist_state=PERSIST)
    padding = _padding_ui("_w_cl_", cols[2], cols[3])
    s = cols[4].slider("stride s", 1, 8, 1, key="_w_cl_s", persist_state=PERSIST,
                       help="How many pixels the window moves between two outputs.")
    with cols[5].popover("more", icon=":material/tune:", width="stretch", help="dilation and bias"):
        d = st.slider("dilation d", 1, 4, 1, key="_w_cl_d", persist_state=PERSIST,
                      help="Spread the filter's taps d pixels apart (an 'à trous' convolution): the filter "
                           "spans d(f − 1) + 1 pixels with the same f·f weights.")
        b = st.number_input("bias b", -100.0, 100.0, 0.0, step=0.5, key="_w_cl_bias", persist_state=PERSIST,
                            help="Added to every output value.")
    return ConvSettings(name, int(f), padding, int(s), int(d), float(b))


def kernel_ui(name: str, f: int) -> np.ndarray:
    """The f×f weights of the chosen filter; an editor for CUSTOM. ValueError (the engine's message) for a preset
    that has no size f."""
    if name == CUSTOM:
        return _kernel_grid_ui(f)
    if name == "random":
        return random_filter(f, seed=int(state.get(state.SEED)))
    return make_filter(name, f)


def filter_about(name: str) -> str:
    """One line on what the filter does."""
    if name == CUSTOM:
        return "Your own weights: type any numbers into the grid."
    text = FILTERS[name].about
    return text + (" Seeded by the sidebar's random seed." if name == "random" else "")


def _kernel_grid_ui(f: int) -> np.ndarray:
    kernel = state.get(state.CONV_KERNEL)
    if kernel is None or kernel.shape != (f, f):
        start = make_filter("vertical edge", f) if f >= 2 else np.ones((1, 1))
        kernel = _resized(kernel, start)
    with st.expander(f"Your {f}×{f} filter — click a weight to change it", expanded=True):
        left, right = st.columns([3, 2], vertical_alignment="bottom")
        with left:
            kernel = _number_grid(f"_w_cl_kernel_{f}_{_version()}", kernel)
        presets = [n for n, spec in FILTERS.items() if spec.allows(f)]
        pick = right.selectbox("start from", presets, key="_w_cl_kernel_from")
        right.button("Copy into the grid", key="_w_cl_kernel_copy", on_click=_copy_preset, args=(pick, f))
    state.put(state.CONV_KERNEL, kernel)
    return kernel


def _copy_preset(name: str, f: int) -> None:
    kernel = random_filter(f, seed=int(state.get(state.SEED))) if name == "random" else make_filter(name, f)
    _bump_version()
    state.put(state.CONV_KERNEL, kernel.astype(np.float64))


# --------------------------------------------------------------------------------------------------- stepping


def is_playing(key: str) -> bool:
    return state.get(state.CONV_PLAYING) == key


def stop_playing() -> None:
    """on_change of the lab's tabs: a step-through that isn't shown stops."""
    state.put(state.CONV_PLAYING, None)


def play_interval(key: str) -> float | None:
    """``run_every`` for the fragment holding the step-through ``key``: ticking while it plays."""
    return TICK_S if is_playing(key) else None


def _move(pos_key: str, delta: int, total: int) -> None:
    state.put(state.CONV_PLAYING, None)
    st.session_state[pos_key] = min(max(int(st.session_state.get(pos_key, 1)) + delta, 1), total)


def stepper_ui(key: str, out_hw: tuple[int, int], what: str = "window") -> tuple[int, int]:
    """Step or play the window across the output, row by row; returns the output position (i, j).

    Call it inside an ``st.fragment(run_every=play_interval(key))``: each tick of a playing fragment moves the window
    on; Play and Stop rerun the whole page so the fragment starts or stops ticking.
    """
    h, w = out_hw
    total = h * w
    pos_key = f"{key}_pos_{h}x{w}"  # a new output size starts again at the top left
    st.session_state.setdefault(pos_key, 1)
    playing = is_playing(key)
    if playing:
        nxt = int(st.session_state[pos_key]) + max(1, -(-total // PLAY_FRAMES))
        st.session_state[pos_key] = min(nxt, total)
        if nxt >= total:
            state.put(state.CONV_PLAYING, None)
    cols = st.columns([1.4, 0.7, 0.7, 9], vertical_alignment="bottom")
    if cols[0].button("Stop" if playing else "Play", key=f"{key}_play", icon=":material/stop:" if playing
                      else ":material/play_arrow:", width="stretch", disabled=total == 1,
                      help=f"Slide the {what} across the input, one output at a time."):
        if not playing and st.session_state[pos_key] >= total:
            st.session_state[pos_key] = 1
        state.put(state.CONV_PLAYING, None if playing else key)
        st.rerun()  # the whole page: the fragment starts (or stops) ticking
    cols[1].button("◀", key=f"{key}_back", on_click=_move, args=(pos_key, -1, total), disabled=total == 1,
                   width="stretch", help="One step back")
    cols[2].button("▶", key=f"{key}_next", on_click=_move, args=(pos_key, 1, total), disabled=total == 1,
                   width="stretch", help="One step on")
    if total > 1:
        pos = cols[3].slider(f"{what} position (1 … {total}, row by row)", 1, total, key=pos_key, persist_state="page")
    else:
        pos = 1
        cols[3].caption(f"The output has a single value: the {what} has one position.")
    return divmod(int(pos) - 1, w)


# --------------------------------------------------------------------------------------------------- one CNN layer


@dataclass(frozen=True)
class LayerSettings:
    f: int
    k: int  # number of filters
    padding: int | str
    stride: int
    relu: bool


def layer_settings_ui() -> LayerSettings:
    cols = st.columns([2, 2, 3.3, 1.1, 2, 1.5], vertical_alignment="bottom")
    f = cols[0].slider("filter size f", 1, 7, 3, key="_w_cl_v_f", persist_state=PERSIST,
                       help="Each filter is f×f×3: as deep as the input.")
    k = cols[1].slider("filters K", 1, 10, 2, key="_w_cl_v_k", persist_state=PERSIST,
                       help="Each filter makes one output channel.")
    padding = _padding_ui("_w_cl_v_", cols[2], cols[3])
    s = cols[4].slider("stride s", 1, 4, 1, key="_w_cl_v_s", persist_state=PERSIST)
    relu = cols[5].toggle("ReLU", True, key="_w_cl_v_relu", persist_state=PERSIST,
                          help="Apply the activation max(0, z) after the bias: the layer's output.")
    return LayerSettings(int(f), int(k), padding, int(s), bool(relu))


def use_course_example() -> None:
    """on_click: the course's layer, 10 filters of 3×3×3."""
    st.session_state["_w_cl_v_f"] = 3
    st.session_state["_w_cl_v_k"] = 10


def _bank_rows() -> list[dict]:
    rows = state.get(state.CONV_BANK)
    if rows is None:
        rows = [{"filter": n, "channels": c, "bias": 0.0} for n, c in _BANK_DEFAULT]
    return rows


def bank_ui(k: int) -> list[dict]:
    """The K filters of the layer, one row each: a preset, on which input channels, and its bias."""
    rows = _bank_rows()
    while len(rows) < k:
        rows = rows + [{"filter": "random", "channels": "all", "bias": 0.0}]
    config = {
        "filter": st.column_config.SelectboxColumn("filter", options=list(FILTERS), required=True, width="medium"),
        "channels": st.column_config.SelectboxColumn(
            "on channels", options=CHANNEL_CHOICES, required=True, width="small",
            help="all: the same f×f weights on R, G and B. R, G or B: on that channel only, zeros on the others.",
        ),
        "bias": st.column_config.NumberColumn("bias b", format="%g", required=True, width="small"),
    }
    df = pd.DataFrame(rows[:k], columns=["filter", "channels", "bias"], index=[f"filter {i + 1}" for i in range(k)])
    edited = st.data_editor(df, key=f"_w_cl_bank_{k}_{_version()}", column_config=config, width="stretch")
    mine = [{"filter": str(r["filter"]), "channels": str(r["channels"]),
             "bias": float(0.0 if pd.isna(r["bias"]) else r["bias"])} for r in edited.to_dict("records")]
    state.put(state.CONV_BANK, mine + rows[k:])
    st.button("Reset the filters", key="_w_cl_bank_reset", on_click=_bump_version, args=(state.CONV_BANK,))
    return mine


def bank_weights(rows: list[dict], f: int, n_c: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """The bank as arrays: weights (K, n_c, f, f) and biases (K,). ValueError naming the filter that has no size f."""
    seed = int(state.get(state.SEED))
    weights = np.zeros((len(rows), n_c, f, f))
    for k, row in enumerate(rows):
        try:
            w2 = random_filter(f, seed=seed + k) if row["filter"] == "random" else make_filter(row["filter"], f)
        except ValueError as e:
            raise ValueError(f"filter {k + 1}: {e}") from None
        channels = range(n_c) if row["channels"] == "all" else ["RGB".index(row["channels"])]
        for c in channels:
            weights[k, c] = w2
    return weights, np.array([r["bias"] for r in rows], dtype=np.float64)


# --------------------------------------------------------------------------------------------------- pooling


@dataclass(frozen=True)
class PoolSettings:
    mode: str  # "max" | "avg"
    f: int
    s: int


def pool_settings_ui(n_c: int) -> tuple[PoolSettings, int]:
    """Max or average, window f, stride s; for an RGB input, which channel to inspect (each is pooled on its own)."""
    cols = st.columns([3, 3, 3, 3], vertical_alignment="bottom")
    mode = cols[0].segmented_control("pooling", ["max", "avg"], default="max", required=True, key="_w_cl_pool_mode",
                                     format_func={"max": "max", "avg": "average"}.get, persist_state=PERSIST)
    f = cols[1].slider("window f", 1, 8, 2, key="_w_cl_pool_f", persist_state=PERSIST)
    s = cols[2].slider("stride s", 1, 8, 2, key="_w_cl_pool_s", persist_state=PERSIST,
                       help="The usual choice is s = f: windows side by side, the size divided by f.")
    channel = 0
    if n_c == 3:
        name = cols[3].segmented_control("channel to inspect", ["R", "G", "B"], default="R", required=True,
                                         key="_w_cl_pool_channel", persist_state=PERSIST)
        channel = "RGB".index(name)
    return PoolSettings(str(mode), int(f), int(s)), channel


# --------------------------------------------------------------------------------------------------- flip


def flip_settings_ui() -> tuple[str, bool]:
    """A 3×3 filter to compare both ways, and whether to flip it."""
    cols = st.columns([3, 4], vertical_alignment="bottom")
    names = [n for n, spec in FILTERS.items() if spec.allows(3)]
    name = cols[0].selectbox("filter (3×3)", names, index=names.index("sobel x"), key="_w_cl_x_filter",
                             persist_state=PERSIST)
    flip = cols[1].toggle("flip the filter: true convolution", False, key="_w_cl_x_flip", persist_state=PERSIST,
                          help="Rotate the filter by 180° before sliding it, as the mathematical definition of "
                               "convolution does.")
    return name, bool(flip)


def gray_input(inp: LabInput) -> np.ndarray:
    """The input as one channel (n, n)."""
    return to_gray(inp.image)
