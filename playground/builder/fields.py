"""The selected layer's arguments, one fitting widget each, drawn from what its kind says about them
(``LayerSpec.arguments``: type, help text, choices, what None means); every edit applies at once."""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from typing import Any

import streamlit as st

from engine.nets.editing import get_layer, replace_layer
from engine.nets.kinds import Argument, LayerSpec
from engine.nets.spec import Path, freeze, pair
from playground import state
from playground.builder import editor

SEPARATE = "_separate"  # the "different height and width" box of a layer


def _wkey(path: Path, name: str, part: str = "") -> str:
    return f"_w_arg_{editor.version()}_{'/'.join(map(str, path))}_{name}{part}"


def _scalar_type(hint: Any) -> type:
    for t in (bool, int, float, str):
        if hint is t or t in typing.get_args(hint):
            return t
    return str


SAFE_INT = 2**53 - 1  # a number input's widest value: the browser holds numbers as doubles


def _fits(value: Any, typ: type) -> bool:
    if typ is bool:
        return isinstance(value, bool)
    if typ is int:
        return isinstance(value, int) and not isinstance(value, bool) and abs(value) <= SAFE_INT
    if typ is float:
        return (isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
                and abs(value) <= SAFE_INT)
    return isinstance(value, str)


def _editable(layer: LayerSpec) -> list[Argument]:
    return [a for a in layer.arguments() if not a.layers]


def _commit(path: Path) -> None:
    """Rebuild the layer at ``path`` from its widgets and put it into the spec."""
    spec = state.spec()
    layer = get_layer(spec, path)
    values = {a.name: _read(path, layer, a) for a in _editable(layer)}
    state.set_spec(replace_layer(spec, path, dataclasses.replace(layer, **values)))


def _read(path: Path, layer: LayerSpec, a: Argument) -> Any:
    ss = st.session_state
    raw_key = _wkey(path, a.name, "raw")
    if raw_key in ss:  # a value no widget fits (from a JSON import): edited as JSON text
        try:
            return freeze(json.loads(ss[raw_key]))
        except json.JSONDecodeError:
            return ss[raw_key]
    if ss.get(_wkey(path, a.name, "none")):
        return None
    if a.widget == "padding" and ss.get(_wkey(path, a.name, "mode"), "number") != "number":
        return ss[_wkey(path, a.name, "mode")]
    h_key, w_key, key = _wkey(path, a.name, "h"), _wkey(path, a.name, "w"), _wkey(path, a.name)
    if h_key in ss and w_key in ss:
        h, w = int(ss[h_key]), int(ss[w_key])
        return h if h == w else (h, w)
    return ss[key] if key in ss else getattr(layer, a.name)


def arguments_ui(path: Path) -> None:
    """One fitting widget per argument of the selected layer; edits apply at once."""
    layer = get_layer(state.spec(), path)
    st.markdown(f"**{layer.label}** — `torch.nn.{layer.torch_name}`" if layer.torch_name else f"**{layer.label}**")
    arguments = _editable(layer)
    if not arguments:
        st.caption("This layer has no arguments.")
        return
    separate = any(isinstance(getattr(layer, a.name), tuple) for a in arguments)
    if any(a.pair for a in arguments):
        separate = st.checkbox("different height and width", value=separate, key=_wkey(path, SEPARATE),
                               help="Give kernel, stride, padding ... as (height, width) pairs.")
    cols = st.columns(2)
    for i, a in enumerate(arguments):
        with cols[i % 2]:
            _field_ui(path, layer, a, separate)


def _field_ui(path: Path, layer: LayerSpec, a: Argument, separate: bool) -> None:
    name, value, args = a.name, getattr(layer, a.name), (path,)
    if a.choices and value in a.choices:
        st.selectbox(name, a.choices, index=a.choices.index(value), key=_wkey(path, name), on_change=_commit,
                     args=args, help=a.help)
        return
    if a.none:
        if st.checkbox(f"{name}: {a.none}", value=value is None, key=_wkey(path, name, "none"), on_change=_commit,
                       args=args):
            return
        if value is None:  # just unticked: start from the kind's suggestion
            value = getattr(layer, a.none_from) if a.none_from else a.none_value
    if a.widget == "padding":
        modes = ["number", "valid", "same"]
        mode = st.radio(name, modes, index=modes.index(value if value in ("same", "valid") else "number"),
                        key=_wkey(path, name, "mode"), on_change=_commit, args=args, horizontal=True, help=a.help)
        if mode != "number":
            return
        value = 0 if isinstance(value, str) else value
    typ = int if a.pair else _scalar_type(a.hint)
    if a.pair and (separate or isinstance(value, tuple)):
        h, w = pair(value)
        if not (_fits(h, int) and _fits(w, int)):
            return _raw_ui(path, name, value)
        c1, c2 = st.columns(2)
        c1.number_input(f"{name} H", value=h, step=1, key=_wkey(path, name, "h"), on_change=_commit, args=args)
        c2.number_input(f"{name} W", value=w, step=1, key=_wkey(path, name, "w"), on_change=_commit, args=args)
        return
    if not _fits(value, typ):
        return _raw_ui(path, name, value)
    key = _wkey(path, name)
    if typ is bool:
        st.checkbox(name, value=value, key=key, on_change=_commit, args=args, help=a.help)
    elif typ is int:
        st.number_input(name, value=value, step=1, key=key, on_change=_commit, args=args, help=a.help)
    elif typ is float:
        st.number_input(name, value=float(value), step=a.step, format="%.6g", key=key, on_change=_commit, args=args,
                        help=a.help)
    else:
        st.text_input(name, value=value, key=key, on_change=_commit, args=args, help=a.help)


def _raw_ui(path: Path, name: str, value: Any) -> None:
    try:
        text = json.dumps(value)
    except ValueError:  # an integer past Python's 4,300 digits for text
        text = "a number too long to show"
    st.text_input(f"{name} (JSON)", value=text, key=_wkey(path, name, "raw"), on_change=_commit,
                  args=(path,), help="This value does not fit a number field; edit it as JSON.")
