"""Look inside's state in its link (playground/links.py): the network (a run id, or "builder"), the input (its kind,
the validation sample, the photo) and the feature maps' layer. A run in a link opens only when this browser may see
it (its own or nobody's: ``subject.model_ui`` lists no other); a layer only when the network has it."""

from __future__ import annotations

import streamlit as st

from engine.media.images import SAMPLE_IMAGES
from playground import links, state
from playground.inspect.inputs import KEY, SAMPLE
from playground.links import Link, choice
from playground.widgets import image_source

PAGE = "inspect"
BUILDER = "builder"  # the link's word for the builder's untrained network
LINKS = (  # the input: its kind (a validation sample, a photo, an upload, a drawing, the webcam) and which photo
    Link("_w_inspect_source", choice([*SAMPLE, *image_source.SOURCES]), "input",
         get=lambda: image_source.chosen(KEY), put=lambda source: image_source.choose(KEY, source)),
    Link("_w_inspect_photo", choice(SAMPLE_IMAGES), "photo"),
)


def restore() -> None:
    """Once per session: the link's run, sample and layer into the page's durable state."""
    if not links.restore(PAGE, LINKS):
        return
    run = st.query_params.get("run")
    if run:
        state.put(state.INSPECT_RUN, "" if run == BUILDER else run)  # checked against the owner's runs there
    sample = st.query_params.get("sample", "")
    if sample.isdigit():
        state.put(state.INSPECT_SAMPLE, int(sample))  # checked against the set's size there
    layer = st.query_params.get("layer")
    if layer:
        state.put(state.INSPECT_LAYER_LINK, layer)


def layer_default(names: list[str]) -> None:
    """Before the layer selectbox: the link's layer, once, when this network has it."""
    layer = st.session_state.pop(state.INSPECT_LAYER_LINK, None)
    if layer in names:
        st.session_state["_w_inspect_layer"] = layer


def publish() -> None:
    wanted = {"run": state.get(state.INSPECT_RUN) or BUILDER, "sample": str(int(state.get(state.INSPECT_SAMPLE, 0)))}
    layer = st.session_state.get("_w_inspect_layer")
    if layer:
        wanted["layer"] = str(layer)
    links.publish(LINKS, wanted)
