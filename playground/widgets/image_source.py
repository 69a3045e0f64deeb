"""One image source for every page: a bundled photo, an uploaded image, a drawing, or a webcam snapshot.

``source_ui`` draws the choice (a page adds its own sources in front: the lab's number grids, a run's validation
samples), ``picture_ui`` the chosen source's controls; together they give a ``Picture``: a plain uint8 array and a
caption, the same whichever page asks. What a widget cannot keep across a page switch — the uploaded file, the drawing,
the snapshot, the source chosen — is kept per widget key under ``state.IMAGE_SOURCE`` (keys no widget owns); the photo
menu keeps its choice with ``persist_state``. Uploads are size-capped and decoded with a format whitelist
(``engine.media.images.decode_upload``): an unusable file is a message, never a traceback.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st

from engine.media.camera import fit_drawing
from engine.media.images import SAMPLE_IMAGES, crop_square, decode_upload, sample_image, to_uint8
from playground import state
from playground.webcam.stream import frame_stream, latest_frame

SOURCES = {"photo": "Photo", "upload": "Upload", "drawing": "Draw", "webcam": "Webcam"}  # id -> label
UPLOAD_TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff"]
MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # a classroom server: pictures are shown at most a few hundred pixels wide
MAX_UPLOAD_PIXELS = 4_000_000
CANVAS = 280  # the drawing canvas's side, in screen pixels


@dataclass(frozen=True, eq=False)
class Picture:
    """What a source gives: ``image`` ``(H, W, 3)`` RGB or ``(H, W)`` gray, uint8 (the centred square unless the
    page asked for the whole picture), a ``caption`` saying what it is, and a ``key`` that identifies its pixels (equal
    keys, equal images: a cache key)."""

    image: np.ndarray
    caption: str
    key: str


@dataclass(frozen=True)
class Options:
    """How a page wants its pictures."""

    square: bool = True  # the centred square of photos, uploads and snapshots
    photo: str = "astronaut"  # the photo shown first
    max_bytes: int = MAX_UPLOAD_BYTES
    max_pixels: int = MAX_UPLOAD_PIXELS
    live: Callable[[str], None] | None = None  # draws the webcam stream of a key (default: the plain stream)
    snapshot_label: str = "Take a snapshot"
    webcam_help: str = "Press **START** to turn the camera on, then take a snapshot to use it."


@dataclass
class SourceState:
    """One widget's durable values (``state.IMAGE_SOURCE[key]``)."""

    source: str | None = None
    upload: tuple[str, bytes, str] | None = None  # (file name, bytes, digest)
    drawing: dict | None = None  # the canvas's Fabric.js JSON, to redraw it after a page switch
    snapshot: tuple[np.ndarray, str] | None = None  # ((H, W, 3) uint8 frame, digest)


def _kept(key: str) -> SourceState:
    kept = st.session_state.setdefault(state.IMAGE_SOURCE, {})
    if not isinstance(kept.get(key), SourceState):
        kept[key] = SourceState()
    return kept[key]


def _digest(data: bytes | np.ndarray) -> str:
    raw = data.tobytes() + str(data.shape).encode() if isinstance(data, np.ndarray) else data
    return hashlib.sha1(raw).hexdigest()


# --------------------------------------------------------------------------------------------------- the choice


def chosen(key: str) -> str | None:
    """The source chosen in image source ``key`` (None before its menu was first drawn)."""
    return _kept(key).source


def choose(key: str, source: str) -> None:
    """Choose the source of image source ``key`` before its menu is drawn (a page restoring its link)."""
    _kept(key).source = source


def source_ui(key: str, extra: Mapping[str, str] | None = None, default: str | None = None, where: Any = st,
              label: str = "Input", help: str | None = None) -> str:
    """The source menu (``_w_{key}_source``): the page's ``extra`` sources (id -> label) first, then ``SOURCES``.
    Returns the chosen id, kept across page switches; ``default`` (or the first) until the user chooses."""
    kept = _kept(key)
    options = {**(extra or {}), **SOURCES}
    if kept.source not in options:
        kept.source = default if default in options else next(iter(options))
    wkey = f"_w_{key}_source"
    st.session_state[wkey] = kept.source  # a page switch drops the widget's own value

    def chosen() -> None:
        kept.source = st.session_state[wkey]

    where.segmented_control(label, list(options), format_func=options.get, required=True, key=wkey,
                            on_change=chosen, help=help)
    return kept.source


def picture_ui(key: str, source: str, options: Options | None = None, where: Any = st) -> Picture | None:
    """The controls of ``source`` (one of ``SOURCES``) and its picture, or None (with a hint or the reason shown)
    until there is one. The photo menu and the uploader go in ``where``; the canvas and the camera take a row."""
    options = options or Options()
    if source == "photo":
        return _photo_ui(key, options, where)
    if source == "upload":
        return _upload_ui(key, options, where)
    if source == "drawing":
        return _drawing_ui(key)
    if source == "webcam":
        return _webcam_ui(key, options)
    raise ValueError(f"unknown image source {source!r}; choose one of {', '.join(SOURCES)}")


def _square(image: np.ndarray, options: Options) -> np.ndarray:
    return np.ascontiguousarray(crop_square(image)) if options.square else image


# --------------------------------------------------------------------------------------------------- photo


@st.cache_data(max_entries=16, show_spinner=False)
def _photo(name: str) -> np.ndarray:
    """A bundled photo as it is, (H, W, 3) uint8 (shared by sessions: it is pure)."""
    return to_uint8(sample_image(name, None, gray=False))


