"""The costs of neural style transfer (Gatys, Ecker & Bethge, "A Neural Algorithm of Artistic Style", 2015; "Image
Style Transfer Using Convolutional Neural Networks", CVPR 2016), with the normalisations of the course (docs/style.md).

They compare activations of a fixed, pretrained network — any network: these functions see only activation tensors
``(B, n_C, n_H, n_W)``, so the costs do not depend on the backbone (``engine.style.backbones``).

- Content: how far the generated image's activations at one layer are from the content image's,
  ``J_content(C, G) = 1 / (4·n_H·n_W·n_C) · Σ (a_C − a_G)²``.
- Style at one layer: how far the Gram matrices (channel-by-channel correlations, summed over positions) are,
  ``J_style^[l](S, G) = 1 / (4·n_C²·(n_H·n_W)²) · Σ_k Σ_k' (G_S[k, k'] − G_G[k, k'])²`` with
  ``G[k, k'] = Σ_i Σ_j a[k, i, j] · a[k', i, j]``.
- Style over layers: ``J_style(S, G) = Σ_l λ_l · J_style^[l](S, G)``, the weights as given (not renormalised).
- Total: ``J(G) = α·J_content(C, G) + β·J_style(S, G)``.

Why those denominators: the content sum has n_H·n_W·n_C terms, so dividing by that count makes it a mean squared
difference that does not grow with the image or the layer. A Gram entry sums n_H·n_W products, so it grows with the
image's area; dividing each difference by n_H·n_W, and the sum of squares by its n_C² entries, makes the style cost of a
layer a mean as well — comparable across layers of different sizes and across image sizes, so that α, β and λ_l mean
the same at 128 px and at 512 px. The 4 (= 2²) in both is Gatys's convention (the ½ of a squared error, for a tidy
gradient) kept by the course.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch


def _check_activations(name: str, a: torch.Tensor) -> None:
    if not isinstance(a, torch.Tensor) or a.ndim != 4:
        shape = tuple(a.shape) if isinstance(a, torch.Tensor) else type(a).__name__
        raise ValueError(f"{name} must be activations (B, n_C, n_H, n_W), got {shape}")


def gram_matrix(a: torch.Tensor) -> torch.Tensor:
    """The Gram matrix of activations ``a`` ``(B, n_C, n_H, n_W)``: ``(B, n_C, n_C)`` with ``G[b, k, k'] = Σ_ij
    a[b, k, i, j]·a[b, k', i, j]`` — unnormalised, as in the course (the style cost divides)."""
    _check_activations("a", a)
    b, c, h, w = a.shape
    f = a.reshape(b, c, h * w)  # (B, n_C, n_H·n_W): one row per channel, "unrolled"
    return f @ f.transpose(1, 2)  # (B, n_C, n_C)


def content_cost(a_c: torch.Tensor, a_g: torch.Tensor) -> torch.Tensor:
    """``J_content = 1/(4·n_H·n_W·n_C) · Σ (a_C − a_G)²`` for activations ``(B, n_C, n_H, n_W)`` of the same shape,
    summed over the batch (one image: B = 1). A 0-d tensor."""
    _check_activations("a_c", a_c)
    _check_activations("a_g", a_g)
    if a_c.shape[1:] != a_g.shape[1:]:
        raise ValueError(f"the content and generated activations differ in shape: {tuple(a_c.shape)} and "
                         f"{tuple(a_g.shape)}; give both images the same size")
    _, c, h, w = a_g.shape
    return (a_c - a_g).square().sum() / (4 * c * h * w)


def style_layer_cost(gram_s: torch.Tensor, a_g: torch.Tensor, gram_g: torch.Tensor | None = None) -> torch.Tensor:
    """One layer's ``J_style^[l] = 1/(4·n_C²·(n_H·n_W)²) · Σ (G_S − G_G)²``: ``gram_s`` ``(B, n_C, n_C)`` is the
    style image's Gram matrix at this layer, ``a_g`` ``(B, n_C, n_H, n_W)`` the generated image's activations (their
    n_H·n_W is the normaliser; the style image may have had another size), ``gram_g`` their Gram matrix when already
    computed. A 0-d tensor, summed over the batch."""
    _check_activations("a_g", a_g)
    _, c, h, w = a_g.shape
    if gram_g is None:
        gram_g = gram_matrix(a_g)
    if gram_s.shape[-2:] != (c, c):
        raise ValueError(f"the style Gram matrix is {tuple(gram_s.shape)} but the layer has {c} channels")
    return (gram_s - gram_g).square().sum() / (4 * c * c * (h * w) ** 2)


def style_cost(grams_s: Mapping[str, torch.Tensor], feats_g: Mapping[str, torch.Tensor],
               weights: Mapping[str, float]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """``J_style = Σ_l λ_l · J_style^[l]`` over the layers named in ``weights`` (``{layer: λ_l}``): ``grams_s`` the
    style image's Gram matrices, ``feats_g`` the generated image's activations, both by layer name. Returns the total
    and each layer's unweighted ``J_style^[l]`` (0-d tensors)."""
    if not weights:
        raise ValueError("the style cost needs at least one layer")
    per_layer = {}
    for name in weights:
        if name not in grams_s or name not in feats_g:
            raise ValueError(f"no activations for the style layer {name!r}")
        per_layer[name] = style_layer_cost(grams_s[name], feats_g[name])
    total = sum((float(weights[n]) * j for n, j in per_layer.items()), torch.zeros((), device=next(
        iter(per_layer.values())).device))
    return total, per_layer


def total_cost(j_content: torch.Tensor, j_style: torch.Tensor, alpha: float, beta: float) -> torch.Tensor:
    """``J(G) = α·J_content + β·J_style``."""
    return alpha * j_content + beta * j_style
