"""Widgets of the builder page. The network lives in session state (``state.SPEC``); every widget here is a view of it
and writes back through an ``on_change``/``on_click`` callback, so the edit is applied before the next run draws the
summary — the table and the editor never disagree."""

from __future__ import annotations

import dataclasses
import json
import typing
from typing import Any

import streamlit as st

from engine.nets import spec as S
from engine.nets.build import path_index
from engine.nets.presets import PRESETS, get_preset
from engine.nets.summary import Summary
from engine.units import format_shape
from playground import state

# Fields that are a choice among strings.
CHOICES = {
    "padding_mode": ["zeros", "reflect", "replicate", "circular"],
    "shortcut": ["identity", "projection"],
}
HELP = {
    "out_channels": "How many filters, i.e. output channels. Input channels are inferred.",
    "kernel_size": "The filter's size f (f×f).",
    "stride": "How far the window moves each step.",
    "padding": "Zeros added around the input. 'valid' = no padding; 'same' keeps the size (stride 1 only).",
    "dilation": "Spacing between the filter's taps (à trous); 1 = an ordinary convolution.",
    "groups": "Split channels into groups convolved separately; groups = input channels is a depthwise conv.",
    "bias": "Add a learned bias per output channel.",
    "out_features": "Units of this fully connected layer. In-features are inferred.",
    "p": "Probability of zeroing each activation during training.",
    "ceil_mode": "Round the output size up instead of down.",
    "output_size": "The output's fixed height and width, whatever the input size.",
    "shortcut": "identity: add the input as it is; projection: a 1×1 conv + BN matches channels and stride.",
    "momentum": "Running-statistics momentum; unchecked = cumulative average (None).",
}


def _version() -> int:
    return state.get(state.EDIT_VERSION, 0)


def bump_version() -> None:
    """Structure changed: editor widgets must start fresh from the spec."""
    state.put(state.EDIT_VERSION, _version() + 1)


# --------------------------------------------------------------------------------------------------- network-level


def _load_preset(widget_key: str) -> None:
    name = st.session_state[widget_key]
    state.set_spec(get_preset(name))
    state.put(state.SELECTED, (0,))
    bump_version()


def _new_empty() -> None:
    state.set_spec(S.NetworkSpec(input=state.spec().input, layers=()))
    state.put(state.SELECTED, None)
    bump_version()


def _undo() -> None:
    history = state.get(state.SPEC_HISTORY, [])
    if history:
        state.set_spec(history.pop(), remember=False)
        bump_version()


def start_ui() -> None:
    """Preset picker, 'new', 'undo' and the input shape."""
    cols = st.columns([3, 1, 1, 1])
    names = list(PRESETS)
    cols[0].selectbox("Start from a preset", names, key="_w_preset", format_func=lambda n: PRESETS[n].title)
    cols[1].button("Load preset", on_click=_load_preset, args=("_w_preset",), width="stretch",
                   help="Replaces the current network (Undo brings it back).")
    cols[2].button("New empty", on_click=_new_empty, width="stretch")
    cols[3].button("Undo", on_click=_undo, disabled=not state.get(state.SPEC_HISTORY, []),
                   width="stretch")
    preset = PRESETS[st.session_state["_w_preset"]]
    st.caption(f"**{preset.title}** — {preset.description} *{preset.paper}*")
    input_ui()


def _set_input() -> None:
    v = _version()
    shape = tuple(int(st.session_state[f"_w_in{i}_{v}"]) for i in range(3))
    state.set_spec(dataclasses.replace(state.spec(), input=shape))


def input_ui() -> None:
    spec = state.spec()
    shape = list(spec.input) if len(spec.input) == 3 else [1, 1, spec.input[0]]
    cols = st.columns(3)
    for i, (col, name) in enumerate(zip(cols, ("input channels C", "input height H", "input width W"), strict=True)):
        col.number_input(name, min_value=1, max_value=4096, value=int(shape[i]), step=1, key=f"_w_in{i}_{_version()}",
                         on_change=_set_input)


# --------------------------------------------------------------------------------------------------- layer picker


def layer_label(path: S.Path, layer: S.LayerSpec, s: Summary) -> str:
    rows = {r.index: r for r in s.rows}
    index = path_index(path)
    row = rows.get(index)
    indent = "\u2003" * len([p for p in path if p in ("body", "branches")])
    mark = " ⚠" if row is not None and not row.ok else ""
    shape = f" → {row.shape_text}" if row is not None and row.out_shape else ""
    return f"{indent}{index} · {short(layer)}{shape}{mark}"


