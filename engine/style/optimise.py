"""Neural style transfer by optimisation (Gatys, Ecker & Bethge, "Image Style Transfer Using Convolutional Neural
Networks", CVPR 2016): the generated image G itself is what gradient descent changes, to lower
``J(G) = α·J_content(C, G) + β·J_style(S, G)`` (``engine.style.costs``) measured on a frozen pretrained network
(``engine.style.backbones``).

``stylise(content, style, config)`` starts G from the content image, the content image with noise, or noise; takes
``config.steps`` steps of Adam or L-BFGS on its pixels (kept in [0, 1]); reports a ``StyleStep`` after each (the step,
each cost, each style layer's cost, and every few steps the current picture) to ``on_step``; and stops cleanly between
two steps when ``stop`` is set. The same call serves the page (as a job, ``engine.jobs.style``), the CLI and the tests.
See docs/style.md.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from engine.device import describe, resolve
from engine.media.images import as_float, to_rgb, to_uint8
from engine.style.backbones import FeatureExtractor, backbone, load_extractor
from engine.style.costs import content_cost, gram_matrix, style_cost, total_cost

OPTIMIZERS = ("adam", "lbfgs")
INITS = {"content": "the content image", "content+noise": "the content image with noise", "noise": "noise"}
DEFAULT_LR = {"adam": 0.02, "lbfgs": 1.0}
MIN_SIZE, MAX_SIZE = 32, 1024
MAX_STEPS = 5000


@dataclass(frozen=True)
class StyleConfig:
    """What one optimisation does. ``content_layer`` and ``style_layers`` (``((name, λ_l), ...)``) default to the
    backbone's; ``lr`` to the optimiser's (Adam 0.02 in pixel units, L-BFGS 1); ``noise`` is the share of noise in
    "content+noise" (G = (1 − noise)·C + noise·U(0, 1)); ``size`` the output's longer side in pixels; ``preview_every``
    how many steps apart the current picture is reported."""

    alpha: float = 10.0
    beta: float = 40.0
    content_layer: str | None = None
    style_layers: tuple[tuple[str, float], ...] | None = None
    backbone: str = "efficientnet_lite0"
    steps: int = 100
    optimizer: str = "adam"
    lr: float | None = None
    init: str = "content"
    noise: float = 0.6
    size: int = 192
    seed: int = 0
    device: str = "auto"
    preview_every: int = 5

    @property
    def learning_rate(self) -> float:
        return float(self.lr) if self.lr is not None else DEFAULT_LR.get(self.optimizer, 0.02)

    @property
    def content(self) -> str:
        """The content layer's name (the backbone's default when not set)."""
        return self.content_layer or backbone(self.backbone).content_layer

    @property
    def style(self) -> dict[str, float]:
        """``{style layer: λ_l}`` (the backbone's defaults, λ = 1/5 each, when not set)."""
        if self.style_layers is None:
            names = backbone(self.backbone).style_layers
            return {n: 1.0 / len(names) for n in names}
        return {str(n): float(w) for n, w in self.style_layers}

    @property
    def ratio(self) -> float:
        """α/β (infinite when β is 0)."""
        return self.alpha / self.beta if self.beta else math.inf

    def problems(self) -> list[str]:
        """What is wrong with this config, one message per value (empty when it is valid)."""
        out = []
        for name in ("alpha", "beta", "noise"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
                out.append(f"{name} must be a number ≥ 0, got {v!r}")
        if not out and self.alpha == 0 and self.beta == 0:
            out.append("alpha and beta are both 0: the cost would be 0 whatever the image; make one positive")
        if not out and self.noise > 1:
            out.append(f"noise is a share of the image, between 0 and 1; got {self.noise!r}")
        for name, lo, hi in (("steps", 1, MAX_STEPS), ("size", MIN_SIZE, MAX_SIZE), ("preview_every", 1, MAX_STEPS)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                out.append(f"{name} must be an integer from {lo} to {hi}, got {v!r}")
        if self.optimizer not in OPTIMIZERS:
            out.append(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.init not in INITS:
            out.append(f"init must be one of {', '.join(INITS)}, got {self.init!r}")
        if self.lr is not None and (isinstance(self.lr, bool) or not isinstance(self.lr, int | float)
                                    or not math.isfinite(self.lr) or self.lr <= 0):
            out.append(f"the learning rate must be a number > 0, got {self.lr!r}")
        try:
            b = backbone(self.backbone)
        except ValueError as e:
            return [*out, str(e)]
        try:
            b.layer(self.content)
        except ValueError as e:
            out.append(f"content layer: {e}")
        style = self.style_layers if self.style_layers is not None else ()
        for name, weight in style:
            try:
                b.layer(name)
            except ValueError as e:
                out.append(f"style layer: {e}")
            if isinstance(weight, bool) or not isinstance(weight, int | float) or not math.isfinite(weight) or \
                    weight < 0:
                out.append(f"the weight λ of style layer {name!r} must be a number ≥ 0, got {weight!r}")
        if self.style_layers is not None and not out and self.beta > 0 and not any(w > 0 for _, w in style):
            out.append("β > 0 needs at least one style layer with a weight λ > 0")
        return out

    def validated(self) -> StyleConfig:
        """Itself, or ``ValueError`` listing every problem."""
        problems = self.problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["style_layers"] = None if self.style_layers is None else [list(p) for p in self.style_layers]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> StyleConfig:
        d = dict(d)
        if d.get("style_layers") is not None:
            d["style_layers"] = tuple((str(n), float(w)) for n, w in d["style_layers"])
        return cls(**d)


@dataclass(frozen=True)
class StyleStep:
    """What one step reports: ``step`` of ``steps`` done, the unweighted ``content`` and ``style`` costs, the
    ``total`` J = α·content + β·style, each style layer's ``J_style^[l]`` (``per_layer``), seconds since the start,
    and, every ``preview_every`` steps and at the last, the current picture ``(H, W, 3)`` uint8."""

    step: int
    steps: int
    content: float
    style: float
    total: float
    per_layer: dict[str, float]
    seconds: float
    image: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def eta_s(self) -> float:
        return self.seconds / self.step * (self.steps - self.step) if self.step else math.inf

    def costs(self) -> dict[str, float]:
        return {"step": self.step, "content": self.content, "style": self.style, "total": self.total}


@dataclass
class StyleResult:
    """How an optimisation ended: ``status`` ("finished", "stopped", "failed" with a ``reason``), the ``image``
    ``(H, W, 3)`` uint8 (the last G; None when it failed before the first step), the ``history`` (every step, without
    pictures), the ``config``, the ``device`` and the backbone's weights ``source``."""

    status: str
    image: np.ndarray | None
    history: list[StyleStep]
    config: StyleConfig
    device: str
    seconds: float
    reason: str = ""
    source: str = ""

    @property
    def last(self) -> StyleStep | None:
        return self.history[-1] if self.history else None

    @property
    def steps_per_second(self) -> float:
        last = self.last
        return last.step / last.seconds if last is not None and last.seconds > 0 else 0.0


# --------------------------------------------------------------------------------------------------- images


def image_tensor(image: np.ndarray, size: int | tuple[int, int]) -> torch.Tensor:
    """A picture ``(H, W)`` or ``(H, W, 3|4)`` (uint8, or float in [0, 1]) as ``(1, 3, h, w)`` float32 in [0, 1],
    resized (antialiased bilinear): so that its longer side is ``size``; or, ``size`` given as ``(h, w)``, its largest
    centred part of that shape resized to it."""
    a = to_rgb(as_float(np.asarray(image)))
    h, w = a.shape[:2]
    if isinstance(size, tuple):
        out = size
        ch, cw = min(h, round(w * out[0] / out[1])), min(w, round(h * out[1] / out[0]))  # the centred crop
        top, left = (h - ch) // 2, (w - cw) // 2
        a, h, w = a[top:top + ch, left:left + cw], ch, cw
    else:
        scale = size / max(h, w)
        out = (max(1, round(h * scale)), max(1, round(w * scale)))
    x = torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))[None]  # (1, 3, H, W)
    if (h, w) != tuple(out):
        x = F.interpolate(x, size=out, mode="bilinear", antialias=True, align_corners=False).clamp_(0, 1)
    return x


def picture(x: torch.Tensor) -> np.ndarray:
    """``(1, 3, H, W)`` in [0, 1] -> ``(H, W, 3)`` uint8."""
    return to_uint8(x.detach()[0].float().clamp(0, 1).permute(1, 2, 0).cpu().numpy())


def initial_image(content: torch.Tensor, init: str, noise: float, seed: int) -> torch.Tensor:
    """G before the first step: the content image, ``(1 − noise)·C + noise·U(0, 1)``, or ``U(0, 1)`` noise, drawn
    from a private generator seeded with ``seed`` (torch's global generator is neither read nor moved)."""
    if init == "content":
        return content.clone()
    u = torch.rand(content.shape, generator=torch.Generator().manual_seed(seed)).to(content.device)
    if init == "noise":
        return u
    if init == "content+noise":
        return ((1 - noise) * content + noise * u).clamp_(0, 1)
    raise ValueError(f"init must be one of {', '.join(INITS)}, got {init!r}")


# --------------------------------------------------------------------------------------------------- targets


@dataclass
class Targets:
    """What G is compared with, computed once: the content image's activations at the content layer, and the style
    image's Gram matrices at the style layers."""

    content: torch.Tensor
    grams: dict[str, torch.Tensor]


def targets(extractor: FeatureExtractor, content: torch.Tensor, style: torch.Tensor, config: StyleConfig) -> Targets:
    with torch.no_grad():
        a_c = extractor(content, [config.content])[config.content]
        feats_s = extractor(style, list(config.style))
    return Targets(a_c, {n: gram_matrix(a) for n, a in feats_s.items()})


def costs(extractor: FeatureExtractor, g: torch.Tensor, tg: Targets, config: StyleConfig
          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """``(J, J_content, J_style, {layer: J_style^[l]})`` of the image ``g`` ``(1, 3, H, W)``, from one forward pass."""
    weights = config.style
    feats = extractor(g, [config.content, *weights])
    j_content = content_cost(tg.content, feats[config.content])
    j_style, per_layer = style_cost(tg.grams, feats, weights)
    return total_cost(j_content, j_style, config.alpha, config.beta), j_content, j_style, per_layer


# --------------------------------------------------------------------------------------------------- the loop

StepCallback = Callable[[StyleStep], None]


def stylise(content: np.ndarray | torch.Tensor, style: np.ndarray | torch.Tensor, config: StyleConfig | None = None,
            *, extractor: FeatureExtractor | None = None, on_step: StepCallback | None = None,
            stop: threading.Event | None = None, allow_download: bool = False) -> StyleResult:
    """Optimise G for ``config`` (default ``StyleConfig()``). ``content`` and ``style``: pictures ``(H, W, 3)`` (uint8
    or float in [0, 1]) or tensors ``(1, 3, H, W)`` in [0, 1]; the content is resized so its longer side is
    ``config.size``, and the style image's largest centred part of the same shape to the same size. ``extractor``:
    the backbone already loaded (else it is, on the config's device; ``allow_download`` lets VGG-19's weights be
    fetched). ``ValueError`` for an invalid config; a cost that becomes nan or infinite ends it as "failed" with the
    reason."""
    config = (config or StyleConfig()).validated()
    device = resolve(config.device) if extractor is None else extractor.mean.device
    if extractor is None:
        extractor = load_extractor(config.backbone, device, allow_download=allow_download)
    elif extractor.backbone.name != config.backbone:
        raise ValueError(f"the extractor is {extractor.backbone.title} but the config asks for {config.backbone!r}")
    c = (content if isinstance(content, torch.Tensor) else image_tensor(content, config.size)).to(device)
    s = (style if isinstance(style, torch.Tensor) else image_tensor(style, tuple(c.shape[-2:]))).to(device)
    if s.shape != c.shape:  # the style cost's normaliser is G's n_H·n_W: S must have G's size (docs/style.md)
        raise ValueError(f"the style image {tuple(s.shape)} must have the content image's shape {tuple(c.shape)}")
    tg = targets(extractor, c, s, config)
    g = initial_image(c, config.init, config.noise, config.seed).requires_grad_(True)
    optimizer = _optimizer(g, config)
    start, history = time.perf_counter(), []
    status, reason = "finished", ""
    for step in range(1, config.steps + 1):
        if stop is not None and stop.is_set():
            status, reason = "stopped", "stopped by the user"
            break
        values = _step(optimizer, extractor, g, tg, config)
        j, jc, js, per = values[0], values[1], values[2], dict(zip(config.style, values[3:], strict=True))
        if not all(math.isfinite(v) for v in values):
            status = "failed"
            reason = f"the cost became {j} at step {step} — try a lower learning rate"
            break
        last = step == config.steps
        event = StyleStep(step, config.steps, jc, js, j, per, time.perf_counter() - start,
                          picture(g) if last or step % config.preview_every == 0 else None)
        history.append(replace(event, image=None))
        if on_step is not None:
            on_step(event)
    return StyleResult(status, picture(g) if history else None, history, config, describe(device),
                       time.perf_counter() - start, reason, extractor.source)


def _optimizer(g: torch.Tensor, config: StyleConfig) -> torch.optim.Optimizer:
    if config.optimizer == "lbfgs":  # one iteration per step, so every step can report and be stopped after
        return torch.optim.LBFGS([g], lr=config.learning_rate, max_iter=1, history_size=20,
                                 line_search_fn="strong_wolfe")
    return torch.optim.Adam([g], lr=config.learning_rate)


def _step(optimizer: torch.optim.Optimizer, extractor: FeatureExtractor, g: torch.Tensor, tg: Targets,
          config: StyleConfig) -> list[float]:
    """One step of the optimiser on G's pixels, then G clipped to [0, 1]. Returns ``[J, J_content, J_style,
    *J_style^[l]]`` at G before the step (read from the device at once)."""
    seen: list[torch.Tensor] = []

    def closure() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        j, jc, js, per = costs(extractor, g, tg, config)
        j.backward()
        if not seen:  # L-BFGS's line search calls it again: report the costs at the start of the step
            seen.extend([j, jc, js, *per.values()])
        return j

    optimizer.step(closure)
    with torch.no_grad():
        g.clamp_(0, 1)
    return torch.stack([v.detach() for v in seen]).tolist()
