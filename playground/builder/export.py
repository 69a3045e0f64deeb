"""Export and share: the share link, JSON and code downloads, importing a spec file, and the generated PyTorch code."""

from __future__ import annotations

import streamlit as st

from engine.nets.spec import NetworkSpec, SpecError
from engine.nets.summary import Summary
from engine.units import format_shape, plural
from playground import share
from playground.cache import code_of


def export_ui(spec: NetworkSpec, s: Summary) -> None:
    code = code_of(spec) if s.ok else None
    share.export_ui(spec, code)
    uploaded = st.file_uploader("Import a spec (JSON)", type=["json"], key="_w_import",
                                help="A file exported from here, or written by hand: {\"input\": [C, H, W], "
                                     "\"layers\": [...]}. At most 1 MB.")
    if uploaded is not None:
        try:
            imported = share.read_upload(uploaded.getvalue())
        except SpecError as e:
            st.error(f"That file is not a usable spec: {e}")
        else:
            st.success(f"Read a network of {plural(len(imported.layers), 'layer')} on a "
                       f"{format_shape(imported.input)} input.")
            st.button("Use the imported network", on_click=share.use_spec, args=(imported,))
    st.subheader("PyTorch code")
    if code:
        st.code(code, language="python")
    else:
        st.info("Fix the marked layers to generate code.")
