"""The loop's bookkeeping: images and seconds trained in a call, an epoch's clock, and the chunk of batches trained
since the loop last read the device (``engine.training.loop``)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch


@dataclass
class Tally:
    """Images trained and training seconds in this call (for its throughput)."""

    images: int = 0
    seconds: float = 0.0


class Clock:
    """An epoch's training time: the seconds before this call (a resumed epoch) plus the time since it started."""

    def __init__(self, batch: int, seconds_before: float):
        self.start = time.perf_counter()
        self.batch0, self.before, self.images = batch, seconds_before, 0

    def tick(self, batch: int, images: int) -> tuple[float, float]:
        """After ``images`` more images (now at ``batch``): (seconds per batch, images per second) in this call."""
        self.images += images
        elapsed = self.elapsed()
        return elapsed / max(batch - self.batch0, 1), self.images / max(elapsed, 1e-9)

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def seconds(self) -> float:
        return self.before + self.elapsed()


class Chunk:
    """The batches trained since the last read from the device: their losses as tensor references (appending costs no
    device work), their sizes and learning rates; read back together in ``read``."""

    def __init__(self) -> None:
        self.losses: list[torch.Tensor] = []
        self.sizes: list[int] = []
        self.lrs: list[float] = []

    def __len__(self) -> int:
        return len(self.sizes)

    def add(self, loss: torch.Tensor, size: int, lr: float) -> None:
        self.losses.append(loss.detach())
        self.sizes.append(size)
        self.lrs.append(lr)

    def read(self) -> list[float]:
        """Each batch's loss; waits for the device."""
        return torch.stack(self.losses).float().tolist()
