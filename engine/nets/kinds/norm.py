"""The normalisation kind: ``torch.nn.BatchNorm2d``, its channels inferred. Ioffe & Szegedy, "Batch Normalization:
Accelerating Deep Network Training by Reducing Internal Covariate Shift" (2015)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from engine.nets.kinds.base import LayerSpec, Shape, arg, register
from engine.nets.kinds.common import check_bool, check_positive, check_prob, needs_image

if TYPE_CHECKING:
    from engine.nets.analysis import Node


@register
@dataclass(frozen=True)
class BatchNorm2d(LayerSpec):
    kind: ClassVar[str] = "batchnorm2d"
    label: ClassVar[str] = "Batch normalisation 2D"
    torch_name: ClassVar[str] = "BatchNorm2d"
    family: ClassVar[str] = "norm"
    elementwise: ClassVar[bool] = True

    eps: float = arg(1e-5, "Added to the variance before the square root, for stability.", examples=(1e-5, 1e-3))
    momentum: float | None = arg(0.1, "Running-statistics momentum; unchecked = cumulative average (None).",
                                 none="cumulative average", none_value=0.1, examples=(0.1, None, 0.5))
    affine: bool = arg(True, "Learn a scale γ and a shift β per channel.")
    track_running_stats: bool = arg(True, "Keep running mean and variance for evaluation (else batch statistics "
                                          "are used then too).")

    def check(self, in_shape: Shape) -> list[str]:
        errors = needs_image(in_shape, "batch normalisation 2D")
        check_positive("eps", self.eps, errors)
        if self.momentum is not None:
            check_prob("momentum", self.momentum, errors)
        check_bool("affine", self.affine, errors)
        check_bool("track_running_stats", self.track_running_stats, errors)
        return errors

    def params(self, in_shape: Shape, out_shape: Shape) -> int:
        return 2 * in_shape[0] if self.affine else 0

    def formulas(self, node: Node) -> list[str]:
        if not self.affine:
            return ["params 0 (affine off); running mean and variance are buffers"]
        c = node.in_shape[0]
        return [f"params 2·{c} = {2 * c} (γ and β per channel; running mean/var are buffers)"]

    def inferred(self, in_shape: Shape) -> dict[str, Any]:
        return {"num_features": in_shape[0]}
