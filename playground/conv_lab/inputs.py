"""The convolution lab's input: the course's 6×6 example, a grid of numbers typed by the student, or a picture from the
shared image source (a bundled photo, an upload, a drawing, a webcam snapshot) at n×n, in gray or colour."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from engine.conv.filters import example_image
from engine.media.images import as_float, has_colour, resize_square, to_gray, to_rgb
from playground import state
from playground.conv_lab.controls import PERSIST, bump_version, number_grid, resized, version
from playground.widgets import image_source

KEY = "cl"  # the image source's key: its widgets are _w_cl_source, _w_cl_photo, _w_cl_upload, ...
OWN_SOURCES = {"example": "Course example", "grid": "Your numbers"}
PICTURES = image_source.Options(photo="camera", max_bytes=20 * 1024 * 1024, max_pixels=25_000_000,
                                snapshot_label="Use the current frame")


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


@st.cache_data(max_entries=32, show_spinner=False)
def _at_size(key: str, _image: np.ndarray, n: int, gray: bool) -> np.ndarray:
    """Picture ``key`` (its pixels ``_image``, not hashed: the key says which they are) at n×n, float32 in [0, 1],
    gray (n, n) or colour (n, n, 3). Shared by sessions: it is pure."""
    img = as_float(_image)
    return resize_square(to_gray(img) if gray else to_rgb(img), n)


def input_ui() -> LabInput | None:
    """Choose the input and its size n (and, for pictures, gray or colour). None (with the reason shown) until a
    picture source has a picture."""
    source = image_source.source_ui(
        KEY, OWN_SOURCES, help="The course's picture of an edge (bright left half, dark right half), a grid of numbers "
                              "you type, or a picture: a bundled photo, an image file of your own, a drawing or a "
                              "webcam snapshot.")
    row = st.columns([4, 3, 2], vertical_alignment="bottom")
    if source == "example":
        n = row[0].slider("size n", 4, 16, 6, key="_w_cl_n_example", persist_state=PERSIST)
        img = example_image(n).astype(np.float32)
        return LabInput(img, to_rgb(img), f"the course's {n}×{n} example", False)
    if source == "grid":
        n = row[0].slider("size n", 2, 16, 6, key="_w_cl_n_grid", persist_state=PERSIST)
        img = _grid_ui(n).astype(np.float32)
        return LabInput(img, to_rgb(img), f"your {n}×{n} grid", False)
    n = row[1].slider("size n", 8, 128, 64, key="_w_cl_n_photo", persist_state=PERSIST,
                      help="The picture is cropped to a square and resized to n×n.")
    colour = row[2].segmented_control("colour", ["gray", "RGB"], default="gray", required=True, key="_w_cl_colour",
                                      persist_state=PERSIST, help="Gray: one channel. RGB: three, and the filter "
                                                                  "becomes f×f×3.")
    picture = image_source.picture_ui(KEY, source, PICTURES, where=row[0])
    if picture is None:
        return None
    rgb = _at_size(picture.key, picture.image, n, False)
    image = _at_size(picture.key, picture.image, n, True) if colour == "gray" else rgb
    return LabInput(image, rgb, f"{picture.caption} at {n}×{n}", has_colour(rgb))


def _grid_ui(n: int) -> np.ndarray:
    """The user's own n×n input, kept under ``state.CONV_GRID`` (it starts as the course's example)."""
    grid = state.get(state.CONV_GRID)
    if grid is None or grid.shape != (n, n):
        grid = resized(grid, example_image(n))
    with st.expander(f"Your {n}×{n} input — click a cell to change it", expanded=True):
        grid = number_grid(f"_w_cl_grid_{n}_{version()}", grid)
        st.button("Reset to the course's example", key="_w_cl_grid_reset", on_click=bump_version,
                  args=(state.CONV_GRID,))
    state.put(state.CONV_GRID, grid)
    return grid
