"""Learning an embedding with the triplet loss, as a task of the one training loop (docs/tasks-and-jobs.md), so stop,
resume, mixed precision, checkpoints, runs and export come with it; and the data it learns from.

One-shot verification (course notes 1.4.1.2): rather than a classifier over known people, learn a function ``f`` whose
distance ``‖f(x1) − f(x2)‖`` is small for two images of one identity and large otherwise; a new identity then needs
one image. Here classes of MNIST / Fashion-MNIST stand in for identities (``identity_data``), and some are *held out*
of training entirely: the verification AUC on pairs of held-out identities measures one-shot verification on
identities the network never saw, beside the AUC on pairs of seen ones (``engine.faces.metrics``).

``Embed``: the network's output ``(D,)`` is L2-normalised (FaceNet's embedding on the unit sphere), the batch's
triplets mined (``engine.faces.triplet``: random, semi-hard, hard) and their triplet loss averaged. The metrics are
verification AUCs on a fixed, seeded sample of same and different pairs of the epoch's images (``PAIRS`` of each per
group, among the first ``MAX_IMAGES`` images: a whole set's pairs would be N²).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F

from engine.data.registry import load_dataset
from engine.data.targets import ClassIds, Identities
from engine.data.types import DatasetCard, ImageSet, LoadedData
from engine.faces import metrics as M
from engine.faces.triplet import MARGIN, batch_loss, check_mining
from engine.nets.spec import NetworkSpec, Shape
from engine.training.tasks.base import Meter, Metric, Task, register
from engine.training.tasks.classify import fit_head

DIM = 64  # the embedding's size by default (FaceNet: 128)
MAX_IMAGES = 4000  # a meter keeps the embeddings of an epoch's first images, at most this many
PAIRS = 2000  # same pairs, and different pairs, per group for the AUCs
GROUPS = ("all", "seen", "held_out")
GROUP_TITLES = {"all": "all identities", "seen": "identities seen in training", "held_out": "held-out identities"}
BASE_SETS = ("digits", "mnist5k", "fashion_mnist", "mnist")  # the sets whose classes stand in for identities
CHANNELS = (16, 32, 64)


# --------------------------------------------------------------------------------------------------- the data


def identity_data(name: str = "mnist5k", held_out: tuple[int, ...] | list[int] = (8, 9), *, seed: int = 0,
                  max_train: int | None = None, root: str | None = None, download: bool = False) -> LoadedData:
    """A classification set of ``BASE_SETS`` as identities: each class an identity, the classes ``held_out`` (class
    indices) left out of the training set entirely and kept in the validation set with the others. ``max_train`` caps
    the training images before the held-out ones are removed. ``ValueError`` naming a bad set or class."""
    if name not in BASE_SETS:
        raise ValueError(f"identities come from one of {', '.join(BASE_SETS)}, got {name!r}")
    base = load_dataset(name, seed=seed, max_train=max_train, root=root, download=download)
    names = base.card.classes
    held = check_held_out(held_out, len(names))
    keep = ~torch.isin(base.train.labels, torch.tensor(held, dtype=torch.long))
    train = ImageSet(base.train.images[keep].contiguous(), Identities(base.train.labels[keep].contiguous(), names))
    val = ImageSet(base.val.images, Identities(base.val.labels, names))
    out = ", ".join(names[i] for i in held) or "none"
    card = replace(base.card, name=f"{name}_identities", title=f"{base.card.title} as identities ({out} held out)",
                   train_size=len(train), val_size=len(val), targets=Identities.kind,
                   description=f"{base.card.description} Each class stands in for a person; the training set leaves "
                               f"out every image of {out}, so verification on them is one-shot.")
    return LoadedData(card, train, val, origin={"name": card.name, "derived": "identities", "base": name,
                                                "held_out": list(held), "seed": seed, "max_train": max_train})


def check_held_out(held_out: tuple[int, ...] | list[int], count: int) -> tuple[int, ...]:
    """``held_out`` as a sorted tuple of distinct class indices in ``[0, count)``, leaving at least two classes to
    train on (a triplet needs a negative)."""
    try:
        held = tuple(sorted({int(i) for i in held_out}))
    except (TypeError, ValueError):
        raise ValueError(f"held_out must be class indices, got {held_out!r}") from None
    if any(i < 0 or i >= count for i in held):
        raise ValueError(f"held-out classes must lie in [0, {count}), got {list(held)}")
    if count - len(held) < 2:
        raise ValueError(f"at least two of the {count} classes must stay in training (a triplet needs two "
                         f"identities); {len(held)} are held out")
    return held


def ready_spec(input_shape: tuple[int, int, int] = (1, 28, 28), dim: int = DIM) -> NetworkSpec:
    """A small embedding network in the builder's format: conv-BN-ReLU blocks (16, 32, 64 channels, halved by 2×2 max
    pooling after the first two), global average pooling, a linear layer of ``dim`` outputs (the task normalises
    them)."""
    layers: list[dict] = []
    for i, c in enumerate(CHANNELS):
        layers += [{"kind": "conv2d", "out_channels": c, "padding": 1}, {"kind": "batchnorm2d"}, {"kind": "relu"}]
        if i < len(CHANNELS) - 1 and min(input_shape[1:]) >= 4 << i:
            layers.append({"kind": "maxpool2d"})
    layers += [{"kind": "adaptiveavgpool2d", "output_size": 1}, {"kind": "flatten"},
               {"kind": "linear", "out_features": dim}]
    return NetworkSpec.from_dict({"input": list(input_shape), "layers": layers})


# --------------------------------------------------------------------------------------------------- verification


class PairSet(NamedTuple):
    """Pairs of images ``first``, ``second`` ``(P,)`` (indices into a set), whether they show one identity ``same``,
    and the euclidean ``distances`` of their embeddings."""

    first: torch.Tensor
    second: torch.Tensor
    same: torch.Tensor
    distances: torch.Tensor


def group_mask(ids: torch.Tensor, held_out: tuple[int, ...], group: str) -> torch.Tensor:
    """``(N,)`` bool: the images of ``group`` ("all", "seen", "held_out")."""
    held = torch.isin(ids, torch.tensor(held_out, dtype=torch.long, device=ids.device))
    return {"all": torch.ones_like(held), "seen": ~held, "held_out": held}[group]


def pair_set(embeddings: torch.Tensor, ids: torch.Tensor, held_out: tuple[int, ...], group: str,
             n: int = PAIRS, seed: int = 0) -> PairSet:
    """``n`` same and ``n`` different pairs (``metrics.sample_pairs``, by ``seed``) among the images of ``group``."""
    members = torch.nonzero(group_mask(ids, held_out, group)).flatten()
    first, second, same = M.sample_pairs(ids[members], n, seed)
    first, second = members[first], members[second]
    return PairSet(first, second, same, M.pair_distances(embeddings, first, second))


def verification(embeddings: torch.Tensor, ids: torch.Tensor, held_out: tuple[int, ...]) -> dict[str, float]:
    """The verification AUC of each group (``auc``, ``auc_seen``, ``auc_held_out``; NaN where a group lacks same or
    different pairs) of L2-normalised ``embeddings`` ``(N, D)`` with identities ``ids`` ``(N,)``."""
    out = {}
    for g in GROUPS:
        p = pair_set(embeddings, ids, held_out, g)
        out["auc" if g == "all" else f"auc_{g}"] = M.auc(p.distances, p.same)
    return out


class EmbedMeter(Meter):
    """Keeps the normalised embeddings and identities of an epoch's first ``limit`` images (device work only);
    ``compute`` samples the pairs and measures the AUCs once."""

    def __init__(self, task: Embed, device: torch.device | str, limit: int = MAX_IMAGES) -> None:
        self.task, self.limit = task, limit
        self.embeddings: list[torch.Tensor] = []
        self.ids: list[torch.Tensor] = []
        self.images = 0

    def update(self, output: torch.Tensor, target: torch.Tensor) -> None:
        take = min(len(output), self.limit - self.images)
        if take <= 0:
            return
        self.embeddings.append(F.normalize(output.detach()[:take].float(), dim=1))
        self.ids.append(target[:take])
        self.images += take

    def compute(self) -> dict[str, float]:
        if not self.images:
            return {m.name: float("nan") for m in self.task.metrics}
        return verification(torch.cat(self.embeddings).cpu(), torch.cat(self.ids).cpu(), self.task.held_out)

    def state_dict(self) -> dict[str, Any]:
        if not self.images:
            return {"images": 0, "embeddings": torch.zeros(0), "ids": torch.zeros(0, dtype=torch.long)}
        return {"images": self.images, "embeddings": torch.cat(self.embeddings).cpu(), "ids": torch.cat(self.ids).cpu()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.images = int(state["images"])
        self.embeddings = [torch.as_tensor(state["embeddings"]).float()] if self.images else []
        self.ids = [torch.as_tensor(state["ids"]).long()] if self.images else []


@dataclass(frozen=True)
class EmbedEvaluation:
    """A set's normalised ``embeddings`` ``(N, D)``, its identities ``ids`` ``(N,)``, the held-out identities, the
    metrics, and per group its pair set (``pairs(group)``) with ROC, FAR/FRR and the best threshold."""

    embeddings: torch.Tensor
    ids: torch.Tensor
    held_out: tuple[int, ...]
    metrics: dict[str, float]
    _pairs: dict[str, PairSet] = field(default_factory=dict, repr=False)

    def pairs(self, group: str) -> PairSet:
        if group not in self._pairs:
            self._pairs[group] = pair_set(self.embeddings, self.ids, self.held_out, group)
        return self._pairs[group]

    def has(self, group: str) -> bool:
        """Whether ``group`` has both same and different pairs (a ROC curve)."""
        s = self.pairs(group).same
        return bool(s.any()) and not bool(s.all())

    def roc(self, group: str) -> M.Roc:
        p = self.pairs(group)
        return M.roc(p.distances, p.same)

    def best(self, group: str) -> M.Best:
        p = self.pairs(group)
        return M.best_threshold(p.distances, p.same)

    @cached_property
    def projection(self) -> torch.Tensor:
        """``(N, 2)``: the embeddings on their first two principal components (``torch.pca_lowrank``, centred)."""
        return project(self.embeddings)


def project(embeddings: torch.Tensor, basis: torch.Tensor | None = None) -> torch.Tensor:
    """``(N, 2)``: ``embeddings`` ``(N, D)`` centred and projected on ``basis`` ``(D, 2)``, by default their own first
    two principal components (signs fixed so each axis's largest loading is positive: stable from epoch to epoch)."""
    x = embeddings.float() - embeddings.float().mean(0)
    if basis is None:
        _, _, v = torch.pca_lowrank(x, q=min(2, *x.shape), center=False, niter=4)
        v = v[:, :2]
        sign = torch.sign(v.gather(0, v.abs().argmax(0, keepdim=True)))
        basis = v * sign
    out = x @ basis
    return out if out.shape[1] == 2 else F.pad(out, (0, 2 - out.shape[1]))


# --------------------------------------------------------------------------------------------------- the task


@register
@dataclass(frozen=True)
class Embed(Task):
    """Triplet-loss embedding (see the module docstring). Options: the embedding size ``dim``, the ``margin`` α, the
    ``mining`` ("random", "semi-hard", "hard") and the identities ``held_out`` of training (for the metrics)."""

    dim: int = DIM
    margin: float = MARGIN
    mining: str = "semi-hard"
    held_out: tuple[int, ...] = ()

    name = "embed"
    title = "triplet-loss embedding"
    targets = Identities.kind
    metrics = (Metric("auc", "verification AUC"), Metric("auc_seen", "verification AUC, seen identities"),
               Metric("auc_held_out", "verification AUC, held-out identities"))
    primary = "auc"
    loss_title = "triplet loss"
    output_name = "embedding"

    def __post_init__(self) -> None:
        if isinstance(self.dim, bool) or not isinstance(self.dim, int) or not 1 <= self.dim <= 4096:
            raise ValueError(f"dim (the embedding's size) must be an integer in [1, 4096], got {self.dim!r}")
        if isinstance(self.margin, bool) or not isinstance(self.margin, int | float) or not 0 <= self.margin <= 4:
            raise ValueError(f"margin must be a number in [0, 4] (squared distances of unit vectors are at most 4), "
                             f"got {self.margin!r}")
        check_mining(self.mining)
        object.__setattr__(self, "margin", float(self.margin))
        object.__setattr__(self, "held_out", check_held_out(self.held_out, 1 << 30))

    def check_data(self, card: DatasetCard) -> list[str]:
        problems = super().check_data(card)
        if not problems and any(i >= card.num_classes for i in self.held_out):
            problems.append(f"data: the held-out identities {list(self.held_out)} are not all among the "
                            f"{card.num_classes} of {card.title}")
        return problems

    def output_shape(self, card: DatasetCard) -> Shape:
        return (self.dim,)

    def fit_output(self, spec: NetworkSpec, card: DatasetCard) -> NetworkSpec:
        return fit_head(spec, self.dim)

    def fix_label(self, card: DatasetCard) -> str:
        return f"Set the output to a {self.dim}-d embedding"

    def describe_output(self, classes: tuple[str, ...] | list[str]) -> dict[str, Any]:
        return {"name": self.output_name, "shape": [self.dim], "identities": list(classes),
                "held_out": list(self.held_out),
                "meaning": "an embedding: L2-normalise it; two images show one identity when the euclidean distance "
                           "of their normalised embeddings is below a threshold (trained with the triplet loss, "
                           f"margin {self.margin:g} on squared distances)"}

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return batch_loss(F.normalize(output.float(), dim=1), target, self.mining, self.margin)[0]

    def meter(self, device: torch.device | str) -> EmbedMeter:
        return EmbedMeter(self, device)

    def evaluate(self, outputs: torch.Tensor, targets: Identities | ClassIds) -> EmbedEvaluation:
        emb = F.normalize(outputs.float(), dim=1)
        ids = targets.ids.long()
        return EmbedEvaluation(emb, ids, self.held_out, verification(emb, ids, self.held_out))

    def decode(self, outputs: torch.Tensor, k: int = 5, side: int | None = None) -> torch.Tensor:
        """The L2-normalised embeddings ``(B, D)``."""
        return F.normalize(outputs.float(), dim=1)


# --------------------------------------------------------------------------------------------------- the binary way


@dataclass(frozen=True)
class PairClassifier:
    """The binary-classification alternative to thresholding a distance (course notes 1.4.1.5, DeepFace's Siamese
    verification): a logistic unit on the element-wise difference, ŷ = σ(Σ_k w_k |f_k(x1) − f_k(x2)| + b), trained on
    pairs labelled same (1) or different (0). ``weight`` ``(D,)``; ``bias``."""

    weight: torch.Tensor
    bias: float

    def probability(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        """``(P,)`` the probability that embeddings ``first`` and ``second`` ``(P, D)`` show one identity."""
        x = (first.double() - second.double()).abs()
        return torch.sigmoid(x @ self.weight.double() + self.bias)


L2 = 1e-3  # the logistic unit's weight decay (mean loss + L2/2 · ‖w‖²)


def fit_pair_classifier(embeddings: torch.Tensor, first: torch.Tensor, second: torch.Tensor,
                        same: torch.Tensor, l2: float = L2) -> PairClassifier:
    """The logistic unit fitted to the pairs ``first``, ``second`` ``(P,)`` of ``embeddings`` ``(N, D)`` labelled
    ``same``: mean binary cross-entropy plus ``l2``/2 ‖w‖² (the bias free), minimised by L-BFGS in float64 (a convex
    problem: deterministic, no learning rate to choose)."""
    if not len(first):
        raise ValueError("the logistic unit needs pairs to learn from; there are none")
    x = (embeddings[first].double() - embeddings[second].double()).abs()  # (P, D)
    y = same.double()
    w = torch.zeros(x.shape[1] + 1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w], lr=1.0, max_iter=500, tolerance_grad=1e-10, tolerance_change=1e-12,
                            line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(x @ w[:-1] + w[-1], y) + 0.5 * l2 * w[:-1].square().sum()
        loss.backward()
        return loss

    opt.step(closure)
    w = w.detach()
    return PairClassifier(w[:-1].clone(), float(w[-1]))


class Comparison(NamedTuple):
    """Verification of one group's pairs by the distance and by the logistic unit: their AUCs, and the accuracy of
    each at its own best cut (the distance's best threshold; the unit's probability 0.5)."""

    auc_distance: float
    auc_logistic: float
    accuracy_distance: float
    accuracy_logistic: float
    pairs: int


def compare_verifiers(ev: EmbedEvaluation, train_group: str = "seen", test_group: str = "held_out",
                      seed: int = 1) -> Comparison:
    """Fit the logistic unit on pairs of ``train_group`` (drawn by ``seed``, apart from the evaluation's own pairs),
    then verify the evaluation's pairs of ``test_group`` both ways."""
    fit = pair_set(ev.embeddings, ev.ids, ev.held_out, train_group, seed=seed)
    unit = fit_pair_classifier(ev.embeddings, fit.first, fit.second, fit.same)
    test = ev.pairs(test_group)
    p = unit.probability(ev.embeddings[test.first], ev.embeddings[test.second])
    logistic_right = ((p >= 0.5) == test.same).double().mean()
    return Comparison(M.auc(test.distances, test.same), M.auc(1.0 - p, test.same),
                      M.best_threshold(test.distances, test.same).accuracy, float(logistic_right), len(test.same))
