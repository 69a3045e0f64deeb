"""Pooling kinds: max, average and adaptive average pooling (``torch.nn.MaxPool2d``, ``AvgPool2d``,
``AdaptiveAvgPool2d``). Max pooling after Ranzato et al., "Unsupervised Learning of Invariant Feature Hierarchies"
(2007); adaptive pooling's windows as PyTorch computes them (output i pools [⌊i·n/m⌋, ⌈(i+1)·n/m⌉))."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Union

from engine.conv.arithmetic import sliding_output
from engine.nets.kinds.base import CANNOT_TRAIN, LayerSpec, Shape, arg, register
from engine.nets.kinds.common import check_bool, check_ints, is_int, needs_image, pair, size_lines, window_errors
from engine.nets.receptive import Field

if TYPE_CHECKING:
    from engine.nets.analysis import Node

IntOrPair = Union[int, tuple[int, int]]  # noqa: UP007 - kept as Union so the JSON coercion can read it
OptionalPair = Union[int, tuple[int, int], None]  # noqa: UP007 - None: the stride is the kernel size

_KERNEL = "The window's size (f×f)."
_STRIDE = "How far the window moves each step; ticked: as far as the window is wide (torch's default)."
_PADDING = "Padding on each side (at most half the window; max pooling pads with −∞, average pooling with zeros)."
_CEIL = "Round the output size up instead of down: a last, partial window is kept when it starts inside the input."


@dataclass(frozen=True)
class _Pool(LayerSpec):
    """What max and average pooling share: a window moved over each channel, nothing learned."""

    family: ClassVar[str] = "pool"
    what: ClassVar[str] = "pooling"

    def _stride(self) -> Any:
        return self.kernel_size if self.stride is None else self.stride

    def _dilation(self) -> Any:
        return 1

    def check(self, in_shape: Shape) -> list[str]:
        errors = needs_image(in_shape, self.what)
        check_ints("kernel_size", self.kernel_size, 1, errors)
        if self.stride is not None:
            check_ints("stride", self.stride, 1, errors)
        check_ints("padding", self.padding, 0, errors)
        check_bool("ceil_mode", self.ceil_mode, errors)
        check_ints("dilation", self._dilation(), 1, errors)
        if errors:
            return errors
        (kh, kw), (ph, pw) = pair(self.kernel_size), pair(self.padding)
        if ph > kh // 2 or pw > kw // 2:
            errors.append(f"padding {self.padding} must be at most half the kernel size {self.kernel_size} "
                          f"(PyTorch's rule for pooling)")
        errors += window_errors(in_shape, self.kernel_size, self.padding, self._dilation(), self._stride(),
                                self.ceil_mode)
        return errors

    def output_shape(self, in_shape: Shape) -> Shape:
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = (pair(self.kernel_size), pair(self._stride()), pair(self.padding),
                                                  pair(self._dilation()))
        return (in_shape[0], sliding_output(in_shape[1], kh, ph, ph, sh, dh, self.ceil_mode),
                sliding_output(in_shape[2], kw, pw, pw, sw, dw, self.ceil_mode))

    def receptive_field(self, field: Field, node: Node, inner: list[Field]) -> Field:
        return field.window(self.kernel_size, self._stride(), self._dilation(), self.padding)

    def formulas(self, node: Node) -> list[str]:
        lines = size_lines(node.in_shape, self.kernel_size, self._stride(), self.padding, None, self._dilation(),
                           self.ceil_mode)
        return [*lines, f"channels stay {node.in_shape[0]}; params 0 (pooling has nothing to learn)"]

    def describe(self) -> str:
        return f"{self.kind} {self.kernel_size}" + (f" s{self.stride}" if self.stride is not None else "")


@register
@dataclass(frozen=True)
class MaxPool2d(_Pool):
    kind: ClassVar[str] = "maxpool2d"
    label: ClassVar[str] = "Max pooling 2D"
    torch_name: ClassVar[str] = "MaxPool2d"
    what: ClassVar[str] = "max pooling"

    kernel_size: IntOrPair = arg(2, _KERNEL, examples=(1, 2, 3, 4, (2, 3)))
    stride: OptionalPair = arg(None, _STRIDE, none="stride = kernel size", none_from="kernel_size",
                               examples=(None, 1, 2, 3, (1, 2)))
    padding: IntOrPair = arg(0, _PADDING, examples=(0, 1, 2))
    dilation: IntOrPair = arg(1, "Spacing between the window's taps; 1 = a solid window.", examples=(1, 2, 3))
    ceil_mode: bool = arg(False, _CEIL)

    def _dilation(self) -> Any:
        return self.dilation

    def check(self, in_shape: Shape) -> list[str]:
        return super().check(in_shape) or self._empty_window_errors(in_shape)

    def _empty_window_errors(self, in_shape: Shape) -> list[str]:
        """A dilated window can skip over the whole input and read padding only: its maximum is −∞ with no input
        pixel behind it, and PyTorch's backward then writes gradients outside the tensor (heap corruption that
        kills the process). Taps less than a side apart cannot step over it, and only the first ⌈p/s⌉ outputs start
        in the padding, so only those windows of a dilation wider than the side are looked at."""
        out = self.output_shape(in_shape)
        for axis, name in ((0, "row"), (1, "column")):
            size, k, s, p, d = (in_shape[1 + axis], pair(self.kernel_size)[axis], pair(self._stride())[axis],
                                pair(self.padding)[axis], pair(self.dilation)[axis])
            if d <= size:
                continue
            for u in range(min(out[1 + axis], -(-p // s))):
                start = u * s - p
                taps = [start + i * d for i in range(k)]
                if not any(0 <= t < size for t in taps):
                    where = ", ".join(map(str, taps))
                    return [f"{CANNOT_TRAIN}the window of output {name} {u} reads only padding (positions {where} "
                            f"of a {size}-pixel side), so its maximum has no input pixel and PyTorch's backward pass "
                            f"would corrupt memory; use less padding or a smaller dilation"]
        return []


@register
@dataclass(frozen=True)
class AvgPool2d(_Pool):
    kind: ClassVar[str] = "avgpool2d"
    label: ClassVar[str] = "Average pooling 2D"
    torch_name: ClassVar[str] = "AvgPool2d"
    what: ClassVar[str] = "average pooling"

    kernel_size: IntOrPair = arg(2, _KERNEL, examples=(1, 2, 3, 4, (2, 3)))
    stride: OptionalPair = arg(None, _STRIDE, none="stride = kernel size", none_from="kernel_size",
                               examples=(None, 1, 2, 3))
    padding: IntOrPair = arg(0, _PADDING, examples=(0, 1, 2))
    ceil_mode: bool = arg(False, _CEIL)
    count_include_pad: bool = arg(True, "Count the zeros of the padding in each average's divisor.")
    divisor_override: int | None = arg(None, "Divide every sum by this number instead of the window's size.",
                                       none="no override", none_value=1, examples=(None, 1, 3, -2))

    def check(self, in_shape: Shape) -> list[str]:
        errors = super().check(in_shape)
        check_bool("count_include_pad", self.count_include_pad, errors)
        d = self.divisor_override
        if d is not None and not (is_int(d) and d != 0):
            errors.append(f"divisor_override must be a non-zero integer (or none), got {d!r}")
        elif d is not None:
            check_ints("divisor_override", abs(d), 1, errors, allow_pair=False)
        return errors


@register
@dataclass(frozen=True)
class AdaptiveAvgPool2d(LayerSpec):
    kind: ClassVar[str] = "adaptiveavgpool2d"
    label: ClassVar[str] = "Adaptive average pooling 2D"
    torch_name: ClassVar[str] = "AdaptiveAvgPool2d"
    family: ClassVar[str] = "pool"

    output_size: IntOrPair = arg(1, "The output's fixed height and width, whatever the input size.",
                                 examples=(1, 2, 3, 5, (2, 3)))

    def check(self, in_shape: Shape) -> list[str]:
        errors = needs_image(in_shape, "adaptive pooling")
        check_ints("output_size", self.output_size, 1, errors)
        return errors

    def output_shape(self, in_shape: Shape) -> Shape:
        return (in_shape[0], *pair(self.output_size))

    def receptive_field(self, field: Field, node: Node, inner: list[Field]) -> Field:
        return field.adaptive(node.in_shape[1:], node.out_shape[1:])

    def formulas(self, node: Node) -> list[str]:
        i, o = node.in_shape, node.out_shape
        return [f"out fixed at {o[1]}×{o[2]} whatever the input ({i[1]}×{i[2]}); params 0"]
