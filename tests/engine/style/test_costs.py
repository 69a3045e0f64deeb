"""The style-transfer costs (engine.style.costs) against the course's formulas written out as slow loops, numbers
worked by hand, the gradients they must have, and what their normalisation promises (the same cost at any image
size)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from engine.style.costs import content_cost, gram_matrix, style_cost, style_layer_cost, total_cost


def _acts(seed: int, c: int = 3, h: int = 4, w: int = 5) -> torch.Tensor:
    return torch.randn(1, c, h, w, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _gram_loop(a: np.ndarray) -> np.ndarray:
    """G[k, k'] = Σ_i Σ_j a[k, i, j]·a[k', i, j], one entry at a time."""
    c, h, w = a.shape
    g = np.zeros((c, c))
    for k, kk in itertools.product(range(c), range(c)):
        g[k, kk] = sum(a[k, i, j] * a[kk, i, j] for i in range(h) for j in range(w))
    return g


def test_gram_matrix_is_the_sum_over_positions_of_channel_products():
    a = _acts(0)
    assert np.allclose(gram_matrix(a)[0].numpy(), _gram_loop(a[0].numpy()))
    batch = torch.cat([_acts(1), _acts(2)])
    assert gram_matrix(batch).shape == (2, 3, 3)
    assert torch.allclose(gram_matrix(batch)[1], gram_matrix(_acts(2))[0])


def test_a_gram_matrix_worked_by_hand():
    a = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])  # (1, 2, 1, 2): channel 0 is (1, 2), channel 1 is (3, 4)
    assert gram_matrix(a)[0].tolist() == [[5.0, 11.0], [11.0, 25.0]]  # 1+4, 3+8, 9+16
    # its style cost against zero activations: Σ G² / (4·n_C²·(n_H·n_W)²) = (25 + 121 + 121 + 625) / (4·4·4)
    assert style_layer_cost(gram_matrix(a), torch.zeros_like(a)).item() == pytest.approx(892 / 64)
    # content cost against zero: Σ a² / (4·n_H·n_W·n_C) = 30 / 16
    assert content_cost(a, torch.zeros_like(a)).item() == pytest.approx(30 / 16)


def test_content_cost_is_the_courses_formula():
    a_c, a_g = _acts(3), _acts(4)
    _, c, h, w = a_c.shape
    expected = sum((a_c[0, k, i, j] - a_g[0, k, i, j]).item() ** 2
                   for k in range(c) for i in range(h) for j in range(w)) / (4 * h * w * c)
    assert content_cost(a_c, a_g).item() == pytest.approx(expected, rel=1e-12)
    assert content_cost(a_c, a_c).item() == 0


def test_style_layer_cost_is_the_courses_formula():
    a_s, a_g = _acts(5), _acts(6)
    _, c, h, w = a_s.shape
    gs, gg = _gram_loop(a_s[0].numpy()), _gram_loop(a_g[0].numpy())
    expected = ((gs - gg) ** 2).sum() / (4 * c ** 2 * (h * w) ** 2)
    assert style_layer_cost(gram_matrix(a_s), a_g).item() == pytest.approx(expected, rel=1e-12)
    assert style_layer_cost(gram_matrix(a_s), a_g, gram_matrix(a_g)).item() == pytest.approx(expected, rel=1e-12)


def test_style_cost_sums_the_layers_with_their_weights_as_given():
    layers = {"a": (_acts(7), _acts(8)), "b": (_acts(9, c=2, h=3, w=3), _acts(10, c=2, h=3, w=3))}
    grams = {n: gram_matrix(s) for n, (s, _) in layers.items()}
    feats = {n: g for n, (_, g) in layers.items()}
    total, per = style_cost(grams, feats, {"a": 0.3, "b": 2.0})
    each = {n: style_layer_cost(grams[n], feats[n]).item() for n in layers}
    assert {n: v.item() for n, v in per.items()} == pytest.approx(each)
    assert total.item() == pytest.approx(0.3 * each["a"] + 2.0 * each["b"])  # not renormalised to sum 1
    total_a, per_a = style_cost(grams, feats, {"a": 1.0})
    assert list(per_a) == ["a"] and total_a.item() == pytest.approx(each["a"])
    assert total_cost(torch.tensor(2.0), torch.tensor(3.0), 10, 40).item() == 140


def test_both_costs_are_the_same_at_any_image_size():
    """The normalisers make each cost a mean: activations tiled 2×2 (the same picture, four times the area) keep the
    content cost and each layer's style cost exactly — Gram entries grow with the area, their normaliser with its
    square."""
    a_c, a_g, a_s = _acts(11), _acts(12), _acts(13)

    def tile(a: torch.Tensor) -> torch.Tensor:
        return a.repeat(1, 1, 2, 2)

    assert content_cost(tile(a_c), tile(a_g)).item() == pytest.approx(content_cost(a_c, a_g).item(), rel=1e-12)
    small = style_layer_cost(gram_matrix(a_s), a_g).item()
    assert style_layer_cost(gram_matrix(tile(a_s)), tile(a_g)).item() == pytest.approx(small, rel=1e-12)


def test_the_gradients_are_the_formulas_derivatives():
    """∂J_content/∂a_G = (a_G − a_C) / (2·n_H·n_W·n_C); ∂J_style^[l]/∂a_G = (G_G − G_S)·a_G / (n_C²·(n_H·n_W)²)
    (a matrix product over channels: the unrolled activations (n_C, n_H·n_W)), and autograd's numeric check."""
    a_c, a_s = _acts(14), _acts(15)
    a_g = _acts(16).requires_grad_(True)
    _, c, h, w = a_g.shape
    content_cost(a_c, a_g).backward()
    assert torch.allclose(a_g.grad, (a_g - a_c).detach() / (2 * h * w * c))
    a_g.grad = None
    style_layer_cost(gram_matrix(a_s), a_g).backward()
    f = a_g.detach().reshape(c, h * w)
    expected = ((gram_matrix(a_g.detach())[0] - gram_matrix(a_s)[0]) @ f / (c * c * (h * w) ** 2)).reshape(a_g.shape)
    assert torch.allclose(a_g.grad, expected)
    assert torch.autograd.gradcheck(lambda g: style_layer_cost(gram_matrix(a_s), g) + content_cost(a_c, g),
                                    (a_g.detach().clone().requires_grad_(True),))


def test_bad_inputs_say_what_is_wrong():
    with pytest.raises(ValueError, match=r"a must be activations \(B, n_C, n_H, n_W\), got \(3, 4\)"):
        gram_matrix(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="differ in shape"):
        content_cost(_acts(0), _acts(0, h=5))
    with pytest.raises(ValueError, match="the style Gram matrix is \\(1, 2, 2\\) but the layer has 3 channels"):
        style_layer_cost(torch.zeros(1, 2, 2), _acts(0))
    with pytest.raises(ValueError, match="at least one layer"):
        style_cost({}, {}, {})
    with pytest.raises(ValueError, match="no activations for the style layer 'x'"):
        style_cost({}, {}, {"x": 1.0})
