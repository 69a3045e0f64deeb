"""Look inside's state in its link (playground/links.py): the network (a run id, or "builder"), the validation
sample and the feature maps' layer. A run in a link opens only when this browser may see it (its own or nobody's:
``subject.model_ui`` lists no other); a layer only when the network has it."""

from __future__ import annotations

import streamlit as st

from playground import state

PAGE = "inspect"
BUILDER = "builder"  # the link's word for the builder's untrained network


def restore() -> None:
    """Once per session: the link's run, sample and layer into the page's durable state."""
    done = st.session_state.setdefault(state.LINKS_RESTORED, set())
    if PAGE in done:
        return
    done.add(PAGE)
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
    for key, value in wanted.items():
        if st.query_params.get(key) != value:
            st.query_params[key] = value
