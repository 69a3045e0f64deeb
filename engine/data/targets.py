"""What a data set says about each image — its targets — typed by what they are, not assumed to be class labels.

- ``ClassIds``   one class per image (classification): ``(N,)`` int64 ids into ``classes``;
- ``Boxes``      any number of objects per image (localisation, detection): per image ``(M_i, 4)`` float32 boxes in
  ``xyxy`` pixel coordinates of the stored image (torchvision's internal format, ``torchvision.ops.boxes``) and
  ``(M_i,)`` int64 class ids;
- ``Points``     ``K`` named landmarks per image: ``(N, K, 2)`` float32 ``(x, y)`` pixel coordinates and an
  ``(N, K)`` bool mask of the visible ones;
- ``Identities`` who is in each image (face embeddings): ``(N,)`` int64 ids into ``names``.

Pixel coordinates: pixel ``(i, j)`` covers ``[j, j+1) × [i, i+1)``, so the image spans ``[0, W] × [0, H]`` (the
convention of ``engine.data.shapes``). Every type checks its values when made and raises a ``ValueError`` naming the
bad value. A type says whether its values are positions in the image (``geometric``): those move when pixels move, so
resizing scales them (``resized``), and augmentations that move pixels refuse them until their geometry is written
(``engine.data.augment.check_targets``). ``batch(idx)`` is what a training batch carries, before a task turns it
into the tensors its loss takes (``engine.training.tasks``, ``Task.collate``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np
import torch

Index = torch.Tensor | np.ndarray | Sequence[int]


def _index(idx: Index) -> torch.Tensor:
    return torch.as_tensor(np.asarray(idx, dtype=np.int64))


def _names(what: str, names: Sequence[str]) -> tuple[str, ...]:
    out = tuple(str(n) for n in names)
    if len(set(out)) != len(out):
        raise ValueError(f"{what} must be different from each other, got {list(out)}")
    return out


def _ids(what: str, ids: torch.Tensor, n: int | None, count: int) -> None:
    """``ids`` must be int64 ``(n,)`` in ``[0, count)``."""
    if not isinstance(ids, torch.Tensor) or ids.dtype != torch.int64 or ids.ndim != 1 or (n is not None
                                                                                            and len(ids) != n):
        shape = f"({n},)" if n is not None else "(N,)"
        got = f"{ids.dtype} of shape {tuple(ids.shape)}" if isinstance(ids, torch.Tensor) else type(ids).__name__
        raise ValueError(f"{what} must be an int64 tensor of shape {shape}, got {got}")
    if len(ids) and (int(ids.min()) < 0 or int(ids.max()) >= count):
        raise ValueError(f"{what} must lie in [0, {count}), got [{int(ids.min())}, {int(ids.max())}]")


class Targets:
    """The common interface of the target types (see the module docstring)."""

    kind: ClassVar[str]  # "class ids", "boxes", "points", "identities": what tasks and data cards name
    geometric: ClassVar[bool]  # whether the values are positions in the image

    @property
    def classes(self) -> tuple[str, ...]:
        """The names the targets refer to: class names, identity names, landmark names."""
        return ()

    def __len__(self) -> int:
        raise NotImplementedError

    def subset(self, idx: Index) -> Targets:
        """The targets of the images at ``idx``, in that order (a copy)."""
        raise NotImplementedError

    def batch(self, idx: Index) -> Any:
        """What a training batch of the images at ``idx`` carries."""
        raise NotImplementedError

    def resized(self, size: tuple[int, int], to: tuple[int, int]) -> Targets:
        """The targets of the images resized from ``size`` = ``(H, W)`` to ``to``: positions scaled; others
        unchanged."""
        return self

    def strata(self) -> torch.Tensor | None:
        """Ids to split by, keeping their proportions in training and validation (None: a plain random split)."""
        return None


@dataclass(frozen=True, eq=False)
class ClassIds(Targets):
    """One class per image: ``ids`` ``(N,)`` int64 in ``[0, len(classes))``."""

    ids: torch.Tensor
    names: tuple[str, ...]

    kind: ClassVar[str] = "class ids"
    geometric: ClassVar[bool] = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", _names("class names", self.names))
        _ids("labels", self.ids, None, len(self.names))

    @property
    def classes(self) -> tuple[str, ...]:
        return self.names

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, idx: Index) -> ClassIds:
        return ClassIds(self.ids[_index(idx)].contiguous(), self.names)

    def batch(self, idx: Index) -> torch.Tensor:
        """``(B,)`` int64."""
        return self.ids[_index(idx)]

    def strata(self) -> torch.Tensor:
        return self.ids

    def counts(self) -> list[int]:
        """Images per class, in class order."""
        return torch.bincount(self.ids, minlength=len(self.names)).tolist()


class BoxBatch(NamedTuple):
    """A batch's boxes: per image ``(M_i, 4)`` float32 ``xyxy`` and ``(M_i,)`` int64 class ids; ``frame`` the
    ``(H, W)`` of the images they are positions in (None when the targets do not say)."""

    boxes: list[torch.Tensor]
    labels: list[torch.Tensor]
    frame: tuple[int, int] | None = None


@dataclass(frozen=True, eq=False)
class Boxes(Targets):
    """Objects per image: ``boxes[i]`` ``(M_i, 4)`` float32 ``xyxy`` pixels (``x1 ≤ x2``, ``y1 ≤ y2``), ``labels[i]``
    ``(M_i,)`` int64 class ids; ``M_i`` may be 0. ``frame``: the ``(H, W)`` of the images the pixels are of (tasks
    that learn positions as fractions of the image need it; ``resized`` keeps it right)."""

    boxes: tuple[torch.Tensor, ...]
    labels: tuple[torch.Tensor, ...]
    names: tuple[str, ...]
    frame: tuple[int, int] | None = None

    kind: ClassVar[str] = "boxes"
    geometric: ClassVar[bool] = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", _names("class names", self.names))
        object.__setattr__(self, "boxes", tuple(self.boxes))
        object.__setattr__(self, "labels", tuple(self.labels))
        if len(self.boxes) != len(self.labels):
            raise ValueError(f"boxes and labels must have one entry per image, got {len(self.boxes)} and "
                             f"{len(self.labels)}")
        for i, (b, y) in enumerate(zip(self.boxes, self.labels, strict=True)):
            if not isinstance(b, torch.Tensor) or b.dtype != torch.float32 or b.ndim != 2 or b.shape[1] != 4:
                got = f"{b.dtype} {tuple(b.shape)}" if isinstance(b, torch.Tensor) else type(b).__name__
                raise ValueError(f"image {i}: boxes must be a float32 tensor (M, 4) in xyxy, got {got}")
            _ids(f"image {i}: box labels", y, b.shape[0], len(self.names))
            if b.numel() and not bool(torch.isfinite(b).all()):
                raise ValueError(f"image {i}: box coordinates must be finite numbers")
            if b.numel() and bool(((b[:, 2] < b[:, 0]) | (b[:, 3] < b[:, 1])).any()):
                raise ValueError(f"image {i}: boxes are (x1, y1, x2, y2) with x1 ≤ x2 and y1 ≤ y2, got "
                                 f"{b[((b[:, 2] < b[:, 0]) | (b[:, 3] < b[:, 1]))][0].tolist()}")

    @property
    def classes(self) -> tuple[str, ...]:
        return self.names

    def __len__(self) -> int:
        return len(self.boxes)

    def subset(self, idx: Index) -> Boxes:
        picked = _index(idx).tolist()
        return Boxes(tuple(self.boxes[i].clone() for i in picked), tuple(self.labels[i].clone() for i in picked),
                     self.names, self.frame)

    def batch(self, idx: Index) -> BoxBatch:
        picked = _index(idx).tolist()
        return BoxBatch([self.boxes[i] for i in picked], [self.labels[i] for i in picked], self.frame)

    def resized(self, size: tuple[int, int], to: tuple[int, int]) -> Boxes:
        if tuple(size) == tuple(to):
            return self if self.frame is not None else Boxes(self.boxes, self.labels, self.names, tuple(to))
        scale = torch.tensor([to[1] / size[1], to[0] / size[0]] * 2, dtype=torch.float32)  # (sx, sy, sx, sy)
        return Boxes(tuple(b * scale for b in self.boxes), self.labels, self.names, tuple(to))


class PointBatch(NamedTuple):
    """A batch's landmarks: ``points`` ``(B, K, 2)`` float32 ``(x, y)`` and ``visible`` ``(B, K)`` bool; ``frame``
    the ``(H, W)`` of the images they are positions in (None when the targets do not say)."""

    points: torch.Tensor
    visible: torch.Tensor
    frame: tuple[int, int] | None = None


@dataclass(frozen=True, eq=False)
class Points(Targets):
    """``K`` named landmarks per image: ``points`` ``(N, K, 2)`` float32 ``(x, y)`` pixels, ``visible`` ``(N, K)``
    bool (an invisible point's coordinates are ignored; None: all visible); ``frame`` the ``(H, W)`` of the images the
    pixels are of (as for ``Boxes``)."""

    points: torch.Tensor
    names: tuple[str, ...]
    visible: torch.Tensor | None = None
    frame: tuple[int, int] | None = None

    kind: ClassVar[str] = "points"
    geometric: ClassVar[bool] = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", _names("landmark names", self.names))
        p, k = self.points, len(self.names)
        if not isinstance(p, torch.Tensor) or p.dtype != torch.float32 or p.ndim != 3 or p.shape[1:] != (k, 2):
            got = f"{p.dtype} of shape {tuple(p.shape)}" if isinstance(p, torch.Tensor) else type(p).__name__
            raise ValueError(f"points must be a float32 tensor (N, {k}, 2) — one (x, y) per landmark "
                             f"{list(self.names)} — got {got}")
        visible = torch.ones(p.shape[:2], dtype=torch.bool) if self.visible is None else self.visible
        if not isinstance(visible, torch.Tensor) or visible.dtype != torch.bool or visible.shape != p.shape[:2]:
            raise ValueError(f"visible must be a bool tensor of shape {tuple(p.shape[:2])}")
        if not bool(torch.isfinite(p[visible]).all()):
            raise ValueError("the visible points' coordinates must be finite numbers")
        object.__setattr__(self, "visible", visible)

    @property
    def classes(self) -> tuple[str, ...]:
        """The landmarks' names (a data card's ``classes``: the network predicts one point per name)."""
        return self.names

    def __len__(self) -> int:
        return len(self.points)

    def subset(self, idx: Index) -> Points:
        i = _index(idx)
        return Points(self.points[i].contiguous(), self.names, self.visible[i].contiguous(), self.frame)

    def batch(self, idx: Index) -> PointBatch:
        i = _index(idx)
        return PointBatch(self.points[i], self.visible[i], self.frame)

    def resized(self, size: tuple[int, int], to: tuple[int, int]) -> Points:
        if tuple(size) == tuple(to):
            return self if self.frame is not None else Points(self.points, self.names, self.visible, tuple(to))
        scale = torch.tensor([to[1] / size[1], to[0] / size[0]], dtype=torch.float32)  # (sx, sy)
        return Points(self.points * scale, self.names, self.visible, tuple(to))


@dataclass(frozen=True, eq=False)
class Identities(Targets):
    """Who each image shows: ``ids`` ``(N,)`` int64 in ``[0, len(names))``."""

    ids: torch.Tensor
    names: tuple[str, ...]

    kind: ClassVar[str] = "identities"
    geometric: ClassVar[bool] = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", _names("identity names", self.names))
        _ids("identities", self.ids, None, len(self.names))

    @property
    def classes(self) -> tuple[str, ...]:
        return self.names

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, idx: Index) -> Identities:
        return Identities(self.ids[_index(idx)].contiguous(), self.names)

    def batch(self, idx: Index) -> torch.Tensor:
        """``(B,)`` int64."""
        return self.ids[_index(idx)]

    def strata(self) -> torch.Tensor:
        return self.ids


def describe_kind(kind: str) -> str:
    """In words: "one class per image", "boxes with classes", ..."""
    return {"class ids": "one class per image", "boxes": "boxes with a class each", "points": "landmark points",
            "identities": "an identity per image"}.get(kind, kind)

