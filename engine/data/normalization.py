"""Per-channel normalisation statistics: the one type that says how pixels become a network's input.

Images are stored as ``uint8`` in [0, 255]; the loader scales them to [0, 1] and then, per channel,
``z = (x − mean) / std``, so that every input channel starts with zero mean and unit variance and no channel dominates
the first layer. The same statistics travel with everything that feeds the network afterwards: the run store keeps
them with a run, exports write them into the bundle, evaluation, the webcam and "Look inside" normalise with them, and
transfer learning folds one set into another (``engine.training.transfer.match_input_stats``).

Statistics of gray images have one value per list, of RGB images three. A network may take another number of channels
than the images have (``engine.data.loader.adapt_batch`` converts them): ``for_channels`` converts the statistics the
same way — gray repeated for RGB; RGB to gray with the luma weights, exact for the mean and, for the standard
deviation, exact when the channels move together (as they nearly do in photos; ``channel_stats(data, channels=1)``
measures it exactly).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

LUMA = (0.299, 0.587, 0.114)  # ITU-R 601, as PIL's "L" and engine.media.images.to_gray


@dataclass(frozen=True)
class Normalization:
    """Per-channel ``mean`` and ``std`` of pixels in [0, 1] units (one number each for gray, three for RGB)."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __post_init__(self) -> None:
        mean, std = _floats("mean", self.mean), _floats("std", self.std)
        if len(mean) != len(std) or len(mean) not in (1, 3):
            raise ValueError(f"normalisation needs a mean and a std of 1 (gray) or 3 (RGB) numbers each, got "
                             f"mean {self.mean!r} and std {self.std!r}")
        if any(s <= 0 for s in std):
            raise ValueError(f"every std must be positive, got {std}")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)

    @property
    def channels(self) -> int:
        return len(self.mean)

    @classmethod
    def coerce(cls, value: Normalization | Mapping[str, Any] | Sequence[Any] | None) -> Normalization | None:
        """A ``Normalization`` from itself, ``(mean, std)``, or ``{"mean": [...], "std": [...]}`` (a run's config,
        a bundle's meta); None stays None. ``ValueError`` for anything else."""
        if value is None or isinstance(value, Normalization):
            return value
        if isinstance(value, Mapping):
            if "mean" not in value or "std" not in value:
                raise ValueError(f"normalisation statistics need 'mean' and 'std', got keys {sorted(value)}")
            return cls(tuple(value["mean"]), tuple(value["std"]))
        if isinstance(value, Sequence | torch.Tensor) and len(value) == 2:
            return cls(_as_tuple(value[0]), _as_tuple(value[1]))
        raise ValueError(f"normalisation statistics must be (mean, std) or {{'mean': ..., 'std': ...}}, got {value!r}")

    def for_channels(self, channels: int) -> Normalization:
        """The statistics for a network input of ``channels`` (1 or 3) made from these images' channels."""
        if channels == self.channels:
            return self
        if channels == 3:
            return Normalization(self.mean * 3, self.std * 3)
        if channels == 1:
            return Normalization((sum(w * m for w, m in zip(LUMA, self.mean, strict=True)),),
                                 (sum(w * s for w, s in zip(LUMA, self.std, strict=True)),))
        raise ValueError(f"a network input has 1 (gray) or 3 (RGB) channels, got {channels!r}")

    def tensors(self, channels: int | None = None, device: torch.device | str | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and std as float32 ``(1, C, 1, 1)`` tensors, for ``channels`` (default: their own)."""
        n = self.for_channels(channels if channels is not None else self.channels)
        shape = (1, n.channels, 1, 1)
        return (torch.tensor(n.mean, dtype=torch.float32, device=device).view(shape),
                torch.tensor(n.std, dtype=torch.float32, device=device).view(shape))

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` float ``(B, C, H, W)`` in [0, 1] -> ``(x − mean) / std``."""
        mean, std = self.tensors(x.shape[1], x.device)
        return (x - mean) / std

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        """The inverse of ``normalize``: a network input ``(B, C, H, W)`` back in [0, 1] units (for drawing it)."""
        mean, std = self.tensors(x.shape[1], x.device)
        return x * std + mean

    def to_dict(self) -> dict[str, list[float]]:
        """``{"mean": [...], "std": [...]}``, as runs and bundles store it."""
        return {"mean": list(self.mean), "std": list(self.std)}

    def describe(self, channels: int | None = None) -> str:
        """"mean 0.286, std 0.353", or per channel "mean (0.485, 0.456, 0.406), std (...)"."""
        n = self.for_channels(channels if channels is not None else self.channels)
        if n.channels == 1:
            return f"mean {n.mean[0]:.3f}, std {n.std[0]:.3f}"
        return (f"mean ({', '.join(f'{m:.3f}' for m in n.mean)}), "
                f"std ({', '.join(f'{s:.3f}' for s in n.std)})")


def _as_tuple(v: Any) -> tuple:
    if isinstance(v, torch.Tensor):
        return tuple(v.flatten().tolist())
    if isinstance(v, int | float):
        return (v,)
    return tuple(v)


def _floats(name: str, values: Any) -> tuple[float, ...]:
    try:
        out = tuple(float(v) for v in _as_tuple(values))
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a list of numbers, got {values!r}") from None
    if not all(math.isfinite(v) for v in out):
        raise ValueError(f"{name} must be finite numbers, got {values!r}")
    return out
