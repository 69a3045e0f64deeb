"""From stored images to what the network takes: channels, size, normalisation, augmentation, batches.

A network built for ``(C, H, W)`` input gets every image adapted the same way, in training and in prediction:
gray repeated to three channels (or RGB turned to gray with the luma weights), resized to ``H×W`` (bilinear,
antialiased when shrinking: ``resize``), then normalised per channel to zero mean and unit variance with the training
set's statistics — so that no input channel dominates and the first layer's weights start in a sensible range.

``make_loader`` works on whole batches: the DataLoader hands a batch's indices to ``__getitems__``, which gathers the
uint8 images, augments them (``engine.data.augment``) and adapts them in a few tensor ops. With ``num_workers > 0``
that runs in worker processes while the model trains on the previous batch.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, get_worker_info

from engine.data.augment import AugmentConfig, augment_batch, check_targets, pca_basis
from engine.data.normalization import LUMA, Normalization
from engine.data.types import ImageSet

StatsLike = Normalization | tuple | dict | None  # what the public functions accept (Normalization.coerce)
Collate = Callable[[Any], Any]  # a task's batching of the targets (engine.training.tasks.Task.collate)


def channel_stats(data: ImageSet, channels: int | None = None) -> Normalization:
    """Per-channel mean and standard deviation of all pixels of ``data``, in [0, 1] units (population std).
    ``channels`` (1 or 3) computes them after the same channel conversion the loader applies."""
    x = data.images
    c = x.shape[1] if channels is None else channels
    _check_channels(c)
    total = torch.zeros(c, dtype=torch.float64)
    squares = torch.zeros(c, dtype=torch.float64)
    count = 0
    for start in range(0, len(x), 4096):  # in chunks: 60,000 images as float64 at once would be 376 MB
        chunk = _convert_channels(x[start : start + 4096].double() / 255.0, c)  # (b, c, H, W)
        total += chunk.sum(dim=(0, 2, 3))
        squares += chunk.square().sum(dim=(0, 2, 3))
        count += chunk.shape[0] * chunk.shape[2] * chunk.shape[3]
    if count == 0:
        raise ValueError("channel_stats needs at least one image")
    mean = total / count
    std = (squares / count - mean.square()).clamp_min(0).sqrt().clamp_min(1e-6)  # a constant channel: no 0 division
    return Normalization(tuple(float(m) for m in mean), tuple(float(s) for s in std))


def adapt_batch(x: torch.Tensor, input_shape: tuple[int, int, int], stats: StatsLike) -> torch.Tensor:
    """Adapt images to a network's input: ``x`` ``(B, C, H, W)`` uint8 (or float in [0, 1]) → float32
    ``(B, *input_shape)``: channels converted, resized, normalised with ``stats`` (None: left in [0, 1])."""
    c_in, h_in, w_in = _check_input_shape(input_shape)
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"images must be (B, 1 or 3, H, W), got shape {tuple(x.shape)}")
    x = x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()
    x = _convert_channels(x, c_in)
    if tuple(x.shape[2:]) != (h_in, w_in):
        x = resize(x, (h_in, w_in))
    stats = Normalization.coerce(stats)
    if stats is not None:
        x = stats.normalize(x)
    return x.contiguous()


def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``x`` float ``(B, C, H, W)`` resized to ``size`` = ``(h, w)``: bilinear, antialiased along an axis that
    shrinks — ``F.interpolate(..., mode="bilinear", align_corners=False, antialias=shrinking)``, to float rounding.

    Resizing is separable: each axis is a linear map, a ``(new, old)`` matrix of interpolation weights, so the image
    becomes ``M_h @ x @ M_wᵀ``. The matrices are made once per size pair by resizing an identity with
    ``F.interpolate`` itself; two matrix products then cost a fraction of its pixel loop on a CPU (a batch of 64
    digits from 28×28 to 32×32: ~0.1 ms against ~0.4 ms on one core, and far less contention on a busy one)."""
    b, c, h, w = x.shape
    h2, w2 = size
    out = (x.reshape(b * c * h, w) @ _resize_matrix(w, w2).T).reshape(b * c, h, w2)  # each row across
    return (_resize_matrix(h, h2) @ out).reshape(b, c, h2, w2)  # each column down


