"""Import, export and shareable links for the builder's network.

A link carries the spec in its query string (``?spec=`` + zlib-compressed JSON in base64url), so a teacher can send
one URL that opens the same network. The page keeps the address bar's link in step with the network as it is edited.
"""

from __future__ import annotations

import streamlit as st

from engine.nets.spec import NetworkSpec, SpecError
from playground import state
from playground.builder import editor

MAX_SPEC_BYTES = 1 << 20  # 1 MB: far above any real architecture's JSON


def use_spec(spec: NetworkSpec) -> None:
    """Make ``spec`` (from a link, a file, another page) the builder's network; it comes from no preset."""
    state.set_spec(spec)
    state.put(state.BUILDER_ORIGIN, None)
    state.put(state.SELECTED, (0,) if spec.layers else None)
    editor.bump_version()


def load_from_url() -> None:
    """Open the network a shared link carries, once per distinct link."""
    token = st.query_params.get("spec")
    if not token or token == state.get(state.SHARED_TOKEN):
        return
    state.put(state.SHARED_TOKEN, token)
    if token == state.spec().to_token():
        return
    try:
        use_spec(NetworkSpec.from_token(token))
    except SpecError as e:
        st.error(f"The link's network could not be opened: {e}. Showing your current network instead.")
    else:
        st.toast("Opened the network from the link.")


def sync_url(spec: NetworkSpec) -> None:
    """Put the current network into the address bar, so copying the URL shares it."""
    token = spec.to_token()
    if st.query_params.get("spec") != token:
        st.query_params["spec"] = token
    state.put(state.SHARED_TOKEN, token)


def share_link(spec: NetworkSpec) -> str:
    base = (st.context.url or "").split("?")[0]
    return f"{base}?spec={spec.to_token()}"


def read_upload(data: bytes) -> NetworkSpec:
    if len(data) > MAX_SPEC_BYTES:
        raise SpecError(f"the file is {len(data):,} bytes; a spec file may be at most {MAX_SPEC_BYTES:,}")
    return NetworkSpec.from_json(data)


def export_ui(spec: NetworkSpec, code: str | None) -> None:
    """Share link and downloads; ``code`` is the generated PyTorch source (None while the network is invalid)."""
    st.markdown("**Share this network** — anyone opening this link gets the same network on the builder:")
    st.code(share_link(spec), language=None, wrap_lines=True)
    cols = st.columns(2)
    cols[0].download_button("Download spec (JSON)", spec.to_json(), file_name="network.json",
                            mime="application/json", width="stretch")
    cols[1].download_button("Download PyTorch code", code or "", file_name="network.py", mime="text/x-python",
                            disabled=code is None, width="stretch",
                            help=None if code else "Fix the marked layers first.")
