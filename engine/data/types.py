"""What a data set is, in memory: its card (what the page shows about it), its images and labels, its split.

Images are kept as ``uint8`` tensors ``(N, C, H, W)`` exactly as stored; every set here fits in memory
(Fashion-MNIST's 60,000 × 28 × 28 is 47 MB). Conversion to floats, resizing to the network's input,
normalisation and augmentation happen batch by batch in the loader (``engine.data.loader``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch


class DatasetUnavailableError(ValueError):
    """A named data set that is not on this machine (and was not, or could not be, downloaded). The message says
    why and how to get it. A ``ValueError``, so a page that shows ``ValueError`` messages shows this one too."""


@dataclass(frozen=True)
class DatasetCard:
    """What the page shows about a data set. ``image_shape`` is ``(C, H, W)`` as stored, before any resizing."""

    name: str
    title: str
    classes: tuple[str, ...]
    image_shape: tuple[int, int, int]
    train_size: int
    val_size: int
    source: str
    licence: str
    description: str

    @property
    def num_classes(self) -> int:
        return len(self.classes)


@dataclass
class ImageSet:
    """Images ``(N, C, H, W)`` uint8 in [0, 255] and labels ``(N,)`` int64 in ``[0, len(classes))``."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError(
                f"images must be a uint8 tensor (N, C, H, W), "
                f"got {self.images.dtype} of shape {tuple(self.images.shape)}"
            )
        if self.images.shape[1] not in (1, 3):
            raise ValueError(f"images must have 1 (gray) or 3 (RGB) channels, got {self.images.shape[1]}")
        if self.labels.dtype != torch.int64 or self.labels.shape != (self.images.shape[0],):
            raise ValueError(
                f"labels must be an int64 tensor of shape ({self.images.shape[0]},), "
                f"got {self.labels.dtype} of shape {tuple(self.labels.shape)}"
            )
        self.classes = tuple(self.classes)
        if len(self.labels) and (int(self.labels.min()) < 0 or int(self.labels.max()) >= len(self.classes)):
            raise ValueError(f"labels must lie in [0, {len(self.classes)}), got [{int(self.labels.min())}, "
                             f"{int(self.labels.max())}]")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)``."""
        c, h, w = self.images.shape[1:]
        return int(c), int(h), int(w)

    def subset(self, indices: torch.Tensor | np.ndarray | list[int]) -> ImageSet:
        """The images at ``indices`` (a copy), same classes."""
        idx = torch.as_tensor(np.asarray(indices, dtype=np.int64))
        return ImageSet(self.images[idx].contiguous(), self.labels[idx].contiguous(), self.classes)

    def class_counts(self) -> list[int]:
        """Number of images of each class, in class order."""
        return torch.bincount(self.labels, minlength=len(self.classes)).tolist()


@dataclass
class LoadedData:
    """A data set ready to train on: its card (with the sizes actually loaded), a training and a validation set."""

    card: DatasetCard
    train: ImageSet
    val: ImageSet


def stratified_split(labels: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into (train, val), deterministically by ``seed``, keeping class proportions.

    The validation set holds ``round(N * val_fraction)`` images in all, shared among the classes in proportion to
    their sizes (largest remainder), but never a class's last image: every class keeps at least one for training.
    Both index arrays are sorted.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be between 0 and 1 (exclusive), got {val_fraction!r}")
    labels = np.asarray(labels, dtype=np.int64)
    n = len(labels)
    classes, counts = np.unique(labels, return_counts=True)
    quota = counts * (round(n * val_fraction) / max(n, 1))
    take = np.floor(quota).astype(np.int64)
    left = round(n * val_fraction) - int(take.sum())
    order = np.lexsort((classes, -(quota - take)))  # largest remainder first, ties by class
    take[order[:left]] += 1
    take = np.minimum(take, counts - 1)
    rng = np.random.default_rng([seed, 0x5EED])
    val = []
    for c, k in zip(classes, take, strict=True):
        members = np.flatnonzero(labels == c)
        val.append(rng.permutation(members)[:k])
    val_idx = np.sort(np.concatenate(val)) if val else np.zeros(0, np.int64)
    train_mask = np.ones(n, bool)
    train_mask[val_idx] = False
    return np.flatnonzero(train_mask), val_idx


def split_set(full: ImageSet, val_fraction: float, seed: int) -> tuple[ImageSet, ImageSet]:
    """``stratified_split`` applied to an ImageSet."""
    train_idx, val_idx = stratified_split(full.labels.numpy(), val_fraction, seed)
    return full.subset(train_idx), full.subset(val_idx)


def cap_train(data: LoadedData, max_train: int | None, seed: int) -> LoadedData:
    """Keep at most ``max_train`` training images (a random subset, by ``seed``, in the original order); the card
    is updated to the sizes kept."""
    if max_train is None or max_train >= len(data.train):
        return data
    if isinstance(max_train, bool) or not isinstance(max_train, int) or max_train < 1:
        raise ValueError(f"max_train must be a positive integer or None, got {max_train!r}")
    rng = np.random.default_rng([seed, 0xCA9])
    keep = np.sort(rng.permutation(len(data.train))[:max_train])
    train = data.train.subset(keep)
    return LoadedData(replace(data.card, train_size=len(train)), train, data.val)