def short(layer: S.LayerSpec) -> str:
    """A one-line description: "conv2d 16@5×5 s2 p1"."""
    a = layer.args()
    if isinstance(layer, S.Conv2d):
        k = S.pair(layer.kernel_size)
        text = f"conv2d {layer.out_channels}@{k[0]}×{k[1]}"
        if layer.stride != 1:
            text += f" s{layer.stride}"
        if layer.padding != 0:
            text += f" p{layer.padding}"
        if layer.groups != 1:
            text += f" g{layer.groups}"
        return text
    if isinstance(layer, S.MaxPool2d | S.AvgPool2d):
        return f"{layer.kind} {layer.kernel_size}" + (f" s{layer.stride}" if layer.stride is not None else "")
    if isinstance(layer, S.Linear):
        return f"linear {layer.out_features}"
    if isinstance(layer, S.Residual):
        return f"residual ({len(layer.body)} layers, {layer.shortcut})"
    if isinstance(layer, S.Inception):
        return f"inception ({len(layer.branches)} branches)"
    extra = " ".join(f"{k}={v}" for k, v in a.items() if not isinstance(v, tuple))
    return f"{layer.kind} {extra}".strip()


def picker_ui(s: Summary) -> S.Path | None:
    """Choose the layer to edit; returns its path (None for an empty network)."""
    spec = state.spec()
    paths = [p for p, _ in S.walk(spec.layers)]
    if not paths:
        st.info("The network is empty: add a first layer below.")
        return None
    selected = state.get(state.SELECTED)
    if selected not in paths:
        selected = paths[0]
        state.put(state.SELECTED, selected)
    labels = {p: layer_label(p, layer, s) for p, layer in S.walk(spec.layers)}
    key = f"_w_pick_{_version()}"
    st.session_state.setdefault(key, selected)
    if st.session_state[key] not in paths:
        st.session_state[key] = selected
    st.selectbox("Layer to edit", paths, key=key, format_func=labels.__getitem__,
                 on_change=state.bind, args=(key, state.SELECTED))
    return state.get(state.SELECTED)


# --------------------------------------------------------------------------------------------------- structure


def _structure(change: str, path: S.Path, kind_key: str | None = None, branch: int | None = None) -> None:
    spec = state.spec()
    new_selected: S.Path | None = path
    if change == "up":
        spec, new_selected = S.move_layer(spec, path, -1), (*path[:-1], max(0, path[-1] - 1))
    elif change == "down":
        seq_len = len(_siblings(spec, path))
        spec, new_selected = S.move_layer(spec, path, 1), (*path[:-1], min(seq_len - 1, path[-1] + 1))
    elif change == "duplicate":
        spec, new_selected = S.duplicate_layer(spec, path), (*path[:-1], path[-1] + 1)
    elif change == "remove":
        spec = S.remove_layer(spec, path)
        remaining = len(_siblings(spec, path)) if path[:-1] else len(spec.layers)
        new_selected = (*path[:-1], min(path[-1], remaining - 1)) if remaining else (path[:-3] or None)
    elif change in ("before", "after", "end", "into"):
        layer = S.default_layer(st.session_state[kind_key])
        if change == "before":
            at = path
        elif change == "after":
            at = (*path[:-1], path[-1] + 1)
        elif change == "into":
            target = S.get_layer(spec, path)
            if isinstance(target, S.Residual):
                at = (*path, "body", len(target.body))
            else:
                at = (*path, "branches", branch, len(target.branches[branch]))
        else:
            at = (len(spec.layers),)
        spec, new_selected = S.insert_layer(spec, at, layer), at
    elif change in ("add_branch", "remove_branch"):
        target = S.get_layer(spec, path)
        branches = list(target.branches)
        if change == "add_branch":
            branches.append((S.Conv2d(out_channels=8, kernel_size=1),))
        elif len(branches) > 1:
            branches.pop(branch)
        spec = S.replace_layer(spec, path, dataclasses.replace(target, branches=tuple(branches)))
    state.set_spec(spec)
    state.put(state.SELECTED, new_selected)
    bump_version()


def _siblings(spec: S.NetworkSpec, path: S.Path) -> tuple[S.LayerSpec, ...]:
    if len(path) == 1:
        return spec.layers
    parent = S.get_layer(spec, path[:-2] if path[-2] == "body" else path[:-3])
    return parent.body if path[-2] == "body" else parent.branches[path[-2]]


