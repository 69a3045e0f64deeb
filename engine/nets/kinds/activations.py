"""Elementwise kinds: the activations and dropout. None changes the shape; what sets them apart is what their backward
pass needs, which decides where an in-place one may go (docs/layer-kinds.md, "Valid means trainable").

ReLU: Nair & Hinton (2010); leaky ReLU: Maas et
al. (2013); ReLU6: Krizhevsky (2010). Dropout: Srivastava et al., "Dropout: A Simple Way to Prevent Neural Networks
from Overfitting" (2014).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from engine.nets.kinds.base import CANNOT_TRAIN, LayerSpec, Shape, arg, register
from engine.nets.kinds.common import check_bool, check_prob, is_number

_INPLACE = "Overwrite the input instead of allocating a new tensor (saves memory; not after a layer whose backward " \
           "needs its output)."


@dataclass(frozen=True)
class _Activation(LayerSpec):
    """An elementwise activation; ``inplace`` (when it has one) overwrites and returns its input."""

    family: ClassVar[str] = "activation"
    elementwise: ClassVar[bool] = True

    def check(self, in_shape: Shape) -> list[str]:
        errors: list[str] = []
        if hasattr(self, "inplace"):
            check_bool("inplace", self.inplace, errors)
        return errors

    def writes_input(self) -> bool:
        return getattr(self, "inplace", False) is True

    def aliases_input(self) -> bool:
        return self.writes_input()


@register
@dataclass(frozen=True)
class ReLU(_Activation):
    kind: ClassVar[str] = "relu"
    label: ClassVar[str] = "ReLU"
    torch_name: ClassVar[str] = "ReLU"

    inplace: bool = arg(False, _INPLACE)

    def saves_output(self) -> bool:
        return True  # threshold_backward(grad, result, 0)


@register
@dataclass(frozen=True)
class ReLU6(_Activation):
    kind: ClassVar[str] = "relu6"
    label: ClassVar[str] = "ReLU6"
    torch_name: ClassVar[str] = "ReLU6"

    inplace: bool = arg(False, _INPLACE)  # hardtanh's backward reads its input, in place or not


@register
@dataclass(frozen=True)
class LeakyReLU(_Activation):
    kind: ClassVar[str] = "leakyrelu"
    label: ClassVar[str] = "Leaky ReLU"
    torch_name: ClassVar[str] = "LeakyReLU"

    negative_slope: float = arg(0.01, "The slope for negative inputs (0 would be a ReLU).",
                                examples=(0.01, 0.2, 0.0, -0.1))
    inplace: bool = arg(False, _INPLACE)

    def check(self, in_shape: Shape) -> list[str]:
        errors = super().check(in_shape)
        if not is_number(self.negative_slope) or not math.isfinite(self.negative_slope):
            errors.insert(0, f"negative_slope must be a finite number, got {self.negative_slope!r}")
        return errors

    def saves_output(self) -> bool:
        return self.inplace is True  # in place, its backward reads the result; otherwise the input

    def backward_errors(self) -> list[str]:
        if self.inplace is True and self.negative_slope < 0:
            return [f"{CANNOT_TRAIN}in place with a negative slope ({self.negative_slope}) it has no backward pass in "
                    f"PyTorch (the input cannot be recovered from the output); turn inplace off or use a slope ≥ 0"]
        return []


@register
@dataclass(frozen=True)
class Sigmoid(_Activation):
    kind: ClassVar[str] = "sigmoid"
    label: ClassVar[str] = "Sigmoid"
    torch_name: ClassVar[str] = "Sigmoid"

    def saves_output(self) -> bool:
        return True  # σ'(x) = σ(x)(1 − σ(x))


@register
@dataclass(frozen=True)
class Tanh(_Activation):
    kind: ClassVar[str] = "tanh"
    label: ClassVar[str] = "Tanh"
    torch_name: ClassVar[str] = "Tanh"

    def saves_output(self) -> bool:
        return True  # tanh'(x) = 1 − tanh²(x)


class SeededDropout(nn.Dropout):
    """``nn.Dropout`` that draws its masks from ``generator`` when one is set (``Network.use_generator``), so a
    training job's dropout is a function of its own seed, whatever other jobs in the process draw (docs/architecture.md,
    "Randomness"). Without a generator it is exactly ``nn.Dropout``; it has no weights, so state dicts and generated
    code (``nn.Dropout``) are unaffected."""

    generator: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0 or self.generator is None:
            return super().forward(x)
        keep = 1.0 - self.p
        mask = torch.empty_like(x).bernoulli_(keep, generator=self.generator)  # 1 keeps, 0 drops
        scale = mask.div_(keep) if keep > 0 else mask  # p = 1 drops everything, as F.dropout does
        return x.mul_(scale) if self.inplace else x * scale


@register
@dataclass(frozen=True)
class Dropout(LayerSpec):
    kind: ClassVar[str] = "dropout"
    label: ClassVar[str] = "Dropout"
    torch_name: ClassVar[str] = "Dropout"
    family: ClassVar[str] = "regularisation"
    elementwise: ClassVar[bool] = True

    p: float = arg(0.5, "Probability of zeroing each activation during training.", step=0.05,
                   examples=(0.0, 0.2, 0.5, 1.0))
    inplace: bool = arg(False, _INPLACE)

    def check(self, in_shape: Shape) -> list[str]:
        errors: list[str] = []
        check_prob("p", self.p, errors)
        check_bool("inplace", self.inplace, errors)
        return errors

    def writes_input(self) -> bool:
        return self.inplace is True and self.p > 0  # p = 0 returns its input untouched

    def aliases_input(self) -> bool:
        return self.inplace is True or self.p == 0

    def build(self, in_shape: Shape) -> nn.Module:
        return SeededDropout(self.p, self.inplace)
