"""The optimisation of G (engine.style.optimise) on the real offline backbone, on small images: it lowers J; with
α = 0 the gradient of J is β times the style cost's alone, with β = 0 α times the content cost's alone; it reports
every step, stops cleanly, starts from the content, content with noise or noise (seeded, without touching torch's
global generator); and a bad setting is a message naming it."""

from __future__ import annotations

import copy
import re
import threading

import numpy as np
import pytest
import torch

from engine.style.optimise import (
    StyleConfig,
    Targets,
    costs,
    image_tensor,
    initial_image,
    stylise,
    targets,
)

SIZE = 64


def _config(**kw) -> StyleConfig:
    return StyleConfig(size=SIZE, device="cpu", **{"steps": 12, **kw})


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_the_optimisation_lowers_J(lite0, cat, swirls, optimizer):
    steps = []
    # L-BFGS's first step is scaled down to 1/Σ|∇J| (torch's rule), so it needs a few steps to gather curvature
    result = stylise(cat, swirls, _config(optimizer=optimizer, steps=12 if optimizer == "adam" else 16),
                     extractor=lite0, on_step=steps.append)
    first, last = result.history[0], result.history[-1]
    assert result.status == "finished" and len(result.history) == len(steps) == last.steps
    assert last.total < 0.6 * first.total, (first.total, last.total)
    for e in result.history:  # each reported total is α·content + β·style at that step
        assert e.total == pytest.approx(10 * e.content + 40 * e.style, rel=1e-5)
        assert e.style == pytest.approx(sum(0.2 * v for v in e.per_layer.values()), rel=1e-5)
    assert first.content == 0  # G starts as the content image
    h, w = cat.shape[:2]
    assert result.image.shape == (round(h * SIZE / w), SIZE, 3) and result.image.dtype == np.uint8
    assert not np.array_equal(result.image, image_tensor(cat, SIZE)[0].permute(1, 2, 0).mul(255).round().byte())


def _gradient(extractor, g, tg, config) -> torch.Tensor:
    g = g.clone().requires_grad_(True)
    j, jc, js, _ = costs(extractor, g, tg, config)
    return torch.autograd.grad(j, g)[0]


def test_alpha_zero_leaves_only_the_style_gradient_and_beta_zero_only_the_content_gradient(lite0, cat, swirls):
    """Precisely: at a G that is neither C nor S, ∇_G J for (α, β) = (0, 40) equals 40·∇_G J_style and for (10, 0)
    equals 10·∇_G J_content, each computed on its own by autograd; for (10, 40) it is their sum; and neither part is
    zero (so each really is left out when its weight is 0)."""
    c = image_tensor(cat, SIZE)
    s = image_tensor(swirls, tuple(c.shape[-2:]))
    g = initial_image(c, "content+noise", 0.3, seed=1)
    config = _config()
    tg = targets(lite0, c, s, config)
    g1 = g.clone().requires_grad_(True)
    _, jc, js, _ = costs(lite0, g1, tg, config)
    grad_content = torch.autograd.grad(jc, g1, retain_graph=True)[0]
    grad_style = torch.autograd.grad(js, g1)[0]
    assert grad_content.abs().max() > 0 and grad_style.abs().max() > 0
    only_style = _gradient(lite0, g, tg, _config(alpha=0.0, beta=40.0))
    only_content = _gradient(lite0, g, tg, _config(alpha=10.0, beta=0.0))
    both = _gradient(lite0, g, tg, _config(alpha=10.0, beta=40.0))
    def close(a: torch.Tensor, b: torch.Tensor) -> bool:  # float32 through the network: 1e-6 of the largest entry
        return torch.allclose(a, b, rtol=1e-4, atol=1e-6 * float(b.abs().max()))

    assert close(only_style, 40 * grad_style)
    assert close(only_content, 10 * grad_content)
    assert close(both, 10 * grad_content + 40 * grad_style)
    assert not torch.allclose(only_style, both, rtol=1e-3) and not torch.allclose(only_content, both, rtol=1e-3)


def test_the_gradient_through_the_network_agrees_with_a_finite_difference(lite0, cat, swirls):
    """The slope of J along a random direction d, from autograd (∇_G J · d), against the central difference
    (J(G + εd) − J(G − εd)) / 2ε computed in float64 through the same network: they agree to 3 %. (A Gram matrix
    written as ``torch.einsum("bchw,bdhw->bcd", a, a)`` fails this with torch 2.14.1: docs/style.md.)"""
    c = image_tensor(cat, 48)
    s = image_tensor(swirls, tuple(c.shape[-2:]))
    config = _config()
    g = initial_image(c, "content+noise", 0.3, seed=2).requires_grad_(True)
    tg = targets(lite0, c, s, config)
    slope = float((torch.autograd.grad(costs(lite0, g, tg, config)[0], g)[0] * (d := torch.randn(
        c.shape, generator=torch.Generator().manual_seed(3)))).sum())
    ext64 = copy.deepcopy(lite0).double()
    tg64 = Targets(tg.content.double(), {n: m.double() for n, m in tg.grams.items()})
    with torch.no_grad():
        def j(x: torch.Tensor) -> float:
            return float(costs(ext64, x.double(), tg64, config)[0])

        eps = 1e-5  # J curves fast along a full-image direction: a small step, in float64
        numeric = (j(g + eps * d) - j(g - eps * d)) / (2 * eps)
    assert slope == pytest.approx(numeric, rel=0.03), (slope, numeric)