def _photo_ui(key: str, options: Options, where: Any) -> Picture:
    names = list(SAMPLE_IMAGES)
    name = where.selectbox("photo", names, index=names.index(options.photo), key=f"_w_{key}_photo",
                           persist_state="session", format_func=lambda n: f"{n} — {SAMPLE_IMAGES[n].about}")
    return Picture(_square(_photo(name), options), f"the photo '{name}'", f"photo:{name}:{options.square}")


# --------------------------------------------------------------------------------------------------- upload


@st.cache_data(max_entries=8, show_spinner=False)
def _decoded(_data: bytes, digest: str, max_bytes: int, max_pixels: int) -> np.ndarray:
    """An upload decoded (keyed by its digest, so the bytes are not hashed on every rerun): (H, W, 3) uint8."""
    return to_uint8(decode_upload(_data, max_bytes=max_bytes, max_pixels=max_pixels))


def _upload_ui(key: str, options: Options, where: Any) -> Picture | None:
    kept = _kept(key)
    wkey = f"_w_{key}_upload"

    def changed() -> None:  # the file was replaced or removed
        f = st.session_state.get(wkey)
        kept.upload = None if f is None else (f.name, f.getvalue(), _digest(f.getvalue()))

    limit = f"{options.max_bytes / 1024 / 1024:g} MB and {options.max_pixels / 1e6:g} megapixels"
    file = where.file_uploader("image file", type=UPLOAD_TYPES, key=wkey, on_change=changed,
                               help=f"PNG, JPEG, GIF, BMP, WebP or TIFF, up to {limit}. It stays on this server, in "
                                    "your session only.")
    if kept.upload is None:
        st.caption("Upload a photo or a scan" + (": its centred square is used." if options.square else "."))
        return None
    name, data, digest = kept.upload
    try:
        image = _decoded(data, digest, options.max_bytes, options.max_pixels)
    except ValueError as e:
        st.error(f"{name}: {e}")
        return None
    if file is None:
        st.caption(f"Using **{name}**, uploaded earlier.")
    caption = f"your image {name}" + (" (centre square)" if options.square else "")
    return Picture(_square(image, options), caption, f"upload:{digest}:{options.square}")


# --------------------------------------------------------------------------------------------------- drawing


def _drawing_ui(key: str) -> Picture | None:
    from streamlit_drawable_canvas import st_canvas  # imported when a page shows a canvas

    kept = _kept(key)
    a, b = st.columns([1, 1])
    with b:
        ink = st.radio("Ink", ["white on black (like the digit sets)", "black on white"], key=f"_w_{key}_ink",
                       on_change=lambda: setattr(kept, "drawing", None))
        fit = st.toggle("Centre and fit the drawing", value=True, key=f"_w_{key}_fit",
                        help="Crop to the strokes and centre them with a margin, as MNIST's digits were prepared.")
        width = st.slider("Pen width", 4, 40, 22, key=f"_w_{key}_pen")
    white = ink.startswith("white")
    fg, bg = ("#ffffff", "#000000") if white else ("#000000", "#ffffff")
    with a:
        st.markdown("**Your drawing**")  # room for the canvas's toolbar, which floats above it
        result = st_canvas(stroke_width=width, stroke_color=fg, background_color=bg, height=CANVAS, width=CANVAS,
                           drawing_mode="freedraw", return_image_data=True, key=f"{key}_canvas_{int(white)}",
                           initial_drawing=kept.drawing)
    if result is None or result.image_data is None:
        st.caption("Draw something with the mouse (or a finger); the picture follows each stroke.")
        return None
    if result.json_data is not None:
        kept.drawing = result.json_data
    rgba = np.asarray(result.image_data, dtype=np.uint8)
    image = fit_drawing(rgba, (0, 0, 0) if white else (255, 255, 255)) if fit else np.ascontiguousarray(rgba[..., :3])
    if image is None:
        st.caption("The canvas is empty: draw something.")
        return None
    return Picture(image, "your drawing", f"drawing:{_digest(image)}")


# --------------------------------------------------------------------------------------------------- webcam


def _webcam_ui(key: str, options: Options) -> Picture | None:
    kept = _kept(key)
    stream = f"{key}_webcam"
    video, side = st.columns([3, 2], gap="large")
    with video:
        (options.live or frame_stream)(stream)
    with side:
        st.markdown(options.webcam_help)
        if st.button(options.snapshot_label, icon=":material/photo_camera:", key=f"_w_{key}_snap"):
            frame = latest_frame(stream)
            if frame is None:
                st.warning("No frame yet: press START and wait for the picture.")
            else:
                kept.snapshot = (frame.copy(), _digest(frame))
        _snapshot_fallback_ui(key, kept, options)
    if kept.snapshot is None:
        return None
    frame, digest = kept.snapshot
    return Picture(_square(frame, options), "the webcam frame you took", f"webcam:{digest}:{options.square}")


def _snapshot_fallback_ui(key: str, kept: SourceState, options: Options) -> None:
    """A still photo from the browser's own camera dialog (``st.camera_input``): it needs no video connection, so it
    works where the live stream cannot connect (no TURN server between the browser and this server)."""
    with st.expander("The live camera does not start? Take a photo instead"):
        shot = st.camera_input("Take a photo", key=f"_w_{key}_camera_input", label_visibility="collapsed")
        if shot is None:
            return
        data = shot.getvalue()
        digest = _digest(data)
        if kept.snapshot is not None and kept.snapshot[1] == digest:
            return
        try:
            image = _decoded(data, digest, options.max_bytes, options.max_pixels)
        except ValueError as e:
            st.error(f"The photo could not be read: {e}")
            return
        rgb = image if image.ndim == 3 else np.repeat(image[..., None], 3, axis=2)
        kept.snapshot = (np.ascontiguousarray(rgb), digest)
