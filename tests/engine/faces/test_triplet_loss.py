"""The triplet loss against torch's TripletMarginLoss-style reference computation (with squared distances), and each
mining strategy against a slow loop over every triplet of the batch."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

from engine.faces.triplet import MINING, batch_loss, mine, squared_distances, triplet_loss


def _batch(seed: int, b: int = 12, d: int = 5, identities: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    e = F.normalize(torch.randn(b, d, generator=g, dtype=torch.float64), dim=1)
    ids = torch.randint(identities, (b,), generator=g)
    return e, ids


def test_the_loss_is_torch_s_triplet_margin_loss_on_squared_distances():
    g = torch.Generator().manual_seed(0)
    a, p, n = (torch.randn(50, 8, generator=g, dtype=torch.float64) for _ in range(3))
    # TripletMarginLoss with a distance function: max(d(a, p) − d(a, n) + margin, 0), here d = squared euclidean
    reference = torch.nn.TripletMarginWithDistanceLoss(
        distance_function=lambda x, y: F.pairwise_distance(x, y, eps=0.0).square(), margin=0.2, reduction="none")
    assert torch.allclose(triplet_loss(a, p, n, 0.2), reference(a, p, n))
    # with plain distances it is TripletMarginLoss itself: the squares are what make it FaceNet's
    plain = torch.nn.TripletMarginLoss(margin=0.2, p=2, eps=0.0, reduction="none")(a, p, n)
    assert not torch.allclose(triplet_loss(a, p, n, 0.2), plain)
    # by hand, one triplet: ‖a−p‖² = 1, ‖a−n‖² = 4 → max(1 − 4 + 0.2, 0) = 0; swapped → 3.2
    a1, p1, n1 = torch.zeros(1, 2), torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 2.0]])
    assert triplet_loss(a1, p1, n1, 0.2).item() == 0.0
    assert triplet_loss(a1, n1, p1, 0.2).item() == pytest.approx(3.2)


def test_squared_distances_are_cdist_squared_and_have_finite_gradients():
    e, _ = _batch(1)
    assert torch.allclose(squared_distances(e), torch.cdist(e, e).square(), atol=1e-12)
    x = e.clone().requires_grad_(True)
    squared_distances(torch.cat([x, x[:1]])).sum().backward()  # a repeated row: zero distance off the diagonal
    assert torch.isfinite(x.grad).all()


def _slow_reference(e: torch.Tensor, ids: torch.Tensor, mining: str) -> set[tuple[int, int, int]]:
    """Every valid triplet by loops, then the ones ``mining`` keeps."""
    b = len(ids)
    d = [[float(((e[i] - e[j]) ** 2).sum()) for j in range(b)] for i in range(b)]
    valid = [(a, p, n) for a, p, n in itertools.product(range(b), repeat=3)
             if a != p and ids[a] == ids[p] and ids[a] != ids[n]]
    out = set()
    if mining == "hard":
        for a in range(b):
            mine_a = [t for t in valid if t[0] == a]
            if mine_a:
                p = max((t[1] for t in mine_a), key=lambda j: d[a][j])
                n = min((t[2] for t in mine_a), key=lambda j: d[a][j])
                out.add((a, p, n))
    else:  # semi-hard, as TensorFlow Addons: per (a, p) the closest negative farther than p, else the farthest
        for a, p in {(t[0], t[1]) for t in valid}:
            negs = [t[2] for t in valid if t[:2] == (a, p)]
            farther = [n for n in negs if d[a][n] > d[a][p]]
            out.add((a, p, min(farther, key=lambda j: d[a][j]) if farther else max(negs, key=lambda j: d[a][j])))
    return out


@pytest.mark.parametrize("mining", ["hard", "semi-hard"])
@pytest.mark.parametrize("seed", range(6))
def test_hard_and_semi_hard_mining_pick_what_a_loop_over_all_triplets_picks(mining, seed):
    e, ids = _batch(seed, b=10 + seed, identities=2 + seed % 3)
    t = mine(e, ids, mining)
    got = set(zip(t.anchor.tolist(), t.positive.tolist(), t.negative.tolist(), strict=True))
    assert len(got) == len(t)  # no triplet twice
    assert got == _slow_reference(e, ids, mining)


def test_random_mining_picks_valid_triplets_that_vary_and_cover_the_negatives():
    e, ids = _batch(7, b=16, identities=3)
    g = torch.Generator().manual_seed(0)
    seen_neg: set[tuple[int, int]] = set()
    for _ in range(40):
        t = mine(e, ids, "random", generator=g)
        anchors = [a for a in range(16) if (ids == ids[a]).sum() > 1 and (ids != ids[a]).any()]
        assert t.anchor.tolist() == anchors  # every anchor that has a positive and a negative, once
        assert (ids[t.positive] == ids[t.anchor]).all() and (t.positive != t.anchor).all()
        assert (ids[t.negative] != ids[t.anchor]).all()
        seen_neg |= set(zip(t.anchor.tolist(), t.negative.tolist(), strict=True))
    every = {(a, n) for a in anchors for n in range(16) if ids[n] != ids[a]}
    assert len(seen_neg) > 0.9 * len(every)  # random: nearly every negative of every anchor drawn in 40 batches
    # without a generator: a hash of the batch — the same batch mines the same triplets, another batch others
    t1, t2 = mine(e, ids, "random"), mine(e, ids, "random")
    assert torch.equal(t1.negative, t2.negative) and torch.equal(t1.positive, t2.positive)
    perm = torch.randperm(16, generator=g)
    t3 = mine(e[perm], ids[perm], "random")
    assert (ids[perm][t3.negative] != ids[perm][t3.anchor]).all()


def test_hard_mining_gives_the_largest_loss_and_random_mostly_easy_triplets():
    e, ids = _batch(3, b=64, d=16, identities=6)
    losses = {m: batch_loss(e, ids, m, 0.2)[0].item() for m in MINING}
    assert losses["hard"] >= losses["semi-hard"] >= 0.0 and losses["hard"] > losses["random"]
    t = mine(e, ids, "hard")
    per = triplet_loss(e[t.anchor], e[t.positive], e[t.negative], 0.2)
    # the hardest triplet of each anchor has the largest loss among all its triplets (loop check)
    for a, loss in zip(t.anchor.tolist(), per.tolist(), strict=True):
        alls = [triplet_loss(e[a:a + 1], e[p:p + 1], e[n:n + 1], 0.2).item() for p in range(64) for n in range(64)
                if p != a and ids[p] == ids[a] and ids[n] != ids[a]]
        assert loss == pytest.approx(max(alls))


def test_a_batch_without_triplets_gives_a_zero_loss_that_still_backpropagates():
    e = torch.randn(4, 3, requires_grad=True)
    for ids in (torch.tensor([0, 1, 2, 3]), torch.tensor([5, 5, 5, 5])):  # no positive; no negative
        loss, t = batch_loss(e, ids, "hard")
        assert len(t) == 0 and loss.item() == 0.0
        loss.backward()
    with pytest.raises(ValueError, match="mining must be one of"):
        mine(e, torch.tensor([0, 0, 1, 1]), "hardest")


def test_ranked_triplets_are_the_mined_ones_largest_loss_first():
    from engine.faces.triplet import ranked

    e, ids = _batch(5, b=20, identities=4)
    r = ranked(e, ids, "semi-hard", 0.2)
    t = mine(e, ids, "semi-hard")
    assert sorted((m.anchor, m.positive, m.negative) for m in r) == sorted(
        zip(t.anchor.tolist(), t.positive.tolist(), t.negative.tolist(), strict=True))
    assert [m.loss for m in r] == sorted((m.loss for m in r), reverse=True)
    for m in r:
        assert m.d_ap == pytest.approx(float(((e[m.anchor] - e[m.positive]) ** 2).sum()), abs=1e-5)
        assert m.loss == pytest.approx(max(m.d_ap - m.d_an + 0.2, 0.0), abs=1e-6)
