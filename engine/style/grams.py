"""The Gram matrices a page shows: the style image's and the generated image's at one layer, side by side, on the
same scale — what the style cost compares (``engine.style.costs``).

Each is divided by the layer's n_H·n_W (the number of positions summed over), so an entry is the mean product of two
channels' activations: the two pictures' matrices compare at any size, and the squared difference of the normalised
matrices, averaged over the n_C² entries and divided by 4, is that layer's ``J_style^[l]`` (docs/style.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.style.backbones import FeatureExtractor
from engine.style.costs import gram_matrix
from engine.style.optimise import image_tensor

MAX_CHANNELS = 64  # the first channels shown: a 1280×1280 matrix is unreadable on a page


@dataclass(frozen=True)
class GramPair:
    """At ``layer``: the style image's and the generated image's Gram matrices divided by n_H·n_W (the first
    ``shown`` of ``channels`` channels), and the layer's ``cost`` ``J_style^[l]`` over all its channels."""

    layer: str
    style: np.ndarray
    generated: np.ndarray
    channels: int
    shown: int
    cost: float


def gram_pair(extractor: FeatureExtractor, style: np.ndarray, generated: np.ndarray, layer: str,
              max_channels: int = MAX_CHANNELS) -> GramPair:
    """The two Gram matrices at ``layer`` (a name of the extractor's backbone). ``style`` is taken at the generated
    image's shape (its largest centred part, resized), as the optimisation does; both are ``(H, W, 3)`` pictures."""
    device = extractor.mean.device
    g = image_tensor(generated, tuple(np.asarray(generated).shape[:2])).to(device)
    s = image_tensor(style, tuple(g.shape[-2:])).to(device)
    with torch.no_grad():
        a_s, a_g = extractor(s, [layer])[layer], extractor(g, [layer])[layer]
        _, c, h, w = a_g.shape
        gs, gg = gram_matrix(a_s)[0] / (h * w), gram_matrix(a_g)[0] / (h * w)
        cost = float((gs - gg).square().sum() / (4 * c * c))
    n = min(c, max_channels)
    return GramPair(layer, gs[:n, :n].cpu().numpy(), gg[:n, :n].cpu().numpy(), c, n, cost)
