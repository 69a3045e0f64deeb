"""Style transfer: optimise an image so it keeps one picture's content and takes another's style (Gatys et al.), watch
the costs fall, compare Gram matrices and α/β ratios, and stylise the webcam live in fast mode."""

import streamlit as st

from playground import links
from playground.style import blend, fast, images, results, run, settings
from playground.style.link import LINKS

st.title("Style transfer")
st.caption("G starts as the content image; gradient descent changes its pixels to lower J = α·J_content + β·J_style, "
           "measured on a pretrained network: its activations at one layer should match the content image's, its "
           "Gram matrices at several layers the style image's.")

links.restore("style", LINKS)  # a reloaded or shared link: α, β, size, steps, optimiser, initialisation
pictures, options = st.columns([2, 1], gap="medium")
with pictures:
    left, right = st.columns(2)
    with left:
        content = images.content_ui()
        if content is not None:
            st.image(content.image, caption=content.caption, width="stretch")
    with right:
        style = images.style_ui()
        if style is not None:
            st.image(style.image, caption=style.caption, width="stretch")
with options:
    chosen = settings.settings_ui()

optimise, explore, quick = st.tabs(["Optimise", "Blend explorer", "Fast mode and webcam"])
with optimise:
    run.run_ui(content, style, chosen.config, chosen.allow_download, chosen.problem)
    st.subheader("This session's results", divider="gray")
    items = results.gallery_ui()
    st.subheader("Gram matrices: style image vs result", divider="gray")
    results.grams_ui(items)
with explore:
    blend.blend_ui(content, style, chosen.config, chosen.allow_download)
with quick:
    fast.fast_ui(content, style)
links.publish(LINKS)
