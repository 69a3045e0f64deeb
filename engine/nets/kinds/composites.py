"""Composite kinds: blocks of nested layer sequences. A residual block adds its body's output to a shortcut of its
input (He et al., "Deep Residual Learning for Image Recognition", 2015); an inception block runs branches side by
side on the same input and concatenates them on channels (Szegedy et al., "Going Deeper with Convolutions", 2014).

The modules they build, ``ResidualBlock`` and ``InceptionBlock``, are also what generated code defines: codegen copies
their source from here, so the file a student downloads computes exactly what the playground built.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import torch
from torch import nn

from engine.conv.arithmetic import sliding_output
from engine.nets.kinds.activations import ReLU
from engine.nets.kinds.base import LayerSpec, Path, Shape, arg, batch_shape, indent, register, sequential_code
from engine.nets.kinds.common import n, needs_image
from engine.nets.kinds.conv import Conv2d
from engine.nets.kinds.norm import BatchNorm2d
from engine.nets.kinds.pool import MaxPool2d
from engine.nets.receptive import Field
from engine.units import format_shape, plural

if TYPE_CHECKING:
    from engine.nets.analysis import Node

SHORTCUTS = ("identity", "projection")


class ResidualBlock(nn.Module):
    """out = body(x) + shortcut(x): the residual connection of He et al., "Deep Residual Learning" (2015).

    The shortcut is nn.Identity() when the body keeps the shape, else a 1x1 convolution and batch norm that give x
    the body's output channels and stride. A body with an in-place layer gets a copy of x: it would otherwise
    overwrite the x that the shortcut adds.
    """

    def __init__(self, body: nn.Module, shortcut: nn.Module):
        super().__init__()
        self.body = body
        self.shortcut = shortcut
        self.copy_input = any(getattr(m, "inplace", False) is True for m in body.modules())

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, C', H', W')
        return self.body(x.clone() if self.copy_input else x) + self.shortcut(x)


class InceptionBlock(nn.Module):
    """Parallel branches, each fed the same input, concatenated on the channel axis.

    Szegedy et al., "Going Deeper with Convolutions" (2014). An empty branch passes x through unchanged; a branch with
    an in-place layer gets a copy of x, so that every branch sees the block's input.
    """

    def __init__(self, branches: list[nn.Module]):
        super().__init__()
        self.branches = nn.ModuleList(branches)
        self.copy_input = [any(getattr(m, "inplace", False) is True for m in b.modules()) for b in branches]

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, sum of branch channels, H, W)
        outs = [branch(x.clone() if copy else x) for branch, copy in zip(self.branches, self.copy_input, strict=True)]
        return torch.cat(outs, dim=1)


@functools.cache
def _source(cls: type) -> str:
    return inspect.getsource(cls)


@register
@dataclass(frozen=True)
class Residual(LayerSpec):
    """A body of layers plus a shortcut, added. ``shortcut``: "identity", or "projection" — a 1×1 convolution
    (no bias) and batch normalisation that match the body's output channels and stride (ResNet's option B)."""

    kind: ClassVar[str] = "residual"
    label: ClassVar[str] = "Residual block"
    torch_name: ClassVar[str] = "ResidualBlock"
    family: ClassVar[str] = "composite"

    body: tuple[LayerSpec, ...] = arg((), "The layers whose output is added to the shortcut.")
    shortcut: str = arg("identity", "identity: add the input as it is; projection: a 1×1 conv + BN matches channels "
                                    "and stride.", choices=SHORTCUTS)

    def sequences(self) -> tuple[tuple[str, Path, tuple[LayerSpec, ...]], ...]:
        return (("body", ("body",), self.body),)

    def with_sequences(self, sequences: tuple[tuple[LayerSpec, ...], ...]) -> LayerSpec:
        (body,) = sequences
        return dataclasses.replace(self, body=body)

    def check(self, in_shape: Shape) -> list[str]:
        # the body's own layers are checked (and reported) on their own rows; here only the block's arguments
        if self.shortcut not in SHORTCUTS:
            return [f"shortcut must be 'identity' or 'projection', got {self.shortcut!r}"]
        return []

    def join(self, in_shape: Shape, ends: list[Shape]) -> tuple[Shape | None, list[str]]:
        (body_shape,) = ends
        if self.shortcut == "identity":
            if body_shape != in_shape:
                return None, [f"the body turns {format_shape(in_shape)} into {format_shape(body_shape)}, so it cannot "
                              f"be added to the identity shortcut; use shortcut 'projection' or keep the shape"]
            return body_shape, []
        if len(in_shape) != 3 or len(body_shape) != 3:
            return None, ["a projection shortcut needs image-shaped input and body output"]
        if self.projection_stride(in_shape, body_shape) is None:
            return None, [f"the body shrinks {in_shape[1]}×{in_shape[2]} to {body_shape[1]}×{body_shape[2]}, which no "
                          f"1×1 strided projection reproduces; the body must keep the size or divide it by its stride"]
        return body_shape, []

    @staticmethod
    def projection_stride(in_shape: Shape, body_shape: Shape) -> tuple[int, int] | None:
        """The stride s with which a 1×1 convolution turns the input's size into the body's, if one exists."""
        strides = []
        for size, target in zip(in_shape[1:], body_shape[1:], strict=True):
            s = max(1, -(-size // target))
            if sliding_output(size, 1, 0, 0, s) != target:
                return None
            strides.append(s)
        return strides[0], strides[1]

    def params(self, in_shape: Shape, out_shape: Shape) -> int:
        return in_shape[0] * out_shape[0] + 2 * out_shape[0] if self.shortcut == "projection" else 0

    def macs(self, in_shape: Shape, out_shape: Shape) -> int:
        return out_shape[0] * out_shape[1] * out_shape[2] * in_shape[0] if self.shortcut == "projection" else 0

    def receptive_field(self, field: Field, node: Node, inner: list[Field]) -> Field:
        if self.shortcut == "identity":
            return Field.union([inner[0], field])
        return Field.union([inner[0], field.window(1, self.projection_stride(node.in_shape, node.out_shape))])

    def formulas(self, node: Node) -> list[str]:
        i, o = node.in_shape, node.out_shape
        if self.shortcut == "identity":
            return ["out = body(x) + x", f"{format_shape(i)} → {format_shape(o)}"]
        sh, sw = self.projection_stride(i, o)
        stride = f"stride {sh}" if sh == sw else f"stride {sh}×{sw}"
        return ["out = body(x) + BN(conv1×1(x))", f"{format_shape(i)} → {format_shape(o)}",
                f"shortcut: 1×1 conv {i[0]}→{o[0]}, {stride}, and batch norm: {i[0]}·{o[0]} + 2·{o[0]} = "
                f"{n(self.params(i, o))} params"]

    def describe(self) -> str:
        return f"residual ({plural(len(self.body), 'layer')}, {self.shortcut})"

    def module(self, node: Node, inner: list[list[nn.Module]]) -> nn.Module:
        return ResidualBlock(nn.Sequential(*inner[0]), self._shortcut(node.in_shape, node.out_shape))

    def _shortcut(self, in_shape: Shape, body_shape: Shape) -> nn.Module:
        if self.shortcut == "identity":
            return nn.Identity()
        stride = self.projection_stride(in_shape, body_shape)
        return nn.Sequential(nn.Conv2d(in_shape[0], body_shape[0], 1, stride, bias=False),
                             nn.BatchNorm2d(body_shape[0]))

    def code(self, node: Node, inner: list[list[str]]) -> list[str]:
        i, o = node.in_shape, node.out_shape
        if self.shortcut == "identity":
            shortcut = ["shortcut=nn.Identity(),"]
        else:
            sh, sw = self.projection_stride(i, o)
            stride = "" if (sh, sw) == (1, 1) else f", stride={sh if sh == sw else (sh, sw)}"
            shortcut = ["shortcut=nn.Sequential(  # projection: gives x the body's output channels and size",
                        f"    nn.Conv2d({i[0]}, {o[0]}, kernel_size=1{stride}, bias=False),  # -> {batch_shape(o)}",
                        f"    nn.BatchNorm2d({o[0]}),", "),"]
        body = sequential_code(inner[0], "body=", ",")
        return ["ResidualBlock(", *indent(body), *indent(shortcut), ")"]

    def code_classes(self) -> tuple[str, ...]:
        return (_source(ResidualBlock),)

    @classmethod
    def example(cls) -> LayerSpec:
        return cls(body=(Conv2d(out_channels=8, padding=1), BatchNorm2d(), ReLU(), Conv2d(out_channels=8, padding=1),
                         BatchNorm2d()), shortcut="projection")


@register
@dataclass(frozen=True)
class Inception(LayerSpec):
    """Parallel branches of layers, each fed the same input, concatenated on the channel axis.
    An empty branch passes the input through unchanged."""

    kind: ClassVar[str] = "inception"
    label: ClassVar[str] = "Inception block"
    torch_name: ClassVar[str] = "InceptionBlock"
    family: ClassVar[str] = "composite"

    branches: tuple[tuple[LayerSpec, ...], ...] = arg(((),), "The branches, each a sequence of layers.")

    def sequences(self) -> tuple[tuple[str, Path, tuple[LayerSpec, ...]], ...]:
        return tuple((f"branch {b + 1}", ("branches", b), branch) for b, branch in enumerate(self.branches))

    def with_sequences(self, sequences: tuple[tuple[LayerSpec, ...], ...]) -> LayerSpec:
        return dataclasses.replace(self, branches=tuple(sequences))

    def new_sequence(self) -> tuple[LayerSpec, ...] | None:
        return (Conv2d(out_channels=8, kernel_size=1),)

    def check(self, in_shape: Shape) -> list[str]:
        if not self.branches:
            return ["an inception block needs at least one branch"]
        return needs_image(in_shape, "an inception block")

    def join(self, in_shape: Shape, ends: list[Shape]) -> tuple[Shape | None, list[str]]:
        if any(len(s) != 3 for s in ends):
            return None, ["every branch must end image-shaped (C×H×W) to be concatenated on channels"]
        if len({s[1:] for s in ends}) > 1:
            sizes = ", ".join(f"branch {i + 1}: {s[1]}×{s[2]}" for i, s in enumerate(ends))
            return None, [f"branches end at different sizes ({sizes}); to concatenate on channels they must agree — "
                          f"use 'same' padding and stride 1"]
        return (sum(s[0] for s in ends), *ends[0][1:]), []

    def receptive_field(self, field: Field, node: Node, inner: list[Field]) -> Field:
        return Field.union(inner)

    def formulas(self, node: Node) -> list[str]:
        i, o = node.in_shape, node.out_shape
        ends = [seq[-1].out_shape[0] if seq else i[0] for seq in node.children.values()]
        return [f"channels {' + '.join(map(str, ends))} = {o[0]} (branches concatenated)"]

    def describe(self) -> str:
        return f"inception ({len(self.branches)} branches)"

    def module(self, node: Node, inner: list[list[nn.Module]]) -> nn.Module:
        return InceptionBlock([nn.Sequential(*seq) for seq in inner])

    def code(self, node: Node, inner: list[list[str]]) -> list[str]:
        lines = ["InceptionBlock(", "    ["]
        for b, seq in enumerate(inner):
            lines += indent(sequential_code(seq, end=",", comment=f"branch {b + 1}"), 2)
        return [*lines, "    ],", ")"]

    def code_classes(self) -> tuple[str, ...]:
        return (_source(InceptionBlock),)

    @classmethod
    def example(cls) -> LayerSpec:
        return cls(branches=((Conv2d(out_channels=8, kernel_size=1),),
                             (Conv2d(out_channels=8, kernel_size=3, padding=1),),
                             (MaxPool2d(kernel_size=3, stride=1, padding=1),)))