@functools.lru_cache(maxsize=64)
def _resize_matrix(old: int, new: int) -> torch.Tensor:
    """``(new, old)`` float32: row ``i`` holds the weights of the ``old`` input pixels in output pixel ``i``. Made
    outside inference mode (a prediction may ask first), so the cached tensor serves every caller."""
    with torch.inference_mode(False):
        eye = torch.eye(old, dtype=torch.float32)[None, None]  # (1, 1, old, old): column j is pixel j alone
        return F.interpolate(eye, size=(new, old), mode="bilinear", align_corners=False, antialias=new < old)[0, 0]


def describe_adaptation(image_shape: tuple[int, int, int], input_shape: tuple[int, int, int],
                        stats: StatsLike) -> str:
    """In words, what ``adapt_batch`` does: "28×28 gray → resized to 32×32, 1 channel; normalised with mean 0.286,
    std 0.353"."""
    c, h, w = image_shape
    c_in, h_in, w_in = _check_input_shape(input_shape)
    kind = "gray" if c == 1 else "RGB"
    steps = []
    if (h, w) != (h_in, w_in):
        steps.append(f"resized to {h_in}×{w_in}")
    if c != c_in:
        steps.append("gray repeated to 3 channels" if c_in == 3 else "turned to gray (0.299 R + 0.587 G + 0.114 B)")
    else:
        steps.append(f"{c_in} channel{'s' * (c_in != 1)}")
    changed = (h, w) != (h_in, w_in) or c != c_in
    text = f"{h}×{w} {kind} → " + ", ".join(steps) if changed else f"{h}×{w} {kind}, as stored"
    stats = Normalization.coerce(stats)
    if stats is None:
        return f"{text}; not normalised (values in [0, 1])"
    per = "" if c_in == 1 else " per channel"
    return f"{text}; normalised{per} with {stats.describe(c_in)}"


class BatchDataset(Dataset):
    """An ImageSet served a batch at a time: ``__getitems__(indices)`` → ``(x float32 (B, *input_shape), target)``,
    augmented (when configured) then adapted. ``target`` is ``collate(targets.batch(indices))`` — a task's own
    batching (``engine.training.tasks``, ``Task.collate``) — or, without ``collate``, the targets' batch as it is
    (``(B,)`` int64 for class ids). Targets that are positions in the image are scaled to the input's size once,
    here. Reproducible: the augmentation's generator is seeded by ``seed`` (in a worker process, by the worker's
    seed, which the DataLoader derives from its own seeded generator)."""

    def __init__(self, data: ImageSet, input_shape: tuple[int, int, int], augment: AugmentConfig | None,
                 stats: StatsLike, seed: int, collate: Collate | None = None) -> None:
        stats = Normalization.coerce(stats)
        self.data, self.input_shape, self.stats, self.seed = data, _check_input_shape(input_shape), stats, seed
        self.augment = augment if augment is not None and augment.active else None
        check_targets(self.augment, data.targets)
        self.targets = data.targets.resized(data.image_shape[1:], self.input_shape[1:])
        self.collate = collate
        need_pca = self.augment is not None and self.augment.pca_color and data.images.shape[1] == 3
        self.pca = pca_basis(data.images) if need_pca else None
        self._gen: torch.Generator | None = None
        if stats is not None:
            stats.for_channels(self.input_shape[0])  # fail now, not in the first batch

    def __len__(self) -> int:
        return len(self.data)

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, Any]:
        idx = torch.as_tensor(indices, dtype=torch.int64)
        x = self.data.images[idx]  # (B, C, H, W) uint8
        if self.augment is not None:
            x = augment_batch(x, self.augment, self.generator, self.pca)
        target = self.targets.batch(idx)
        return adapt_batch(x, self.input_shape, self.stats), target if self.collate is None else self.collate(target)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, Any]:
        x, y = self.__getitems__([index])
        return x[0], y[0] if isinstance(y, torch.Tensor) else y

    @property
    def generator(self) -> torch.Generator:
        if self._gen is None:
            info = get_worker_info()
            self._gen = torch.Generator().manual_seed(info.seed if info is not None else self.seed + 0xA06)
        return self._gen

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_gen"] = None  # each worker process seeds its own
        return state


