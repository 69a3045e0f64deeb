"""What the Faces page's tabs share: the dlib models (one read-only copy per server), the settings row (detector,
distance, threshold), a picture's faces found and embedded once (kept by the picture's key), the picture drawn with
its faces numbered, and picking one face with the engine's messages when there is none, several or a tiny one."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from engine.faces.backend import FaceBackend, available, backend
from engine.faces.gallery import Gallery
from engine.faces.live import draw_boxes
from engine.faces.pipeline import MIN_FACE, EmbeddedFace, FaceError, choose, embed_all
from playground.store import run_store
from playground.widgets.image_source import Options, Picture, picture_ui, source_ui

DETECTORS = {"hog": "HOG (fast)", "cnn": "CNN (slower, finds turned faces)"}
METRIC_RANGE = {"euclidean": (0.0, 1.2, 0.01), "cosine": (0.0, 0.4, 0.005)}  # slider min, max, step
OPTIONS = Options(square=False, photo="astronaut", snapshot_label="Take a snapshot",
                  webcam_help="Press **START** to turn the camera on, then take a snapshot of your face.")


@dataclass(frozen=True)
class Settings:
    detector: str
    metric: str
    threshold: float


@st.cache_resource(show_spinner="Loading dlib's face models…")
def shared_backend(detector: str) -> FaceBackend:
    """dlib's detector, aligner and embedder, one copy for every session (read-only; the backend serialises calls)."""
    return backend("dlib", detector=detector)


@st.cache_data(max_entries=32, show_spinner="Finding the faces…")
def _faces_in(key: str, detector: str, _image: np.ndarray) -> list[EmbeddedFace]:
    return embed_all(_image, shared_backend(detector), min_size=0)


def faces_in(picture: Picture, detector: str) -> list[EmbeddedFace]:
    """Every face of ``picture``, left to right, embedded (kept by the picture's key: its pixels)."""
    return _faces_in(picture.key, detector, picture.image)


def missing_reason() -> str | None:
    """Why the page cannot run here (dlib not installed), or None."""
    return available().get("dlib")


def gallery() -> Gallery:
    """The galleries' file, beside this session's runs (a demo server's owner has a temporary one)."""
    return Gallery(run_store().root)


def settings_ui() -> Settings:
    """The detector, the distance and its threshold (its default is the backend's for that distance)."""
    a, b, c = st.columns([1, 1, 2])
    detector = a.selectbox("Face detector", list(DETECTORS), format_func=DETECTORS.get, key="_w_faces_detector",
                           persist_state="session", help="HOG: histograms of oriented gradients and a linear SVM. "
                           "CNN: dlib's convolutional detector, a few times slower on a CPU.")
    metric = b.segmented_control("Distance", ["euclidean", "cosine"], default="euclidean", required=True,
                                 key="_w_faces_metric", persist_state="session")
    default = shared_backend(detector).default_threshold(metric)
    lo, hi, step = METRIC_RANGE[metric]
    threshold = c.slider(f"Threshold ({metric}): the same person below it", lo + step, hi, default, step,
                         key=f"_w_faces_threshold_{metric}", persist_state="session",
                         help=f"dlib's published threshold is {default:g} for this distance. Lower: fewer strangers "
                              "accepted, more of the same person refused.")
    return Settings(detector, metric, float(threshold))


def face_ui(key: str, settings: Settings, what: str, label: str = "Input") -> EmbeddedFace | None:
    """A picture source (photo, upload, drawing, webcam snapshot), the picture with its faces numbered, a choice when
    it has several, and the chosen face embedded — or None, with the reason shown (no face, a tiny one, ...)."""
    source = source_ui(key, label=label)
    picture = picture_ui(key, source, OPTIONS)
    if picture is None:
        return None
    faces = faces_in(picture, settings.detector)
    pick = None
    if len(faces) > 1:
        pick = st.selectbox(f"{len(faces)} faces: which one?", list(range(1, len(faces) + 1)), key=f"_w_{key}_pick",
                            format_func=lambda i: f"face {i}" + (" (leftmost)" if i == 1 else ""))
    boxes = [f.face.box for f in faces]
    labels = [str(i + 1) for i in range(len(faces))]
    colours = [(40, 200, 90) if pick in (None, i + 1) else (160, 160, 160) for i in range(len(faces))]
    st.image(draw_boxes(picture.image, boxes, labels, colours), caption=picture.caption, width="stretch")
    try:
        return choose(faces, pick, MIN_FACE, what)
    except FaceError as e:
        st.error(str(e), icon=":material/face:")
        return None