def test_previews_every_few_steps_and_at_the_end(lite0, cat, swirls):
    seen = []
    stylise(cat, swirls, _config(steps=7, preview_every=3), extractor=lite0, on_step=seen.append)
    assert [e.step for e in seen if e.image is not None] == [3, 6, 7]
    assert all(e.image.dtype == np.uint8 and e.image.ndim == 3 for e in seen if e.image is not None)
    assert seen[-1].eta_s == 0 and seen[0].seconds > 0


def test_stop_ends_cleanly_between_steps(lite0, cat, swirls):
    stop = threading.Event()
    seen = []

    def on_step(e):
        seen.append(e)
        if e.step == 3:
            stop.set()

    result = stylise(cat, swirls, _config(steps=50), extractor=lite0, on_step=on_step, stop=stop)
    assert result.status == "stopped" and result.reason == "stopped by the user"
    assert len(result.history) == 3 and result.image is not None


def test_inits_are_seeded_and_leave_the_global_generator_alone():
    c = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(123)
    before = torch.get_rng_state()
    assert torch.equal(initial_image(c, "content", 0.6, 0), c)
    a, b = initial_image(c, "noise", 0.6, 5), initial_image(c, "noise", 0.6, 5)
    assert torch.equal(a, b) and not torch.equal(a, initial_image(c, "noise", 0.6, 6))
    mixed = initial_image(c, "content+noise", 0.25, 5)
    assert torch.allclose(mixed, (0.75 * c + 0.25 * a).clamp(0, 1))
    assert torch.equal(torch.get_rng_state(), before)


def test_the_style_image_takes_the_contents_shape(lite0, cat, swirls):
    result = stylise(cat, swirls, _config(steps=1, init="noise"), extractor=lite0)  # a square style, a wide content
    assert result.image.shape[:2] == image_tensor(cat, SIZE).shape[-2:]
    tall = np.ascontiguousarray(cat.transpose(1, 0, 2))
    assert image_tensor(swirls, (64, 32)).shape == (1, 3, 64, 32)
    assert stylise(tall, swirls, _config(steps=1), extractor=lite0).image.shape == (SIZE, round(300 * SIZE / 451), 3)


def test_a_nan_cost_fails_with_the_reason(lite0, swirls):
    content = torch.full((1, 3, 32, 32), float("nan"))
    result = stylise(content, swirls, _config(steps=3), extractor=lite0)
    assert result.status == "failed" and "became nan at step 1" in result.reason


@pytest.mark.parametrize(("change", "message"), [
    ({"alpha": -1}, "alpha must be a number ≥ 0, got -1"),
    ({"alpha": 0, "beta": 0}, "alpha and beta are both 0"),
    ({"steps": 0}, "steps must be an integer from 1 to 5000, got 0"),
    ({"size": 8}, "size must be an integer from 32 to 1024, got 8"),
    ({"optimizer": "sgd"}, "optimizer must be one of adam, lbfgs, got 'sgd'"),
    ({"init": "zeros"}, "init must be one of content, content+noise, noise, got 'zeros'"),
    ({"lr": 0}, "the learning rate must be a number > 0, got 0"),
    ({"noise": 2}, "noise is a share of the image, between 0 and 1"),
    ({"content_layer": "block 99"}, "content layer: EfficientNet-Lite0 has no layer 'block 99'"),
    ({"style_layers": (("stem", -1.0),)}, "the weight λ of style layer 'stem' must be a number ≥ 0"),
    ({"style_layers": (("stem", 0.0),)}, "β > 0 needs at least one style layer with a weight λ > 0"),
    ({"backbone": "alexnet"}, "unknown style backbone 'alexnet'"),
])
def test_bad_settings_are_named(change, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        StyleConfig(**change).validated()


def test_a_config_round_trips_and_knows_its_defaults():
    c = StyleConfig(style_layers=(("stem", 0.5), ("block 4", 0.5)), lr=0.05)
    assert StyleConfig.from_dict(c.to_dict()) == c
    d = StyleConfig()
    assert d.content == "block 4" and d.style == {n: 0.2 for n in ("stem", "block 1", "block 2", "block 4", "block 6")}
    assert d.learning_rate == 0.02 and StyleConfig(optimizer="lbfgs").learning_rate == 1.0 and d.ratio == 0.25
    with pytest.raises(ValueError, match="the extractor is EfficientNet-Lite0 but the config asks for 'vgg19'"):
        from engine.style.backbones import FeatureExtractor  # noqa: F401

        stylise(np.zeros((8, 8, 3)), np.zeros((8, 8, 3)), StyleConfig(backbone="vgg19"), extractor=_Lite0Stub())


class _Lite0Stub:
    """Only what ``stylise`` reads before it checks the backbone: its name and device."""

    class backbone:  # noqa: N801
        name, title = "efficientnet_lite0", "EfficientNet-Lite0"

    mean = torch.zeros(1)