def actions_ui(path: S.Path | None) -> None:
    """Move / duplicate / remove the selected layer; insert a new one before, after, inside or at the end."""
    kinds = list(S.LAYERS)
    v = _version()
    if path is not None:
        cols = st.columns(4, gap="small")
        for col, (label, change, tip) in zip(cols, (("Up", "up", "Move the layer up"),
                                                    ("Down", "down", "Move the layer down"),
                                                    ("Copy", "duplicate", "Duplicate the layer"),
                                                    ("Remove", "remove", "Remove the layer")), strict=True):
            col.button(label, key=f"_b_{change}_{v}", on_click=_structure, args=(change, path), help=tip,
                       width="stretch")
    kind_key = "_w_new_kind"
    st.selectbox("New layer", kinds, key=kind_key, format_func=lambda k: f"{k} — {S.LAYERS[k].label}")
    cols = st.columns(3, gap="small")
    if path is not None:
        cols[0].button("Before", key=f"_b_before_{v}", on_click=_structure, args=("before", path, kind_key),
                       width="stretch", help="Insert the new layer before the selected one.")
        cols[1].button("After", key=f"_b_after_{v}", on_click=_structure, args=("after", path, kind_key),
                       width="stretch", help="Insert the new layer after the selected one.")
    cols[2].button("Append", key=f"_b_end_{v}", on_click=_structure, args=("end", (0,), kind_key),
                   width="stretch", help="Add the new layer at the end of the network.")
    if path is None:
        return
    layer = S.get_layer(state.spec(), path)
    if isinstance(layer, S.Residual):
        st.button("Add the new layer to this block's body", key=f"_b_into_{v}", on_click=_structure,
                  args=("into", path, kind_key))
    elif isinstance(layer, S.Inception):
        cols = st.columns([2, 1, 1, 1])
        b = cols[0].selectbox("Branch", range(len(layer.branches)), key=f"_w_branch_{v}",
                              format_func=lambda i: f"branch {i + 1}")
        cols[1].button("Add layer to branch", key=f"_b_intob_{v}", on_click=_structure,
                       args=("into", path, kind_key, b), width="stretch")
        cols[2].button("Add branch", key=f"_b_addb_{v}", on_click=_structure, args=("add_branch", path),
                       width="stretch")
        cols[3].button("Remove branch", key=f"_b_rmb_{v}", on_click=_structure, args=("remove_branch", path, None, b),
                       disabled=len(layer.branches) < 2, width="stretch")


# --------------------------------------------------------------------------------------------------- details


def summary_columns() -> dict[str, Any]:
    """Column widths and labels of the summary table: the formula gets the room."""
    col = st.column_config
    return {
        "#": col.TextColumn("#", width="small"),
        "layer": col.TextColumn("layer", width="small"),
        "output": col.TextColumn("output", width="small"),
        "params": col.NumberColumn("params", width="small", format="localized"),
        "MACs": col.NumberColumn("MACs", width="small", format="compact",
                                 help="multiply-accumulates for one input sample"),
        "memory": col.TextColumn("memory", width="small", help="this layer's output, one sample, float32"),
        "receptive field": col.TextColumn("RF", width="small",
                                          help="receptive field: how many input pixels one output value sees"),
        "formula": col.TextColumn("formula, with your numbers", width="large"),
    }


def layer_details_ui(path: S.Path, s: Summary) -> None:
    """The selected layer's shapes and formulas, large: the arithmetic the table abbreviates."""
    row = {r.index: r for r in s.rows}.get(path_index(path))
    if row is None:
        return
    if not row.ok:
        for e in row.errors:
            st.error(f"{row.name}: {e}", icon=":material/error:")
        return
    i = format_shape(row.in_shape) if row.in_shape else "—"
    lines = [f"**{row.name}**: {i} → **{row.shape_text}**, {row.params:,} parameters"]
    lines += [f"- {f}" for f in row.formulas]
    st.info("\n".join(lines))


# --------------------------------------------------------------------------------------------------- arguments


def _wkey(path: S.Path, name: str, part: str = "") -> str:
    return f"_w_arg_{_version()}_{'/'.join(map(str, path))}_{name}{part}"


def _is_pair_field(hint: Any) -> bool:
    """An int-or-(height, width) argument; not zeropad2d's (left, right, top, bottom), which is edited as JSON."""
    return any(typing.get_origin(a) is tuple and len(typing.get_args(a)) == 2 for a in typing.get_args(hint))


def _allows_none(hint: Any) -> bool:
    return type(None) in typing.get_args(hint)


def _scalar_type(hint: Any) -> type:
    for t in (bool, int, float, str):
        if hint is t or t in typing.get_args(hint):
            return t
    return str


def _commit(path: S.Path) -> None:
    """Rebuild the layer at ``path`` from its widgets and put it into the spec."""
    spec = state.spec()
    layer = S.get_layer(spec, path)
    values = {}
    for f in dataclasses.fields(layer):
        if f.name in ("body", "branches"):
            continue
        values[f.name] = _read_field(path, layer, f.name)
    state.set_spec(S.replace_layer(spec, path, dataclasses.replace(layer, **values)))


