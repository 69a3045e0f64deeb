"""The style page's two pictures, through the shared image source (``playground/widgets/image_source.py``): the
content image (a bundled photo, an upload, a drawing or a webcam snapshot) and the style image (the same sources, and
first the artworks that work offline: ``engine.style.artworks``)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from engine.media.images import to_uint8
from engine.style.artworks import ARTWORKS, artwork
from playground.widgets.image_source import Options, Picture, picture_ui, source_ui

CONTENT_KEY, STYLE_KEY = "style_content", "style_style"
ARTWORK_SIDE = 384


@st.cache_data(max_entries=32, show_spinner=False)
def _artwork(name: str, seed: int) -> np.ndarray:
    return to_uint8(artwork(name, ARTWORK_SIDE, seed))


def content_ui() -> Picture | None:
    """The content picture (its whole frame: the result keeps its shape), or None until there is one."""
    source = source_ui(CONTENT_KEY, label="Content image", default="photo")
    return picture_ui(CONTENT_KEY, source, Options(square=False, photo="chelsea"))


def style_ui() -> Picture | None:
    """The style picture: an artwork (painted from a seed, or a texture), or one of the shared sources."""
    source = source_ui(STYLE_KEY, extra={"artwork": "Artwork"}, label="Style image", default="artwork")
    if source != "artwork":
        return picture_ui(STYLE_KEY, source, Options(square=False))
    names = list(ARTWORKS)
    name = st.selectbox("artwork", names, key="_w_st_artwork", persist_state="session",
                        format_func=lambda n: f"{ARTWORKS[n].title} — {ARTWORKS[n].about}")
    seed = 0
    if ARTWORKS[name].seeded:
        seed = int(st.number_input("painting seed", 0, 9999, 0, key="_w_st_artwork_seed", persist_state="session",
                                   help="The engine paints this picture from the seed: another seed, another "
                                        "painting of the same kind."))
    return Picture(_artwork(name, seed), f"the artwork '{ARTWORKS[name].title}'" +
                   (f" (seed {seed})" if ARTWORKS[name].seeded else ""), f"artwork:{name}:{seed}")
