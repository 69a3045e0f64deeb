"""The convolution kind: ``torch.nn.Conv2d``, its input channels inferred.

LeCun et al., "Gradient-Based Learning Applied to Document Recognition" (1998); the output-size rule and 'same'
padding as in Dumoulin & Visin, "A guide to convolution arithmetic for deep learning" (2016), with PyTorch's choices
(``engine.conv.arithmetic``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Union

from engine.conv.arithmetic import sliding_output
from engine.nets.kinds.base import LayerSpec, Shape, arg, register
from engine.nets.kinds.common import (
    check_bool,
    check_ints,
    is_int,
    n,
    needs_image,
    pair,
    size_lines,
    window_errors,
)
from engine.nets.receptive import Field

if TYPE_CHECKING:
    from engine.nets.analysis import Node

IntOrPair = Union[int, tuple[int, int]]  # noqa: UP007 - kept as Union so the JSON coercion can read it
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
_PAIRS = (1, 2, 3, (1, 2), (2, 1))


@register
@dataclass(frozen=True)
class Conv2d(LayerSpec):
    kind: ClassVar[str] = "conv2d"
    label: ClassVar[str] = "Convolution 2D"
    torch_name: ClassVar[str] = "Conv2d"
    family: ClassVar[str] = "conv"

    out_channels: int = arg(8, "How many filters, i.e. output channels. Input channels are inferred.",
                            examples=(1, 2, 4, 6))
    kernel_size: IntOrPair = arg(3, "The filter's size f (f×f).", examples=(1, 2, 3, 5, (3, 1), (1, 2)))
    stride: IntOrPair = arg(1, "How far the window moves each step.", examples=_PAIRS)
    padding: Union[int, tuple[int, int], str] = arg(  # noqa: UP007 - number, pair, "valid" or "same"
        0, "Zeros added around the input. 'valid' = no padding; 'same' keeps the size (stride 1 only).",
        widget="padding", examples=(0, 1, 2, (1, 0), "valid", "same"))
    dilation: IntOrPair = arg(1, "Spacing between the filter's taps (à trous); 1 = an ordinary convolution.",
                              examples=(1, 2, (1, 2)))
    groups: int = arg(1, "Split channels into groups convolved separately; groups = input channels is a depthwise "
                         "conv.", examples=(1, 2, 3))
    bias: bool = arg(True, "Add a learned bias per output channel.")
    padding_mode: str = arg("zeros", "What the padding holds: zeros, or the image reflected, repeated or wrapped.",
                            choices=PADDING_MODES)

    def check(self, in_shape: Shape) -> list[str]:
        errors = needs_image(in_shape, "a convolution")
        check_ints("out_channels", self.out_channels, 1, errors, allow_pair=False)
        check_ints("kernel_size", self.kernel_size, 1, errors)
        check_ints("stride", self.stride, 1, errors)
        check_ints("dilation", self.dilation, 1, errors)
        check_ints("groups", self.groups, 1, errors, allow_pair=False)
        check_bool("bias", self.bias, errors)
        if isinstance(self.padding, str):
            if self.padding not in ("valid", "same"):
                errors.append(f"padding must be a number, 'valid' or 'same', got {self.padding!r}")
            elif self.padding == "same" and pair(self.stride) != (1, 1):
                errors.append("padding 'same' needs stride 1 (PyTorch's rule); use a number for padding instead")
        else:
            check_ints("padding", self.padding, 0, errors)
        if self.padding_mode not in PADDING_MODES:
            errors.append(f"padding_mode must be zeros, reflect, replicate or circular, got {self.padding_mode!r}")
        if errors:
            return errors
        c = in_shape[0]
        if c % self.groups or self.out_channels % self.groups:
            errors.append(f"groups {self.groups} must divide both the input channels ({c}) and out_channels "
                          f"({self.out_channels}); depthwise convolution is groups = input channels = {c}")
        if self.padding != "same":  # 'same' always fits: it pads by the whole effective kernel minus one
            errors += window_errors(in_shape, self.kernel_size, self.numeric_padding(), self.dilation)
        return errors or self._padding_mode_errors(in_shape)

    def _padding_mode_errors(self, in_shape: Shape) -> list[str]:
        """PyTorch pads with ``F.pad`` for the non-zero modes: a reflection needs padding < the side it reflects,
        wrapping around at most once needs padding ≤ the side."""
        if self.padding_mode not in ("reflect", "circular"):
            return []
        pads = (*self.numeric_padding(), *self.padding_after())
        sides = (in_shape[1], in_shape[2], in_shape[1], in_shape[2])
        too_big = [(p, s) for p, s in zip(pads, sides, strict=True) if (p >= s if self.padding_mode == "reflect"
                                                                         else p > s)]
        if not too_big:
            return []
        p, s = max(too_big)
        rule = "less than" if self.padding_mode == "reflect" else "at most"
        return [f"padding_mode {self.padding_mode!r} needs padding {rule} the input's side: padding {p} on a side "
                f"of {s} (PyTorch refuses it); use 'zeros' or less padding"]

    def numeric_padding(self) -> tuple[int, int]:
        """The padding on the top and on the left as numbers. With 'same' and an odd total ``dilation·(kernel − 1)``
        PyTorch pads one more on the bottom/right than this (see ``padding_after``)."""
        if self.padding == "valid":
            return 0, 0
        if self.padding == "same":
            (kh, kw), (dh, dw) = pair(self.kernel_size), pair(self.dilation)
            return dh * (kh - 1) // 2, dw * (kw - 1) // 2
        return pair(self.padding)

    def padding_after(self) -> tuple[int, int]:
        """The padding on the bottom and on the right as numbers (differs from ``numeric_padding`` only for 'same')."""
        if self.padding == "same":
            (kh, kw), (dh, dw) = pair(self.kernel_size), pair(self.dilation)
            top, left = self.numeric_padding()
            return dh * (kh - 1) - top, dw * (kw - 1) - left
        return self.numeric_padding()

    def output_shape(self, in_shape: Shape) -> Shape:
        (kh, kw), (sh, sw), (dh, dw) = pair(self.kernel_size), pair(self.stride), pair(self.dilation)
        (top, left), (bottom, right) = self.numeric_padding(), self.padding_after()
        return (self.out_channels, sliding_output(in_shape[1], kh, top, bottom, sh, dh),
                sliding_output(in_shape[2], kw, left, right, sw, dw))

    def _per_output(self, in_shape: Shape) -> int:
        kh, kw = pair(self.kernel_size)
        return kh * kw * (in_shape[0] // self.groups)

    def params(self, in_shape: Shape, out_shape: Shape) -> int:
        return (self._per_output(in_shape) + (1 if self.bias else 0)) * self.out_channels

    def macs(self, in_shape: Shape, out_shape: Shape) -> int:
        return out_shape[0] * out_shape[1] * out_shape[2] * self._per_output(in_shape)

    def receptive_field(self, field: Field, node: Node, inner: list[Field]) -> Field:
        return field.window(self.kernel_size, self.stride, self.dilation, self.numeric_padding())

    def formulas(self, node: Node) -> list[str]:
        i, o = node.in_shape, node.out_shape
        kh, kw = pair(self.kernel_size)
        cin = i[0] // self.groups
        lines = size_lines(i, self.kernel_size, self.stride, self.numeric_padding(), self.padding_after(),
                           self.dilation)
        if self.padding == "same":
            lines.append(self._same_note())
        per = f"{kh}·{kw}·{cin}"
        if self.bias:
            lines.append(f"params ({per} + 1)·{self.out_channels} = {n((kh * kw * cin + 1) * self.out_channels)}")
        else:
            lines.append(f"params {per}·{self.out_channels} = {n(kh * kw * cin * self.out_channels)}")
        if self.groups > 1:
            lines.append(f"groups {self.groups}: each filter sees {cin} of the {i[0]} input channels")
        lines.append(f"MACs {o[1]}·{o[2]}·{o[0]} outputs × {per} = {n(o[1] * o[2] * o[0] * kh * kw * cin)}")
        return lines

    def _same_note(self) -> str:
        (top, left), (bottom, right) = self.numeric_padding(), self.padding_after()
        if (top, bottom) == (left, right):
            sides = f"{top} each side" if top == bottom else f"{top} top/left, {bottom} bottom/right"
        else:
            sides = f"{top} top, {bottom} bottom, {left} left, {right} right"
        odd = " (PyTorch puts the odd one on the bottom/right)" if (top, left) != (bottom, right) else ""
        return f"'same' padding: {sides}{odd}"

    def describe(self) -> str:
        k = pair(self.kernel_size)
        text = f"conv2d {self.out_channels}@{k[0]}×{k[1]}"
        for short, name, default in (("s", "stride", 1), ("p", "padding", 0), ("g", "groups", 1)):
            if getattr(self, name) != default:
                text += f" {short}{_short_value(getattr(self, name))}"
        return text

    def inferred(self, in_shape: Shape) -> dict[str, Any]:
        return {"in_channels": in_shape[0]}


def _short_value(v: Any) -> str:
    if isinstance(v, tuple) and len(v) == 2 and all(is_int(x) for x in v):
        return f"{v[0]}×{v[1]}"
    return str(v)