def _read_field(path: S.Path, layer: S.LayerSpec, name: str) -> Any:
    ss = st.session_state
    current = getattr(layer, name)
    raw_key = _wkey(path, name, "raw")
    if raw_key in ss:  # a value no widget fits (from a JSON import): edited as JSON text
        try:
            return S._freeze(json.loads(ss[raw_key]))
        except json.JSONDecodeError:
            return ss[raw_key]
    if _wkey(path, name, "none") in ss and ss[_wkey(path, name, "none")]:
        return None
    if name == "padding" and isinstance(layer, S.Conv2d) and ss.get(_wkey(path, name, "mode"), "number") != "number":
        return ss[_wkey(path, name, "mode")]
    h_key, w_key, key = _wkey(path, name, "h"), _wkey(path, name, "w"), _wkey(path, name)
    if h_key in ss and w_key in ss:
        h, w = int(ss[h_key]), int(ss[w_key])
        return h if h == w else (h, w)
    if key in ss:
        return ss[key]
    return current


def _fits(value: Any, typ: type) -> bool:
    if typ is bool:
        return isinstance(value, bool)
    if typ is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if typ is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, str)


def arguments_ui(path: S.Path) -> None:
    """One fitting widget per argument of the selected layer; edits apply at once."""
    spec = state.spec()
    layer = S.get_layer(spec, path)
    st.markdown(f"**{layer.label}** — `torch.nn.{layer.torch_name}`" if layer.torch_name else f"**{layer.label}**")
    hints = typing.get_type_hints(type(layer))
    names = [f.name for f in dataclasses.fields(layer) if f.name not in ("body", "branches")]
    if not names:
        st.caption("This layer has no arguments.")
        return
    separate = any(isinstance(getattr(layer, n), tuple) for n in names)
    has_pairs = any(_is_pair_field(hints[n]) for n in names)
    if has_pairs:
        separate = st.checkbox("different height and width", value=separate, key=_wkey(path, "_separate"),
                               help="Give kernel, stride, padding ... as (height, width) pairs.")
    cols = st.columns(2)
    for i, name in enumerate(names):
        with cols[i % 2]:
            _field_ui(path, layer, name, hints[name], separate)


def _field_ui(path: S.Path, layer: S.LayerSpec, name: str, hint: Any, separate: bool) -> None:
    value = getattr(layer, name)
    args = (path,)
    help_text = HELP.get(name)
    if name in CHOICES and value in CHOICES[name]:
        st.selectbox(name, CHOICES[name], index=CHOICES[name].index(value), key=_wkey(path, name),
                     on_change=_commit, args=args, help=help_text)
        return
    if _allows_none(hint):
        label = {"stride": "stride = kernel size", "momentum": "cumulative average", "divisor_override": "no override"}
        is_none = st.checkbox(f"{name}: {label.get(name, 'None')}", value=value is None, key=_wkey(path, name, "none"),
                              on_change=_commit, args=args)
        if is_none:
            return
        if value is None:
            value = layer.kernel_size if name == "stride" else (0.1 if name == "momentum" else 1)
    if name == "padding" and isinstance(layer, S.Conv2d):
        mode = value if value in ("same", "valid") else "number"
        mode = st.radio("padding", ["number", "valid", "same"], index=["number", "valid", "same"].index(mode),
                        key=_wkey(path, name, "mode"), on_change=_commit, args=args, horizontal=True, help=help_text)
        if mode != "number":
            return
        if isinstance(value, str):
            value = 0
    typ = _scalar_type(hint)
    if _is_pair_field(hint) and (separate or isinstance(value, tuple)):
        h, w = S.pair(value)
        if not (_fits(h, int) and _fits(w, int)):
            return _raw_ui(path, name, value)
        c1, c2 = st.columns(2)
        c1.number_input(f"{name} H", value=h, step=1, key=_wkey(path, name, "h"), on_change=_commit, args=args)
        c2.number_input(f"{name} W", value=w, step=1, key=_wkey(path, name, "w"), on_change=_commit, args=args)
        return
    if _is_pair_field(hint):
        typ = int
    if not _fits(value, typ):
        return _raw_ui(path, name, value)
    key = _wkey(path, name)
    if typ is bool:
        st.checkbox(name, value=value, key=key, on_change=_commit, args=args, help=help_text)
    elif typ is int:
        st.number_input(name, value=value, step=1, key=key, on_change=_commit, args=args, help=help_text)
    elif typ is float:
        st.number_input(name, value=float(value), step=0.05 if name == "p" else None, format="%.6g", key=key,
                        on_change=_commit, args=args, help=help_text)
    else:
        st.text_input(name, value=value, key=key, on_change=_commit, args=args, help=help_text)


def _raw_ui(path: S.Path, name: str, value: Any) -> None:
    st.text_input(f"{name} (JSON)", value=json.dumps(value), key=_wkey(path, name, "raw"), on_change=_commit,
                  args=(path,), help="This value does not fit a number field; edit it as JSON.")
