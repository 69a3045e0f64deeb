"""What the Faces page's tabs share: the face backends' models (one read-only copy per server), the settings row
(backend, dlib's detector, distance, threshold; FaceNet's weights and how to get them when they are not here), a
picture's faces found and embedded once (kept by the picture's key), the picture drawn with its faces numbered, and
picking one face with the engine's messages when there is none, several or a tiny one."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from engine.faces import facenet
from engine.faces.backend import BACKENDS, FaceBackend, available, backend
from engine.faces.gallery import Gallery
from engine.faces.live import draw_boxes
from engine.faces.pipeline import MIN_FACE, EmbeddedFace, FaceError, choose, embed_all
from playground.store import run_store
from playground.widgets.image_source import Options, Picture, picture_ui, source_ui

DETECTORS = {"hog": "HOG (fast)", "cnn": "CNN (slower, finds turned faces)"}
METRIC_RANGE = {"euclidean": (0.0, 1.2, 0.01), "cosine": (0.0, 0.4, 0.005)}  # slider min, max, step (128-d dlib)
FACENET_RANGE = {"euclidean": (0.0, 1.6, 0.01), "cosine": (0.0, 1.0, 0.01)}  # FaceNet's unit vectors spread wider
BACKEND_HELP = ("dlib: HOG or CNN detection, dlib's 5-point alignment and 128-d ResNet. MTCNN + dlib: MTCNN's "
                "three-network cascade finds the faces and five landmarks (eyes, nose, mouth corners), the same dlib "
                "ResNet embeds them. FaceNet: MTCNN, then Inception-ResNet-v1 trained on VGGFace2 (512-d). Each "
                "backend's gallery is its own: a face is only compared with faces embedded by the same backend.")
OPTIONS = Options(square=False, photo="astronaut", snapshot_label="Take a snapshot",
                  webcam_help="Press **START** to turn the camera on, then take a snapshot of your face.")


@dataclass(frozen=True)
class Settings:
    backend: str  # a name in engine.faces.backend.BACKENDS
    detector: str  # dlib's ("hog" or "cnn"); the other backends detect with MTCNN
    metric: str
    threshold: float

    @property
    def key(self) -> str:
        """Which models: ``"dlib/hog"``, ``"dlib/cnn"``, ``"mtcnn"`` or ``"facenet"`` (``shared_backend``'s key)."""
        return f"dlib/{self.detector}" if self.backend == "dlib" else self.backend

    @property
    def live_key(self) -> str:
        """The models the webcam uses: the chosen ones, but dlib's HOG for dlib (its CNN detector is too slow)."""
        return "dlib/hog" if self.backend == "dlib" else self.backend


@st.cache_resource(show_spinner="Loading the face models…")
def shared_backend(key: str) -> FaceBackend:
    """The models of ``key`` (see ``Settings.key``; a bare "hog"/"cnn" is dlib's), one copy for every session
    (read-only; each backend serialises its calls)."""
    name, _, detector = key.partition("/")
    if name in ("hog", "cnn"):
        name, detector = "dlib", name
    return backend("dlib", detector=detector or "hog") if name == "dlib" else backend(name)


@st.cache_data(max_entries=32, show_spinner="Finding the faces…")
def _faces_in(key: str, models: str, _image: np.ndarray) -> list[EmbeddedFace]:
    return embed_all(_image, shared_backend(models), min_size=0)


def faces_in(picture: Picture, models: str) -> list[EmbeddedFace]:
    """Every face of ``picture``, left to right, embedded by the models ``models`` (``Settings.key``; kept by the
    picture's key: its pixels)."""
    return _faces_in(picture.key, models, picture.image)


def metric_range(name: str, metric: str) -> tuple[float, float, float]:
    """The threshold slider's min, max and step for backend ``name``'s distance ``metric``."""
    return (FACENET_RANGE if name == "facenet" else METRIC_RANGE)[metric]


def missing_reason() -> str | None:
    """Why the page cannot run here (dlib not installed), or None."""
    return available().get("dlib")


def gallery() -> Gallery:
    """The galleries' file, beside this session's runs (a demo server's owner has a temporary one)."""
    return Gallery(run_store().root)


def settings_ui() -> Settings:
    """The backend, dlib's detector, the distance and its threshold (its default is the backend's for that
    distance). FaceNet is offered once its weights are here; until then, why not and how to get them."""
    why = available()
    names = [n for n in BACKENDS.names() if why[n] is None]
    a, b, c, d = st.columns([1.3, 1, 1, 2])
    name = a.selectbox("Backend", names, format_func=lambda n: BACKENDS.get(n).title, key="_w_faces_backend",
                       persist_state="session", help=BACKEND_HELP)
    detector = "hog"
    if name == "dlib":
        detector = b.selectbox("Face detector", list(DETECTORS), format_func=DETECTORS.get, key="_w_faces_detector",
                               persist_state="session", help="HOG: histograms of oriented gradients and a linear "
                               "SVM. CNN: dlib's convolutional detector, a few times slower on a CPU.")
    else:
        b.caption("Detector: MTCNN (P-Net, R-Net, O-Net)")
    metric = c.segmented_control("Distance", ["euclidean", "cosine"], default="euclidean", required=True,
                                 key="_w_faces_metric", persist_state="session")
    faces = shared_backend(f"dlib/{detector}" if name == "dlib" else name)
    default = faces.default_threshold(metric)
    lo, hi, step = metric_range(name, metric)
    key = f"_w_faces_threshold_{metric}" if name == "dlib" else f"_w_faces_threshold_{name}_{metric}"
    threshold = d.slider(f"Threshold ({metric}): the same person below it", lo + step, hi, default, step, key=key,
                         persist_state="session",
                         help=f"This backend's default is {default:g} for this distance. Lower: fewer strangers "
                              "accepted, more of the same person refused.")
    if why.get("facenet"):
        _facenet_weights_ui(why["facenet"])
    return Settings(name, detector, metric, float(threshold))


def _facenet_weights_ui(why: str) -> None:
    """Why FaceNet is not offered, and its download — only when the user ticks that it may download (107 MB from
    facenet-pytorch's release, verified by SHA-256 before use)."""
    with st.expander("FaceNet (512-d) is not available here: why, and how to get it", icon=":material/cloud_off:"):
        st.markdown(why)
        allow = st.checkbox(f"allow download (107 MB from {facenet.WEIGHTS.url})", key="_w_faces_allow_download")
        if st.button("Download FaceNet's weights", key="_w_faces_download", disabled=not allow,
                     icon=":material/download:"):
            with st.spinner("Downloading FaceNet's weights (107 MB) and checking their SHA-256…"):
                try:
                    facenet.locate(allow_download=True)
                except FileNotFoundError as e:
                    st.error(f"FaceNet's weights could not be downloaded: {e}")
                    return
            st.rerun()


def face_ui(key: str, settings: Settings, what: str, label: str = "Input") -> EmbeddedFace | None:
    """A picture source (photo, upload, drawing, webcam snapshot), the picture with its faces numbered, a choice when
    it has several, and the chosen face embedded — or None, with the reason shown (no face, a tiny one, ...)."""
    source = source_ui(key, label=label)
    picture = picture_ui(key, source, OPTIONS)
    if picture is None:
        return None
    faces = faces_in(picture, settings.key)
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
