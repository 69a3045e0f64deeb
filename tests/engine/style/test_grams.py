"""The Gram matrices the page shows (engine.style.grams): the style image's and the result's at one layer, divided by
n_H·n_W, against a forward pass of the extractor and the style cost of engine.style.costs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.style.costs import gram_matrix, style_layer_cost
from engine.style.grams import gram_pair
from engine.style.optimise import image_tensor, picture


def test_the_pair_is_each_images_gram_matrix_over_its_positions_and_the_layers_cost(lite0, cat, swirls):
    generated = picture(image_tensor(cat, 64))  # (43, 64, 3): what a result looks like
    pair = gram_pair(lite0, swirls, generated, "block 2", max_channels=16)
    g = image_tensor(generated, (43, 64))
    s = image_tensor(swirls, (43, 64))
    with torch.no_grad():
        a_g, a_s = lite0(g, ["block 2"])["block 2"], lite0(s, ["block 2"])["block 2"]
    _, c, h, w = a_g.shape
    assert (pair.channels, pair.shown) == (c, 16) and pair.style.shape == pair.generated.shape == (16, 16)
    np.testing.assert_allclose(pair.generated, (gram_matrix(a_g)[0] / (h * w))[:16, :16].numpy(), rtol=1e-5)
    np.testing.assert_allclose(pair.style, (gram_matrix(a_s)[0] / (h * w))[:16, :16].numpy(), rtol=1e-5)
    assert pair.cost == pytest.approx(float(style_layer_cost(gram_matrix(a_s), a_g)), rel=1e-5)
    assert pair.cost > 0
    same = gram_pair(lite0, generated, generated, "block 2")
    assert same.cost == pytest.approx(0.0, abs=1e-9) and same.shown == c  # 24 channels: all shown
