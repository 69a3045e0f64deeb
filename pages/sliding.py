"""Sliding windows: a classifier slid over larger images window by window, then as one pass of its convolutional
form (OverFeat); MTCNN's P-Net, a real sliding-window detector; region proposals (R-CNN) and what they save."""

import streamlit as st

from playground import links
from playground.sliding import classifier, compare, pnet, proposals
from playground.sliding.link import LINKS

st.title("Sliding windows")
st.caption("The road from a classifier to a detector (course notes 1.3.3–1.3.4 and 1.3.6): classify every window of "
           "an image, see why that is slow, and compute the very same windows in one pass of a fully convolutional "
           "network; a real face detector built that way; and classifying only the regions a segmentation proposes.")

links.restore("sliding", LINKS)  # a reloaded or shared link: its scene, window, stride and thresholds
with st.container(border=True):
    clf = classifier.classifier_ui()

TABS = {
    "Sliding windows vs convolutional": lambda: compare.tab(clf),
    "P-Net: faces": pnet.tab,
    "Region proposals": lambda: proposals.tab(clf),
}
tabs = st.tabs(list(TABS), key="_w_sw_tab", on_change="rerun")  # lazy: only the open tab runs
for tab, draw in zip(tabs, TABS.values(), strict=True):
    if tab.open:
        with tab:
            draw()
links.publish(LINKS)
