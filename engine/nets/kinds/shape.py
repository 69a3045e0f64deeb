"""Kinds that reshape: zero padding, flatten and the fully connected layer (``torch.nn.ZeroPad2d``, ``Flatten``,
``Linear``). Zero padding lets a strided convolution pad unevenly, as TensorFlow's "same" padding does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Union

from engine.conv.arithmetic import sliding_output
from engine.nets.kinds.base import LayerSpec, Shape, arg, register
from engine.nets.kinds.common import MAX_INT, check_bool, check_ints, is_int, n, needs_image, prod
from engine.nets.receptive import Field
from engine.units import format_shape

if TYPE_CHECKING:
    from engine.nets.analysis import Node

PadSpec = Union[int, tuple[int, int, int, int]]  # noqa: UP007 - one number, or (left, right, top, bottom)


@register
@dataclass(frozen=True)
class ZeroPad2d(LayerSpec):
    """Zeros around the image: ``padding`` on every side, or ``(left, right, top, bottom)``."""

    kind: ClassVar[str] = "zeropad2d"
    label: ClassVar[str] = "Zero padding 2D"
    torch_name: ClassVar[str] = "ZeroPad2d"
    family: ClassVar[str] = "shape"

    padding: PadSpec = arg(1, "Zeros on every side, or four numbers (left, right, top, bottom) as JSON.",
                           examples=(0, 1, 2, (0, 1, 0, 1), (1, 0, 2, 0)))

    def sides(self) -> tuple[int, int, int, int]:
        """``(left, right, top, bottom)``."""
        p = self.padding
        return (p, p, p, p) if is_int(p) else tuple(p)

    def check(self, in_shape: Shape) -> list[str]:
        errors = needs_image(in_shape, "zero padding 2D")
        p = self.padding
        if isinstance(p, tuple | list):
            if len(p) != 4 or not all(is_int(v) and 0 <= v <= MAX_INT for v in p):
                errors.append(f"padding must be one integer ≥ 0 or four, (left, right, top, bottom), got {p!r}")
        elif not (is_int(p) and 0 <= p <= MAX_INT):
            errors.append(f"padding must be an integer ≥ 0 or four of them, (left, right, top, bottom), got {p!r}")
        return errors

    def output_shape(self, in_shape: Shape) -> Shape:
        left, right, top, bottom = self.sides()
        # a one-pixel window with this padding: each output is one input pixel, or a zero
        return (in_shape[0], sliding_output(in_shape[1], 1, top, bottom), sliding_output(in_shape[2], 1, left, right))

    def receptive_field(self, field: Field, node: Node, inner: list[Field]) -> Field:
        left, _, top, _ = self.sides()
        return field.window(1, 1, 1, (top, left))  # output u is input u − top: the field shifts

    def formulas(self, node: Node) -> list[str]:
        (c, h, w), o = node.in_shape, node.out_shape
        left, right, top, bottom = self.sides()
        rows, cols = _sum(h, top, bottom), _sum(w, left, right)
        lines = [f"out H, W: {rows} = {o[1]}"] if (h, top, bottom) == (w, left, right) else \
            [f"out H: {rows} = {o[1]}", f"out W: {cols} = {o[2]}"]
        return [*lines, f"channels stay {c}; params 0 (the padding is zeros, nothing to learn)"]

    def describe(self) -> str:
        return f"zeropad2d {self.padding}"


def _sum(size: int, before: int, after: int) -> str:
    return f"{size} + 2·{before}" if before == after else f"{size} + {before} + {after}"


@register
@dataclass(frozen=True)
class Flatten(LayerSpec):
    kind: ClassVar[str] = "flatten"
    label: ClassVar[str] = "Flatten"
    torch_name: ClassVar[str] = "Flatten"
    family: ClassVar[str] = "shape"

    start_dim: int = arg(1, "The first dimension to merge (0 is the batch; 1, the default, is the channels).",
                         examples=(1, 2, -1, -2))
    end_dim: int = arg(-1, "The last dimension to merge (-1: the last).", examples=(-1, 2, 3))

    def _dims(self, in_shape: Shape) -> tuple[int, int]:
        rank = len(in_shape) + 1  # with the batch dimension
        return self.start_dim % rank, self.end_dim % rank

    def check(self, in_shape: Shape) -> list[str]:
        errors: list[str] = []
        rank = len(in_shape) + 1
        for name in ("start_dim", "end_dim"):
            v = getattr(self, name)
            if not is_int(v) or not -rank <= v < rank:
                errors.append(f"{name} must be an integer dimension in [{-rank}, {rank - 1}], got {v!r}")
        if errors:
            return errors
        start, end = self._dims(in_shape)
        if start == 0:
            errors.append("start_dim 0 would flatten the batch dimension; use 1 (the default)")
        elif start > end:
            errors.append(f"start_dim {self.start_dim} comes after end_dim {self.end_dim}; nothing to flatten between "
                          f"them (end_dim -1 is the last dimension)")
        return errors

    def output_shape(self, in_shape: Shape) -> Shape:
        start, end = self._dims(in_shape)  # dimensions of (B, *in_shape)
        dims = (1, *in_shape)
        return (*dims[1:start], prod(dims[start:end + 1]), *dims[end + 1:])

    def aliases_input(self) -> bool:
        return True  # a view of its input (the input itself when it merges nothing)

    def formulas(self, node: Node) -> list[str]:
        i, o = node.in_shape, node.out_shape
        if o == i:
            return [f"nothing to merge: {format_shape(o)} unchanged, params 0"]
        return [f"{'·'.join(map(str, i))} = {n(prod(i))} features"] if len(o) == 1 else [f"→ {format_shape(o)}"]


@register
@dataclass(frozen=True)
class Linear(LayerSpec):
    kind: ClassVar[str] = "linear"
    label: ClassVar[str] = "Linear (fully connected)"
    torch_name: ClassVar[str] = "Linear"
    family: ClassVar[str] = "dense"

    out_features: int = arg(10, "Units of this fully connected layer. In-features are inferred.", examples=(1, 3, 10))
    bias: bool = arg(True, "Add a learned bias per unit.")

    def check(self, in_shape: Shape) -> list[str]:
        errors: list[str] = []
        if len(in_shape) != 1:
            errors.append(f"a fully connected layer needs a flat input, but gets {format_shape(in_shape)}; add a "
                          f"flatten layer before it (it would then get {prod(in_shape)} features)")
        check_ints("out_features", self.out_features, 1, errors, allow_pair=False)
        check_bool("bias", self.bias, errors)
        return errors

    def output_shape(self, in_shape: Shape) -> Shape:
        return (self.out_features,)

    def params(self, in_shape: Shape, out_shape: Shape) -> int:
        return (in_shape[0] + (1 if self.bias else 0)) * self.out_features

    def macs(self, in_shape: Shape, out_shape: Shape) -> int:
        return in_shape[0] * self.out_features

    def formulas(self, node: Node) -> list[str]:
        n_in, out = node.in_shape[0], self.out_features
        if self.bias:
            return [f"params {n(n_in)}·{out} + {out} = {n(n_in * out + out)}"]
        return [f"params {n(n_in)}·{out} = {n(n_in * out)}"]

    def describe(self) -> str:
        return f"linear {self.out_features}"

    def inferred(self, in_shape: Shape) -> dict[str, Any]:
        return {"in_features": in_shape[0]}
