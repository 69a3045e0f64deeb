"""Per-layer summary of a spec: output shape, parameters, MACs, activation memory, receptive field, formulas.

Shapes are PyTorch's own (``engine.nets.build.trace`` runs the layers on the ``meta`` device); parameter counts come
from the built modules; MACs (multiply-accumulates, batch of one) are counted by the trace from each convolution and
linear layer and its output shape, so composites count their shortcuts too. Nothing here needs real memory or
arithmetic, which is why summarising ResNet-50 takes tens of milliseconds rather than a forward pass.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from torch import nn

from engine.conv.arithmetic import size_formula
from engine.nets.build import NOT_REACHED, Node, trace
from engine.nets.spec import (
    AdaptiveAvgPool2d,
    AvgPool2d,
    BatchNorm2d,
    Conv2d,
    Flatten,
    Inception,
    Linear,
    MaxPool2d,
    NetworkSpec,
    Residual,
    Shape,
    pair,
    parse_spec,
)
from engine.units import format_shape

BYTES_PER_VALUE = 4  # float32 activations


@dataclass(frozen=True)
class Row:
    """One layer of the summary. ``depth`` 0 is a top-level layer; nested layers of composites follow their parent."""

    index: str
    name: str
    kind: str
    depth: int
    in_shape: Shape | None
    out_shape: Shape | None
    params: int  # trainable parameters
    frozen_params: int  # parameters with requires_grad False (none in a fresh build)
    macs: int  # multiply-accumulates for one sample
    memory: int  # bytes of the output activation for one sample (float32)
    receptive_field: tuple[int, int] | None  # (height, width) in input pixels that one output value sees
    formulas: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    composite: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def shape_text(self) -> str:
        return format_shape(self.out_shape) if self.out_shape else "—"


@dataclass(frozen=True)
class Summary:
    spec: NetworkSpec
    rows: tuple[Row, ...]
    total_params: int
    trainable_params: int
    total_macs: int
    activation_memory: int  # bytes, one sample, the outputs of every leaf layer (what backward keeps, roughly)
    param_memory: int  # bytes of float32 parameters
    output_shape: Shape | None
    errors: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        rows = []
        for r in self.rows:
            d = asdict(r)
            d["in_shape"] = list(r.in_shape) if r.in_shape else None
            d["out_shape"] = list(r.out_shape) if r.out_shape else None
            d["receptive_field"] = list(r.receptive_field) if r.receptive_field else None
            d["formulas"], d["errors"] = list(r.formulas), list(r.errors)
            rows.append(d)
        return {
            "input": list(self.spec.input),
            "output_shape": list(self.output_shape) if self.output_shape else None,
            "rows": rows,
            "totals": {
                "params": self.total_params,
                "trainable_params": self.trainable_params,
                "macs": self.total_macs,
                "activation_memory_bytes": self.activation_memory,
                "param_memory_bytes": self.param_memory,
            },
            "errors": list(self.errors),
        }


def summary(spec: NetworkSpec | dict | str) -> Summary:
    """Summarise ``spec`` layer by layer. Never raises for an invalid layer: it is reported on its row."""
    spec = parse_spec(spec)
    nodes = trace(spec)
    rows: list[Row] = []
    rf = _RF(1, 1, 1, 1)
    for node in nodes:
        rf = _summarise(node, 0, rf, tuple(spec.input), rows)
    top = [r for r in rows if r.depth == 0]
    total = sum(r.params + r.frozen_params for r in top)
    trainable = sum(r.params for r in top)
    leaf_rows = [r for r in rows if not r.composite]
    errors = tuple(f"{r.name}: {e}" for r in rows for e in r.errors if e != NOT_REACHED)
    last = top[-1].out_shape if top else tuple(spec.input)
    return Summary(
        spec=spec,
        rows=tuple(rows),
        total_params=total,
        trainable_params=trainable,
        total_macs=sum(r.macs for r in top),
        activation_memory=sum(r.memory for r in leaf_rows),
        param_memory=total * BYTES_PER_VALUE,
        output_shape=None if errors else last,
        errors=errors,
    )


# --------------------------------------------------------------------------------------------------- receptive field
# Araujo et al., "Computing Receptive Fields of Convolutional Neural Networks" (Distill, 2019): per axis, output u of a
# layer sees the input pixels [u·jump + start, u·jump + start + size − 1]. Tracking ``start`` (not only the size) is
# what lets parallel paths that are padded differently (inception branches, a residual's shortcut) be united exactly.


@dataclass(frozen=True)
class _RF:
    """Receptive field size, jump (input pixels between neighbouring outputs) and start (input coordinate of the
    first output's field, negative inside the padding), per axis."""

    rh: int
    rw: int
    jh: int
    jw: int
    sh: int = 0
    sw: int = 0

    def window(self, kernel: Any, stride: Any, dilation: Any = 1, padding: Any = 0) -> _RF:
        (kh, kw), (st_h, st_w), (dh, dw), (ph, pw) = pair(kernel), pair(stride), pair(dilation), pair(padding)
        return _RF(self.rh + dh * (kh - 1) * self.jh, self.rw + dw * (kw - 1) * self.jw, self.jh * st_h,
                   self.jw * st_w, self.sh - ph * self.jh, self.sw - pw * self.jw)

    def merge(self, other: _RF) -> _RF:
        """The union of two paths' fields that end on the same output grid."""
        rh, sh = _union(self.rh, self.jh, self.sh, other.rh, other.jh, other.sh)
        rw, sw = _union(self.rw, self.jw, self.sw, other.rw, other.jw, other.sw)
        return _RF(rh, rw, max(self.jh, other.jh), max(self.jw, other.jw), sh, sw)


def _union(r1: int, j1: int, s1: int, r2: int, j2: int, s2: int) -> tuple[int, int]:
    if j1 != j2:  # the paths' grids differ: no single offset describes the union; keep the larger field
        return max(r1, r2), min(s1, s2)
    start = min(s1, s2)
    return max(s1 + r1, s2 + r2) - start, start


def _adaptive_window(n: int, m: int) -> tuple[int, int]:
    """Kernel and stride that describe adaptive pooling from ``n`` to ``m`` cells: output i pools
    [⌊i·n/m⌋, ⌈(i+1)·n/m⌉). Exact when ``m`` divides ``n``; otherwise the largest window and the rounded-up step."""
    largest = max(-(-(i + 1) * n // m) - i * n // m for i in range(m))
    return largest, max(1, -(-n // m))


def _next_rf(node: Node, rf: _RF, net_input: Shape) -> _RF:
    """The field after a valid, non-composite ``node``."""
    layer = node.layer
    if isinstance(layer, Conv2d):
        return rf.window(layer.kernel_size, layer.stride, layer.dilation, layer.numeric_padding())
    if isinstance(layer, MaxPool2d):
        return rf.window(layer.kernel_size, layer.stride or layer.kernel_size, layer.dilation, layer.padding)
    if isinstance(layer, AvgPool2d):
        return rf.window(layer.kernel_size, layer.stride or layer.kernel_size, 1, layer.padding)
    if isinstance(layer, AdaptiveAvgPool2d):
        (h, w), (oh, ow) = node.in_shape[1:], node.out_shape[1:]
        (kh, st_h), (kw, st_w) = _adaptive_window(h, oh), _adaptive_window(w, ow)
        return rf.window((kh, kw), (st_h, st_w))
    if isinstance(layer, Flatten | Linear):
        # every output now depends on the whole input image
        full = net_input[1:] if len(net_input) == 3 else (rf.rh, rf.rw)
        return _RF(max(rf.rh, full[0]), max(rf.rw, full[1]), rf.jh, rf.jw, min(rf.sh, 0), min(rf.sw, 0))
    return rf


def _composite_rf(node: Node, rf: _RF, child_rf: list[_RF]) -> _RF:
    """The union of a composite's paths: the branches of an inception block; a residual body and its shortcut."""
    paths = list(child_rf)
    if isinstance(node.layer, Residual):
        body = node.children["body"]
        body_shape = body[-1].out_shape if body else node.in_shape
        if node.layer.shortcut == "projection":
            paths.append(rf.window(1, Residual.projection_stride(node.in_shape, body_shape)))
        else:
            paths.append(rf)
    out = paths[0]
    for r in paths[1:]:
        out = out.merge(r)
    return out


# --------------------------------------------------------------------------------------------------- rows


def _summarise(node: Node, depth: int, rf: _RF, net_input: Shape, rows: list[Row]) -> _RF:
    """Append the row of ``node`` (and of its children) and return the receptive field after it."""
    at = len(rows)
    rows.append(None)  # type: ignore[arg-type]  # placeholder: a composite's row comes before its children
    child_rf = []
    for seq in node.children.values():
        r = rf
        for child in seq:
            r = _summarise(child, depth + 1, r, net_input, rows)
        child_rf.append(r)
    reached = node.ok
    if not reached:
        out_rf = rf  # never shown; an invalid layer's arguments may not even be numbers
    elif isinstance(node.layer, Residual | Inception):
        out_rf = _composite_rf(node, rf, child_rf)
    else:
        out_rf = _next_rf(node, rf, net_input)
    trainable, frozen = _params(node.module)
    rows[at] = Row(
        index=node.index,
        name=node.name,
        kind=node.layer.kind,
        depth=depth,
        in_shape=node.in_shape,
        out_shape=node.out_shape,
        params=trainable,
        frozen_params=frozen,
        macs=node.macs if reached else 0,
        memory=math.prod(node.out_shape) * BYTES_PER_VALUE if reached else 0,
        receptive_field=(out_rf.rh, out_rf.rw) if reached and node.out_shape and len(node.out_shape) == 3 else None,
        formulas=tuple(formulas(node)) if reached else (),
        errors=tuple(node.errors),
        composite=bool(node.children),
    )
    return out_rf


def _params(module: nn.Module | None) -> tuple[int, int]:
    if module is None:
        return 0, 0
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in module.parameters() if not p.requires_grad)
    return trainable, frozen


# --------------------------------------------------------------------------------------------------- formulas


def _n(v: int) -> str:
    return f"{v:,}"


def _spatial(label: str, node: Node, kernel: Any, stride: Any, padding: Any, dilation: Any = 1,
             ceil: bool = False, padding_after: Any = None) -> list[str]:
    (n_h, n_w) = node.in_shape[1:]
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = pair(kernel), pair(stride), pair(padding), pair(dilation)
    (qh, qw) = pair(padding) if padding_after is None else pair(padding_after)
    th, _ = size_formula(n_h, kh, ph, qh, sh, dh, ceil)
    tw, _ = size_formula(n_w, kw, pw, qw, sw, dw, ceil)
    if th == tw:
        return [f"{label} H, W: {th}"]
    return [f"{label} H: {th}", f"{label} W: {tw}"]


def _same_note(layer: Conv2d) -> str:
    (top, left), (bottom, right) = layer.numeric_padding(), layer.padding_after()
    if (top, bottom) == (left, right):
        sides = f"{top} each side" if top == bottom else f"{top} top/left, {bottom} bottom/right"
    else:
        sides = f"{top} top, {bottom} bottom, {left} left, {right} right"
    odd = " (PyTorch puts the odd one on the bottom/right)" if (top, left) != (bottom, right) else ""
    return f"'same' padding: {sides}{odd}"


def formulas(node: Node) -> list[str]:
    """Human formulas for a traced, valid node: output size and parameter count, the user's numbers substituted."""
    layer, i, o = node.layer, node.in_shape, node.out_shape
    if isinstance(layer, Conv2d):
        (kh, kw) = pair(layer.kernel_size)
        cin = i[0] // layer.groups
        pad = layer.numeric_padding()
        lines = _spatial("out", node, layer.kernel_size, layer.stride, pad, layer.dilation,
                         padding_after=layer.padding_after())
        if layer.padding == "same":
            lines.append(_same_note(layer))
        per = f"{kh}·{kw}·{cin}"
        if layer.bias:
            lines.append(f"params ({per} + 1)·{layer.out_channels} = {_n((kh * kw * cin + 1) * layer.out_channels)}")
        else:
            lines.append(f"params {per}·{layer.out_channels} = {_n(kh * kw * cin * layer.out_channels)}")
        if layer.groups > 1:
            lines.append(f"groups {layer.groups}: each filter sees {cin} of the {i[0]} input channels")
        lines.append(f"MACs {o[1]}·{o[2]}·{o[0]} outputs × {per} = {_n(o[1] * o[2] * o[0] * kh * kw * cin)}")
        return lines
    if isinstance(layer, MaxPool2d | AvgPool2d):
        stride = layer.stride or layer.kernel_size
        lines = _spatial("out", node, layer.kernel_size, stride, layer.padding, getattr(layer, "dilation", 1),
                         layer.ceil_mode)
        lines.append(f"channels stay {i[0]}; params 0 (pooling has nothing to learn)")
        return lines
    if isinstance(layer, AdaptiveAvgPool2d):
        return [f"out fixed at {o[1]}×{o[2]} whatever the input ({i[1]}×{i[2]}); params 0"]
    if isinstance(layer, BatchNorm2d):
        if not layer.affine:
            return ["params 0 (affine off); running mean and variance are buffers"]
        return [f"params 2·{i[0]} = {2 * i[0]} (γ and β per channel; running mean/var are buffers)"]
    if isinstance(layer, Flatten):
        return [f"{'·'.join(map(str, i))} = {_n(math.prod(i))} features"] if len(o) == 1 else [f"→ {format_shape(o)}"]
    if isinstance(layer, Linear):
        n_in = i[-1]
        if layer.bias:
            return [f"params {_n(n_in)}·{layer.out_features} + {layer.out_features} = "
                    f"{_n(n_in * layer.out_features + layer.out_features)}"]
        return [f"params {_n(n_in)}·{layer.out_features} = {_n(n_in * layer.out_features)}"]
    if isinstance(layer, Residual):
        text = "out = body(x) + x" if layer.shortcut == "identity" else "out = body(x) + BN(conv1×1(x))"
        return [text, f"{format_shape(i)} → {format_shape(o)}"]
    if isinstance(layer, Inception):
        ends = [seq[-1].out_shape[0] if seq else i[0] for seq in node.children.values()]
        return [f"channels {' + '.join(map(str, ends))} = {o[0]} (branches concatenated)"]
    return ["elementwise: shape unchanged, params 0"]
