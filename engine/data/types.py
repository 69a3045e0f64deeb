"""What a data set is, in memory: its card (what the page shows about it), its images and typed targets, its split.

Images are kept as ``uint8`` tensors ``(N, C, H, W)`` exactly as stored; every set here fits in memory
(Fashion-MNIST's 60,000 × 28 × 28 is 47 MB). Conversion to floats, resizing to the network's input,
normalisation and augmentation happen batch by batch in the loader (``engine.data.loader``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import torch

from engine.data.targets import ClassIds, Targets


class DatasetUnavailableError(ValueError):
    """A named data set that is not on this machine (and was not, or could not be, downloaded). The message says
    why and how to get it. A ``ValueError``, so a page that shows ``ValueError`` messages shows this one too."""


@dataclass(frozen=True)
class DatasetCard:
    """What the page shows about a data set. ``image_shape`` is ``(C, H, W)`` as stored, before any resizing;
    ``targets`` is the kind of its targets (``engine.data.targets``: "class ids", "boxes", "points", "identities");
    ``classes`` the names its targets refer to (classes, identities, landmarks); ``task`` the name of the task the set
    is made for when it is not the first task that learns from its kind of targets (the multi-object scenes' boxes are
    for detection, not for localisation: ``engine.training.tasks.card_task``)."""

    name: str
    title: str
    classes: tuple[str, ...]
    image_shape: tuple[int, int, int]
    train_size: int
    val_size: int
    source: str
    licence: str
    description: str
    targets: str = ClassIds.kind
    task: str | None = None

    @property
    def num_classes(self) -> int:
        return len(self.classes)


class ImageSet:
    """Images ``(N, C, H, W)`` uint8 in [0, 255] and their ``targets`` (``engine.data.targets``). ``ImageSet(images,
    labels, classes)`` with an int64 tensor of labels makes ``ClassIds`` targets, as every classification set does."""

    def __init__(self, images: torch.Tensor, targets: Targets | torch.Tensor,
                 classes: tuple[str, ...] | list[str] | None = None) -> None:
        if isinstance(targets, torch.Tensor):
            targets = ClassIds(targets, tuple(classes or ()))
        elif not isinstance(targets, Targets):
            raise ValueError(f"targets must be engine.data.targets (ClassIds, Boxes, Points, Identities) or a tensor "
                             f"of class ids, got {type(targets).__name__}")
        elif classes is not None and tuple(classes) != targets.classes:
            raise ValueError(f"classes {list(classes)} differ from the targets' {list(targets.classes)}")
        if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8 or images.ndim != 4:
            got = f"{images.dtype} of shape {tuple(images.shape)}" if isinstance(images, torch.Tensor) else \
                type(images).__name__
            raise ValueError(f"images must be a uint8 tensor (N, C, H, W), got {got}")
        if images.shape[1] not in (1, 3):
            raise ValueError(f"images must have 1 (gray) or 3 (RGB) channels, got {images.shape[1]}")
        if len(targets) != images.shape[0]:
            raise ValueError(f"there must be one target per image: {images.shape[0]} images, {len(targets)} targets")
        self.images = images
        self.targets = targets

    def __repr__(self) -> str:
        return f"ImageSet({len(self)} images {tuple(self.images.shape[1:])}, {self.targets.kind})"

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def classes(self) -> tuple[str, ...]:
        """The names the targets refer to (classes, identities, landmarks)."""
        return self.targets.classes

    @property
    def labels(self) -> torch.Tensor:
        """``(N,)`` int64 class ids; only for a set with one class per image (``ClassIds``)."""
        if not isinstance(self.targets, ClassIds):
            raise ValueError(f"this set's targets are {self.targets.kind}, not one class per image")
        return self.targets.ids

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)``."""
        c, h, w = self.images.shape[1:]
        return int(c), int(h), int(w)

    def subset(self, indices: torch.Tensor | np.ndarray | list[int]) -> ImageSet:
        """The images at ``indices`` and their targets (a copy)."""
        idx = torch.as_tensor(np.asarray(indices, dtype=np.int64))
        return ImageSet(self.images[idx].contiguous(), self.targets.subset(idx))

    def class_counts(self) -> list[int]:
        """Number of images of each class, in class order (one class per image only)."""
        if not isinstance(self.targets, ClassIds):
            raise ValueError(f"this set's targets are {self.targets.kind}, not one class per image")
        return self.targets.counts()


@dataclass
class LoadedData:
    """A data set ready to train on: its card (with the sizes actually loaded), a training and a validation set,
    whose targets are of the kind the card names."""

    card: DatasetCard
    train: ImageSet
    val: ImageSet
    # how a named set was loaded (``load_dataset``'s name, seed and max_train), so that another machine loads the same
    # set instead of receiving it (a job on a Ray cluster: engine.jobs.ray_backend); None for uploaded or made sets
    origin: dict | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        for part, images in (("training", self.train), ("validation", self.val)):
            if images.targets.kind != self.card.targets:
                raise ValueError(f"{self.card.title}'s card says its targets are {self.card.targets}, but its "
                                 f"{part} set has {images.targets.kind}")


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
    """Split into (train, val) by ``seed``: ``stratified_split`` over the targets' strata (class ids, identities),
    else a plain random split of ``round(N * val_fraction)`` images (at least one left to train on)."""
    strata = full.targets.strata()
    if strata is not None:
        train_idx, val_idx = stratified_split(strata.numpy(), val_fraction, seed)
    else:
        if not 0.0 < val_fraction < 1.0:
            raise ValueError(f"val_fraction must be between 0 and 1 (exclusive), got {val_fraction!r}")
        n = len(full)
        order = np.random.default_rng([seed, 0x5EED]).permutation(n)
        k = min(round(n * val_fraction), n - 1)
        val_idx, train_idx = np.sort(order[:k]), np.sort(order[k:])
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
