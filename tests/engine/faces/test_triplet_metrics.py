"""Verification metrics against scikit-learn's ROC and AUC and against counting by hand: FAR, FRR, the best threshold,
the pair sampling."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score, roc_curve

from engine.faces import metrics as M


def _pairs(seed: int, n: int = 300, ties: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    same = torch.rand(n, generator=g) < 0.4
    d = (torch.randn(n, generator=g, dtype=torch.float64) * 0.3 + torch.where(same, 0.6, 1.1)).abs()
    if ties:
        d = (d * 10).round() / 10  # many equal distances
    return d, same


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", range(3))
def test_roc_and_auc_match_scikit_learn(seed, ties):
    d, same = _pairs(seed, ties=ties)
    assert M.auc(d, same) == pytest.approx(roc_auc_score(same.numpy(), -d.numpy()), abs=1e-6)
    r = M.roc(d, same)
    fpr, tpr, thr = roc_curve(same.numpy(), -d.numpy(), drop_intermediate=False)
    # scikit-learn starts at an "accept nothing" threshold of +inf; the points after it are the same curve
    assert np.allclose(r.far.numpy()[1:], fpr[1:]) and np.allclose(r.tar.numpy()[1:], tpr[1:])
    assert np.allclose(r.threshold.numpy()[1:], -thr[1:])
    # each point's rates are what accepting distance ≤ threshold gives, counted by hand
    for far, tar, t in list(zip(r.far, r.tar, r.threshold, strict=True))[1:]:
        assert float(far) == pytest.approx(float(((d <= t) & ~same).sum() / (~same).sum()))
        assert float(tar) == pytest.approx(float(((d <= t) & same).sum() / same.sum()))


def test_far_and_frr_count_accepted_different_and_rejected_same_pairs():
    d = torch.tensor([0.1, 0.4, 0.5, 0.5, 0.9, 1.2])
    same = torch.tensor([True, True, False, True, False, True])
    rates = M.far_frr(d, same, 0.5)  # accepted: 0.1, 0.4, 0.5, 0.5
    assert rates.far == pytest.approx(1 / 2) and rates.frr == pytest.approx(1 / 4)
    far, frr = M.far_frr_curve(d, same, torch.tensor([-1.0, 0.45, 2.0]))
    assert far.tolist() == pytest.approx([0.0, 0.0, 1.0]) and frr.tolist() == pytest.approx([1.0, 0.5, 0.0])
    with pytest.raises(ValueError, match="same and different pairs"):
        M.roc(d, torch.ones(6, dtype=torch.bool))
    assert np.isnan(M.auc(d, torch.zeros(6, dtype=torch.bool)))
    with pytest.raises(ValueError, match="finite and ≥ 0"):
        M.auc(torch.tensor([-0.1, 0.2]), torch.tensor([True, False]))


@pytest.mark.parametrize("seed", range(4))
def test_the_best_threshold_is_the_best_of_all_thresholds_tried_by_brute_force(seed):
    d, same = _pairs(seed, n=80, ties=seed % 2 == 1)
    best = M.best_threshold(d, same)
    candidates = [float(d.min()) - 1, *torch.linspace(0, float(d.max()) + 0.1, 2001).tolist(), *d.tolist()]
    accuracy = max(float(((d <= t) == same).double().mean()) for t in candidates)
    assert best.accuracy == pytest.approx(accuracy)
    assert float(((d <= best.threshold) == same).double().mean()) == pytest.approx(best.accuracy)
    rates = M.far_frr(d, same, best.threshold)
    assert (best.far, best.frr) == pytest.approx((rates.far, rates.frr))


def test_sampled_pairs_are_distinct_images_labelled_rightly_and_reproducible():
    ids = torch.tensor([0] * 5 + [1] * 1 + [2] * 30 + [3] * 2)
    first, second, same = M.sample_pairs(ids, 500, seed=3)
    assert int(same.sum()) == 500 and int((~same).sum()) == 500
    assert (first != second).all()
    assert torch.equal(ids[first] == ids[second], same)
    assert not (ids[first[same]] == 1).any()  # identity 1 has one image: no same pair
    assert torch.equal(M.sample_pairs(ids, 500, seed=3)[0], first)
    assert not torch.equal(M.sample_pairs(ids, 500, seed=4)[0], first)
    assert len(M.sample_pairs(torch.tensor([4, 4, 4]), 10)[0]) == 10  # one identity: same pairs only
    # the same pairs spread over every image that has a partner
    assert set(torch.cat([first[same], second[same]]).tolist()) == set(range(38)) - {5}
