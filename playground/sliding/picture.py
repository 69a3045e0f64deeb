"""The image the classifier searches: a scene of several shapes drawn by the engine (its true boxes known), or a
photo, an upload, a drawing or a webcam snapshot through the shared image source widget, shrunk to at most
``MAX_SIDE`` pixels a side (every window of a large photo would take long to classify one by one)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch

from engine.data import scenes
from engine.data.windows import OBJECTS
from engine.detection.search import Found, Match, match, search_image
from playground.widgets import image_source

KEY = "slide_search"  # the image source's key: the comparison and the proposals tabs search the same image
SCENE_SIZE = 160
MAX_SIDE = 256
COUNT, RADIUS = (2, 5), (0.06, 0.16)  # shapes per scene; their radii as fractions of its side (≈ 10 to 26 px)


@dataclass(frozen=True, eq=False)
class Search:
    """``image`` ``(3, H, W)`` uint8 and the same as ``rgb`` ``(H, W, 3)`` for drawing; what it is; a ``key`` for
    caches; for a scene, its true ``boxes`` ``(M, 4)`` and their class ``names``."""

    image: torch.Tensor
    rgb: np.ndarray
    caption: str
    key: str
    boxes: torch.Tensor | None = None
    names: tuple[str, ...] = ()


def matched(pic: Search, found: Found, classes: tuple[str, ...]) -> Match | None:
    """``found`` matched against the scene's true shapes (a shape the classifier has no class for can't be found);
    None for a picture without known boxes."""
    if pic.boxes is None:
        return None
    labels = torch.tensor([classes.index(n) if n in classes else -1 for n in pic.names])
    return match(found, pic.boxes, labels)


@st.cache_data(max_entries=32, show_spinner=False)
def _scene(number: int) -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...]]:
    s = scenes.generate_many(1, SCENE_SIZE, seed=number, count=COUNT, radius=RADIUS, classes=OBJECTS)
    return s.images[0], s.boxes[0], tuple(OBJECTS[k] for k in s.labels[0].tolist())


@st.cache_data(max_entries=16, show_spinner=False)
def _shrunk(key: str, _picture: np.ndarray) -> torch.Tensor:
    return search_image(_picture, MAX_SIDE)


def search_ui() -> Search | None:
    """The source menu and its controls; the image, or None (with a hint) until there is one."""
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    source = image_source.source_ui(KEY, extra={"scene": "Scene"}, default="scene", label="Image to search",
                                    where=left)
    if source == "scene":
        number = right.number_input("Scene", 0, 9999, 0, key="_w_sw_scene", persist_state="session",
                                 help=f"Scenes of {COUNT[0]} to {COUNT[1]} shapes — circles, squares, triangles, "
                                      f"crosses — of 10 to 26 px radius, drawn by the engine from this number.")
        image, boxes, names = _scene(int(number))
        return Search(image, image.permute(1, 2, 0).numpy(), f"scene {number}: {len(names)} shapes",
                      f"scene:{number}", boxes, names)
    picture = image_source.picture_ui(KEY, source, image_source.Options(square=False), where=right)
    if picture is None:
        return None
    image = _shrunk(picture.key, picture.image)
    h, w = image.shape[1:]
    shrunk = "" if max(picture.image.shape[:2]) <= MAX_SIDE else f", shrunk to {w}×{h}"
    return Search(image, image.permute(1, 2, 0).numpy(), f"{picture.caption}{shrunk}", picture.key)
