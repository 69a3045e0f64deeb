"""The triplet loss and the mining of triplets in a batch (course notes 1.4.1.4).

FaceNet (Schroff, Kalenichenko & Philbin, "FaceNet: A Unified Embedding for Face Recognition and Clustering", 2015)
learns an embedding ``f`` in which images of one identity lie close together: for an anchor ``A``, a positive ``P``
(the same identity) and a negative ``N`` (another),

    L(A, P, N) = max(‖f(A) − f(P)‖² − ‖f(A) − f(N)‖² + α, 0)

with *squared* euclidean distances and a margin ``α`` (0.2 in FaceNet, on L2-normalised embeddings).
``torch.nn.TripletMarginLoss`` is the same with plain (not squared) distances.

Which triplets a batch trains on matters: chosen at random, most already satisfy the margin and teach nothing. Three
ways to mine them from a batch's embeddings and identities (all on the device, no reading back):

- ``random``: for each anchor one positive and one negative drawn at random;
- ``semi-hard`` (FaceNet's choice, as TensorFlow Addons' ``triplet_semihard_loss`` computes it): for each
  anchor-positive pair, the closest negative that is still farther than the positive (``d(A, N) > d(A, P)``);
  when there is none, the farthest negative;
- ``hard`` ("batch hard", Hermans, Beyer & Leibe, "In Defense of the Triplet Loss for Person Re-Identification",
  2017): for each anchor its farthest positive and its closest negative.

An anchor whose identity has no other image in the batch (no positive), or a batch of one identity (no negative), gives
no triplet.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

MINING = ("random", "semi-hard", "hard")
MARGIN = 0.2  # α, FaceNet's


class Triplets(NamedTuple):
    """Indices into a batch ``(T,)`` each: the anchor, positive and negative of every mined triplet."""

    anchor: torch.Tensor
    positive: torch.Tensor
    negative: torch.Tensor

    def __len__(self) -> int:
        return len(self.anchor)


def squared_distances(embeddings: torch.Tensor) -> torch.Tensor:
    """``(B, B)`` squared euclidean distances between the rows of ``embeddings`` ``(B, D)`` (≥ 0, exactly 0 on the
    diagonal); no square root, so the gradient is finite at zero distance."""
    sq = embeddings.square().sum(1)  # (B,)
    d = sq[:, None] + sq[None, :] - 2.0 * embeddings @ embeddings.T  # (B, B)
    return d.clamp_min(0.0).fill_diagonal_(0.0)


def triplet_loss(anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor,
                 margin: float = MARGIN) -> torch.Tensor:
    """``(T,)`` the loss of each triplet of embeddings ``(T, D)``: max(‖a − p‖² − ‖a − n‖² + margin, 0)."""
    return ((anchor - positive).square().sum(1) - (anchor - negative).square().sum(1) + margin).clamp_min(0.0)


def check_mining(mining: str) -> str:
    if mining not in MINING:
        raise ValueError(f"mining must be one of {', '.join(MINING)}, got {mining!r}")
    return mining


def mine(embeddings: torch.Tensor, ids: torch.Tensor, mining: str,
         generator: torch.Generator | None = None) -> Triplets:
    """The triplets of a batch of ``embeddings`` ``(B, D)`` with identities ``ids`` ``(B,)`` by ``mining`` (see the
    module docstring). ``random`` draws from ``generator`` (on the embeddings' device); without one, from a hash of
    the batch's identities and positions, so a job never touches torch's global generator and a resumed batch mines
    the same triplets."""
    check_mining(mining)
    d = squared_distances(embeddings.detach().float())  # (B, B)
    b = len(ids)
    same = ids[:, None] == ids[None, :]  # (B, B)
    pos = same & ~torch.eye(b, dtype=torch.bool, device=ids.device)
    neg = ~same
    if mining == "semi-hard":
        return _semi_hard(d, pos, neg)
    ok = pos.any(1) & neg.any(1)  # anchors with a positive and a negative
    if mining == "hard":
        p = torch.where(pos, d, -1.0).argmax(1)  # the farthest positive
        n = torch.where(neg, d, torch.inf).argmin(1)  # the closest negative
    else:
        u = torch.rand((b, b), generator=generator, device=d.device) if generator is not None else _hashed(ids)
        p = torch.where(pos, u, -1.0).argmax(1)
        n = torch.where(neg, u, -1.0).argmax(1)
    anchors = torch.nonzero(ok).flatten()
    return Triplets(anchors, p[anchors], n[anchors])


def _semi_hard(d: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor) -> Triplets:
    a, p = torch.nonzero(pos & neg.any(1, keepdim=True), as_tuple=True)  # every anchor-positive pair (P,)
    d_ap = d[a, p][:, None]  # (P, 1)
    d_an = d[a]  # (P, B)
    negs = neg[a]  # (P, B)
    farther = negs & (d_an > d_ap)
    closest_farther = torch.where(farther, d_an, torch.inf).argmin(1)
    farthest = torch.where(negs, d_an, -torch.inf).argmax(1)
    n = torch.where(farther.any(1), closest_farther, farthest)
    return Triplets(a, p, n)


def _hashed(ids: torch.Tensor) -> torch.Tensor:
    """``(B, B)`` pseudo-random numbers in [0, 1) from the batch's identities and positions (splitmix64's mixing in
    wrapping 64-bit integers), for ``random`` mining without a generator."""
    b = len(ids)
    key = (ids.long() * torch.arange(1, b + 1, device=ids.device)).sum()  # differs from batch to batch
    x = torch.arange(b * b, device=ids.device, dtype=torch.long).reshape(b, b) * _GOLDEN + key * _MIX1
    for shift, mult in ((30, _MIX1), (27, _MIX2), (31, None)):
        x = x ^ ((x >> shift) & ((1 << (64 - shift)) - 1))  # a logical shift on signed integers
        if mult is not None:
            x = x * mult
    return ((x >> 11) & ((1 << 53) - 1)).double().div(float(1 << 53)).float()


def _signed(c: int) -> int:
    return c - (1 << 64) if c >= 1 << 63 else c


_GOLDEN, _MIX1, _MIX2 = (_signed(c) for c in (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB))


def batch_loss(embeddings: torch.Tensor, ids: torch.Tensor, mining: str = "semi-hard", margin: float = MARGIN,
               generator: torch.Generator | None = None) -> tuple[torch.Tensor, Triplets]:
    """The mean triplet loss over the triplets ``mine`` finds in the batch (0, still differentiable, when it finds
    none), and those triplets."""
    t = mine(embeddings, ids, mining, generator)
    if not len(t):
        return embeddings.sum() * 0.0, t
    e = embeddings
    return triplet_loss(e[t.anchor], e[t.positive], e[t.negative], margin).mean(), t


class Mined(NamedTuple):
    """One mined triplet for people: the batch positions of A, P, N, the squared distances d(A, P) and d(A, N), and
    its loss."""

    anchor: int
    positive: int
    negative: int
    d_ap: float
    d_an: float
    loss: float


def ranked(embeddings: torch.Tensor, ids: torch.Tensor, mining: str, margin: float = MARGIN,
           generator: torch.Generator | None = None) -> list[Mined]:
    """The triplets ``mine`` finds in the batch, largest loss first (ties: by anchor), with their distances."""
    e = embeddings.detach().float()
    t = mine(e, ids, mining, generator)
    d = squared_distances(e)
    d_ap, d_an = d[t.anchor, t.positive], d[t.anchor, t.negative]
    loss = (d_ap - d_an + margin).clamp_min(0.0)
    order = sorted(range(len(t)), key=lambda i: (-float(loss[i]), int(t.anchor[i])))
    return [Mined(int(t.anchor[i]), int(t.positive[i]), int(t.negative[i]), float(d_ap[i]), float(d_an[i]),
                  float(loss[i])) for i in order]
