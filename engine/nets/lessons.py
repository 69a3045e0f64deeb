"""Small computed lessons built on the summary: the cost of a 1×1 bottleneck (Lin et al., "Network in Network",
2013; Szegedy et al., "Going Deeper with Convolutions", 2014)."""

from __future__ import annotations

from dataclasses import dataclass

from engine.nets.spec import Conv2d, NetworkSpec
from engine.nets.summary import summary


@dataclass(frozen=True)
class Cost:
    spec: NetworkSpec
    macs: int
    params: int
    out_shape: tuple[int, ...]
    stage_macs: tuple[int, ...] = ()  # the multiplications of each layer in turn


@dataclass(frozen=True)
class BottleneckLesson:
    direct: Cost
    bottleneck: Cost

    @property
    def first_macs(self) -> int:
        """The multiplications of the 1×1 convolution alone."""
        return self.bottleneck.stage_macs[0]

    @property
    def saving(self) -> float:
        """How many times fewer multiplications the bottleneck needs."""
        return self.direct.macs / self.bottleneck.macs


def bottleneck_lesson(h: int = 28, w: int = 28, c_in: int = 192, c_out: int = 32, f: int = 5,
                      c_mid: int = 16) -> BottleneckLesson:
    """An f×f "same" convolution from c_in to c_out channels on h×w, against a 1×1 convolution down to c_mid
    channels followed by the same f×f convolution. Both are summarised by the engine (shapes from PyTorch).
    The course's numbers (28×28×192 → 32 with 5×5; bottleneck 16) give ≈120M against ≈12.4M multiplications."""
    for name, v in (("h", h), ("w", w), ("c_in", c_in), ("c_out", c_out), ("f", f), ("c_mid", c_mid)):
        if not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    direct = NetworkSpec((c_in, h, w), (Conv2d(c_out, f, padding="same", bias=False),))
    neck = NetworkSpec((c_in, h, w), (Conv2d(c_mid, 1, bias=False), Conv2d(c_out, f, padding="same", bias=False)))
    return BottleneckLesson(_cost(direct), _cost(neck))


def _cost(spec: NetworkSpec) -> Cost:
    s = summary(spec)
    if not s.ok:
        raise ValueError("; ".join(s.errors))
    return Cost(spec, s.total_macs, s.total_params, s.output_shape, tuple(r.macs for r in s.rows if r.depth == 0))
