"""This session's results: the gallery (each picture with the settings that made it, and its download), and the
Gram matrices of a result's style image and of the result itself at a chosen layer, side by side."""

from __future__ import annotations

import streamlit as st

from engine.style.backbones import backbone
from engine.style.grams import gram_pair
from playground import state
from playground.figures.primitives import plotly_config
from playground.figures.style import gram_figure
from playground.style.run import GalleryItem, extractor_for, png_bytes

COLUMNS = 3


def gallery_ui() -> list[GalleryItem]:
    """The gallery, newest first; returns its items."""
    items: list[GalleryItem] = state.get(state.STYLE_GALLERY, [])
    if not items:
        st.caption("Each result of this session appears here with its settings.")
        return items
    cols = st.columns(COLUMNS)
    for i, item in enumerate(items):
        with cols[i % COLUMNS]:
            st.image(item.image, caption=f"#{len(items) - i}: {item.content} in the style of {item.style}",
                     width="stretch")
            st.caption(item.settings + ("" if item.status == "finished" else f" · {item.status}"))
            st.download_button("PNG", png_bytes(item.image), file_name=f"style-{len(items) - i}.png",
                               mime="image/png", icon=":material/download:", key=f"_w_st_gallery_dl_{i}")
    if st.button("Clear the gallery", key="_w_st_gallery_clear", icon=":material/delete:"):
        state.put(state.STYLE_GALLERY, [])
        st.rerun()
    return items


def grams_ui(items: list[GalleryItem]) -> None:
    """The Gram matrices of one result's style image and of the result, at a layer the user chooses."""
    if not items:
        st.caption("Run an optimisation: its Gram matrices, and the style image's, are compared here.")
        return
    pick, layer_col = st.columns(2)
    index = pick.selectbox("Result", range(len(items)), key="_w_st_gram_item",
                           format_func=lambda i: f"#{len(items) - i}: {items[i].content} / {items[i].style}")
    item = items[index]
    b = backbone(item.config.backbone)
    names = list(b.layer_names)
    default = next(iter(item.config.style), names[0])
    layer = layer_col.selectbox("Layer", names, index=names.index(default), key=f"_w_st_gram_layer_{b.name}",
                                format_func=lambda n: b.layer(n).label)
    extractor = extractor_for(item.config)
    if extractor is None:
        st.info(f"{b.title}'s weights are not on this machine any more.")
        return
    pair = gram_pair(extractor, item.style_image, item.image, layer)
    used = "a style layer of this result" if layer in item.config.style else "not one of this result's style layers"
    st.plotly_chart(gram_figure(pair), width="stretch", config=plotly_config(), key="_w_st_gram_chart")
    st.caption(f"Entry (k, k') is how strongly channels k and k' fire together, averaged over the layer's positions "
               f"(the Gram matrix divided by n_H·n_W). {layer} is {used}; where the style cost has worked, the two "
               f"matrices look alike — J_style^[l] is a quarter of the mean squared difference of their entries.")