def make_loader(data: ImageSet, input_shape: tuple[int, int, int], *, batch_size: int, shuffle: bool, seed: int,
                augment: AugmentConfig | None = None, stats: StatsLike = None, num_workers: int = 0,
                drop_last: bool = False, pin_memory: bool = False, collate: Collate | None = None) -> DataLoader:
    """Batches of ``(x float32 (B, *input_shape), target)`` — for class ids ``(B,)`` int64; with ``collate``, what it
    makes of the targets' batch (see ``BatchDataset``) — adapted (``adapt_batch``) and normalised with ``stats``
    (give the *training* set's ``channel_stats`` to the training and the validation loader alike), augmented when
    ``augment`` is on (training only; ``ValueError`` when it would move pixels that the targets locate). Shuffled by
    a generator seeded with ``seed``: the same seed gives the same batches, epoch after epoch. ``collate`` must be
    picklable for ``num_workers > 0`` (a module-level function, or a method of a frozen dataclass)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
        raise ValueError(f"num_workers must be a non-negative integer, got {num_workers!r}")
    dataset = BatchDataset(data, input_shape, augment, stats, seed, collate)
    return DataLoader(
        dataset, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, num_workers=num_workers,
        collate_fn=_as_is, generator=torch.Generator().manual_seed(seed), pin_memory=pin_memory,
        persistent_workers=num_workers > 0,
    )


def preview_augmentations(data: ImageSet, augment: AugmentConfig, n: int = 16, seed: int = 0,
                          index: int | None = None) -> torch.Tensor:
    """``n`` augmented samples for a preview grid: ``(n, C, H, W)`` float in [0, 1] at the stored size. Different
    images chosen by ``seed``, or image ``index`` ``n`` times (to see the variety of one). PCA colour uses ``data``'s
    own colour basis."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if len(data) == 0:
        raise ValueError("no images to preview")
    if index is not None:
        if not 0 <= index < len(data):
            raise ValueError(f"index must be in [0, {len(data)}), got {index!r}")
        idx = torch.full((n,), index, dtype=torch.int64)
    else:
        rng = np.random.default_rng([seed, 0x9EE])
        idx = torch.as_tensor(rng.choice(len(data), size=n, replace=n > len(data)), dtype=torch.int64)
    x = data.images[idx]
    gen = torch.Generator().manual_seed(seed)
    pca = pca_basis(data.images) if augment.pca_color and x.shape[1] == 3 else None
    return augment_batch(x, augment, gen, pca)


# --------------------------------------------------------------------------------------------------------- helpers


def _as_is(batch: tuple[torch.Tensor, Any]) -> tuple[torch.Tensor, Any]:
    """The collate function: ``__getitems__`` already made the batch (module level, so workers can pickle it)."""
    return batch


def _check_channels(c: int) -> None:
    if c not in (1, 3):
        raise ValueError(f"images have 1 (gray) or 3 (RGB) channels; got {c!r}")


def _check_input_shape(input_shape: tuple[int, int, int]) -> tuple[int, int, int]:
    shape = tuple(input_shape)
    if len(shape) != 3 or not all(isinstance(d, int | np.integer) and not isinstance(d, bool) and d > 0 for d in shape):
        raise ValueError(f"input_shape must be (C, H, W) with positive integers, got {input_shape!r}")
    _check_channels(int(shape[0]))
    return int(shape[0]), int(shape[1]), int(shape[2])


def _convert_channels(x: torch.Tensor, c_out: int) -> torch.Tensor:
    """(B, C, H, W) float -> (B, c_out, H, W): gray repeated, or RGB to luma."""
    c = x.shape[1]
    if c == c_out:
        return x
    if c == 1 and c_out == 3:
        return x.expand(-1, 3, -1, -1)
    if c == 3 and c_out == 1:
        w = torch.tensor(LUMA, dtype=x.dtype)[None, :, None, None]
        return (x * w).sum(1, keepdim=True)
    raise ValueError(f"cannot convert {c} channels to {c_out}")
