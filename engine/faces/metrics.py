"""Verification metrics: how well a distance between two embeddings says "same identity" (course notes 1.4.1.1).

A *pair set* is ``distances`` ``(P,)`` (float, ≥ 0) and ``same`` ``(P,)`` (bool: both images show the same identity).
A verifier accepts a pair as "same" when its distance is at most a threshold ``t`` (dlib and face_recognition compare
``distance <= tolerance`` the same way). Then

- FAR(t), the false accept rate: the share of *different* pairs accepted (distance ≤ t);
- FRR(t), the false reject rate: the share of *same* pairs rejected (distance > t);
- the ROC curve: the true accept rate (1 − FRR) against FAR as ``t`` sweeps; its area (AUC) is the chance that a random
  same pair is closer than a random different pair (1.0 perfect, 0.5 chance).

ROC and AUC come from torchmetrics (``binary_roc``, ``binary_auroc``) on the score ``1 / (1 + distance)``, which falls
as the distance grows and lies in (0, 1], so torchmetrics takes it as a probability (a score outside [0, 1] would be
squashed by a sigmoid) and its thresholds map back to distances exactly: ``t = 1 / score − 1``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torchmetrics.functional.classification import binary_auroc, binary_roc


class Roc(NamedTuple):
    """``far`` and ``tar`` (true accept rate, 1 − FRR) ``(T,)`` at each distance ``threshold`` ``(T,)``, thresholds
    rising (FAR and TAR rise with them)."""

    far: torch.Tensor
    tar: torch.Tensor
    threshold: torch.Tensor


class Rates(NamedTuple):
    """FAR and FRR at a threshold (fractions; NaN where the pair set has no different, resp. no same, pair)."""

    far: float
    frr: float


def _check(distances: torch.Tensor, same: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    d = torch.as_tensor(distances).detach().double().cpu()
    s = torch.as_tensor(same).detach().bool().cpu()
    if d.ndim != 1 or s.shape != d.shape:
        raise ValueError(f"distances and same must be 1-d and of one length, got shapes {tuple(d.shape)} and "
                         f"{tuple(s.shape)}")
    if len(d) and (not torch.isfinite(d).all() or d.min() < 0):
        raise ValueError("distances must be finite and ≥ 0")
    return d, s


def _both_kinds(s: torch.Tensor) -> None:
    if not s.any() or s.all():
        raise ValueError(f"a pair set needs same and different pairs for a ROC curve; it has {int(s.sum())} same and "
                         f"{int((~s).sum())} different")


def roc(distances: torch.Tensor, same: torch.Tensor) -> Roc:
    """The ROC curve of a pair set (torchmetrics' ``binary_roc``), as FAR, TAR and distance thresholds."""
    d, s = _check(distances, same)
    _both_kinds(s)
    far, tar, score = binary_roc(1.0 / (1.0 + d), s.long())
    return Roc(far.double(), tar.double(), _snap((1.0 / score.double() - 1.0).clamp_min(0.0), d.unique()))


def _snap(t: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Each of ``t`` replaced by the nearest of the sorted ``values`` (the distances the thresholds came from, before
    the score's rounding), so that ``distance <= threshold`` holds exactly where the curve says."""
    i = torch.searchsorted(values, t).clamp(1, len(values) - 1) if len(values) > 1 else torch.zeros_like(t).long()
    lo, hi = values[i - 1 if len(values) > 1 else i], values[i]
    return torch.where((t - lo).abs() <= (hi - t).abs(), lo, hi)


def auc(distances: torch.Tensor, same: torch.Tensor) -> float:
    """The area under the ROC curve (torchmetrics' ``binary_auroc``); NaN when the set lacks same or different
    pairs."""
    d, s = _check(distances, same)
    if not s.any() or s.all():
        return float("nan")
    return float(binary_auroc(1.0 / (1.0 + d), s.long()))


def far_frr(distances: torch.Tensor, same: torch.Tensor, threshold: float) -> Rates:
    """FAR and FRR when pairs at distance ≤ ``threshold`` are accepted."""
    far, frr = far_frr_curve(distances, same, torch.tensor([float(threshold)], dtype=torch.float64))
    return Rates(float(far[0]), float(frr[0]))


def far_frr_curve(distances: torch.Tensor, same: torch.Tensor,
                  thresholds: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """FAR and FRR ``(T,)`` at each of ``thresholds`` ``(T,)`` (any order): one sort and a binary search, not a loop
    over thresholds."""
    d, s = _check(distances, same)
    t = torch.as_tensor(thresholds, dtype=torch.float64).reshape(-1)
    nan = torch.full_like(t, float("nan"))
    pos, neg = d[s].sort().values, d[~s].sort().values
    # searchsorted(right=True): how many distances are ≤ t
    far = torch.searchsorted(neg, t, right=True).double() / len(neg) if len(neg) else nan
    frr = 1.0 - torch.searchsorted(pos, t, right=True).double() / len(pos) if len(pos) else nan
    return far, frr


class Best(NamedTuple):
    """The threshold that classifies the most pairs rightly, its accuracy, and FAR and FRR there."""

    threshold: float
    accuracy: float
    far: float
    frr: float


def best_threshold(distances: torch.Tensor, same: torch.Tensor) -> Best:
    """The distance threshold with the highest accuracy on the pair set (ties: the smallest such threshold). The
    candidates are every distance in the set and one below the smallest (accept nothing: 0, or −1 when a distance
    is 0); the accuracy changes only there."""
    d, s = _check(distances, same)
    if not len(d):
        raise ValueError("the pair set is empty")
    none = torch.tensor([0.0 if d.min() > 0 else -1.0], dtype=torch.float64)
    candidates = torch.cat([none, d.unique()])
    far, frr = far_frr_curve(d, s, candidates)
    n_same, n_diff = int(s.sum()), int((~s).sum())
    right = (1.0 - frr.nan_to_num(0.0)) * n_same + (1.0 - far.nan_to_num(0.0)) * n_diff
    i = int(torch.argmax(right))  # the first maximum: the smallest threshold
    return Best(float(candidates[i]), float(right[i]) / len(d), float(far[i]), float(frr[i]))


def pair_distances(embeddings: torch.Tensor, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """Euclidean distances ``(P,)`` between the embeddings ``(N, D)`` at ``first`` and ``second`` ``(P,)``."""
    return (embeddings[first] - embeddings[second]).norm(dim=1)


def sample_pairs(ids: torch.Tensor, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Up to ``n`` same-identity and ``n`` different-identity pairs of distinct images drawn at random (by ``seed``)
    from images with identities ``ids`` ``(N,)``: ``(first, second, same)``, each ``(P,)``. Pairs may repeat when a set
    has few of a kind; a set without a kind gives none of it."""
    ids = torch.as_tensor(ids).long().cpu()
    g = torch.Generator().manual_seed(seed)
    if len(ids) < 2:
        empty = torch.zeros(0, dtype=torch.long)
        return empty, empty, torch.zeros(0, dtype=torch.bool)
    # different pairs: draw pairs, keep those of two identities
    a = torch.randint(len(ids), (4 * n,), generator=g)
    b = torch.randint(len(ids), (4 * n,), generator=g)
    keep = ids[a] != ids[b]
    da, db = a[keep][:n], b[keep][:n]
    # same pairs: an image, then another image of its identity (only images whose identity has two or more)
    counts = torch.bincount(ids)
    order = torch.argsort(ids, stable=True)
    start = torch.cumsum(counts, 0) - counts  # where each identity's images begin in ``order``
    can = torch.nonzero(counts[ids] >= 2).flatten()
    if len(can):
        sa = can[torch.randint(len(can), (n,), generator=g)]
        k = counts[ids[sa]]
        off = (torch.rand(n, generator=g) * (k - 1)).long().clamp_max(k - 2)  # another of the k - 1 others
        own = _rank(ids, order, start)[sa]
        off = off + (off >= own).long()
        sb = order[start[ids[sa]] + off]
    else:
        sa = sb = torch.zeros(0, dtype=torch.long)
    first, second = torch.cat([sa, da]), torch.cat([sb, db])
    return first, second, torch.cat([torch.ones(len(sa), dtype=torch.bool), torch.zeros(len(da), dtype=torch.bool)])


def _rank(ids: torch.Tensor, order: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
    """Each image's position among its identity's images in ``order``."""
    rank = torch.empty_like(order)
    rank[order] = torch.arange(len(order)) - start[ids[order]]
    return rank
