"""Neural style transfer's cost per step (issue 14): ``engine.style.optimise.stylise`` against a plain reference loop
written out here — the same losses (the course's normalisations) on the same backbone (EfficientNet-Lite0, the
engine's extractor object), Adam on the same pixels, the same clipping — at 256 px, in the same run; then fast mode's
frame rate on a 640×480 webcam-sized frame.

The engine does more per step than the reference (each style layer's cost read back for the page, the current picture
every 5 steps, a stop flag): this measures what that costs. Trials alternate engine and reference so that another
process's load falls on both; the first step's costs are checked equal before anything is timed.

    python bench/bench_style.py [--size 256] [--steps 5] [--repeats 3] [--frames 8]

Prints what it measured and exits 1 when the engine's median time per step is more than 1.05× the reference's.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.device import describe  # noqa: E402
from engine.media.images import sample_image, to_uint8  # noqa: E402
from engine.style.artworks import artwork  # noqa: E402
from engine.style.backbones import FeatureExtractor, load_extractor  # noqa: E402
from engine.style.optimise import StyleConfig, image_tensor, stylise  # noqa: E402

TARGET = 1.05


def reference(extractor: FeatureExtractor, content: torch.Tensor, style: torch.Tensor, config: StyleConfig
              ) -> list[float]:
    """The plain loop: forward through the network's layers collecting the named outputs, Gram matrices as the
    unrolled activations times their transpose, the course's costs, Adam on G, clip to [0, 1]. Returns J per step.
    (``torch.einsum("bchw,bdhw->bcd", a, a)`` gives the same values but, with torch 2.14.1 on an in-place ReLU6's
    output, a wrong gradient — a finite difference sides with the matrix product — so it is not used.)"""
    layers = list(extractor.body)
    want = {extractor.backbone.layer(n).index: n for n in [config.content, *config.style]}
    last = max(want)
    mean, std = extractor.mean, extractor.std

    def features(x: torch.Tensor) -> dict[str, torch.Tensor]:
        out, x = {}, (x - mean) / std
        for i in range(last + 1):
            x = layers[i](x)
            if i in want:
                out[want[i]] = x
        return out

    def gram(a: torch.Tensor) -> torch.Tensor:
        f = a.flatten(2)  # (B, n_C, n_H·n_W)
        return torch.bmm(f, f.transpose(1, 2))

    with torch.no_grad():
        a_c = features(content)[config.content]
        grams = {n: gram(a) for n, a in features(style).items() if n in config.style}
    g = content.clone().requires_grad_(True)
    opt = torch.optim.Adam([g], lr=config.learning_rate)
    totals = []
    for _ in range(config.steps):
        opt.zero_grad()
        f = features(g)
        _, c, h, w = f[config.content].shape
        j_content = ((a_c - f[config.content]) ** 2).sum() / (4 * c * h * w)
        j_style = 0.0
        for n, lam in config.style.items():
            _, c, h, w = f[n].shape
            j_style = j_style + lam * ((grams[n] - gram(f[n])) ** 2).sum() / (4 * c * c * (h * w) ** 2)
        j = config.alpha * j_content + config.beta * j_style
        j.backward()
        opt.step()
        with torch.no_grad():
            g.clamp_(0, 1)
        totals.append(j.item())
    return totals


def _timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def optimisation(device: str, size: int, steps: int, repeats: int) -> float:
    """Prints the engine's and the reference's time per step on ``device``; returns their ratio."""
    extractor = load_extractor("efficientnet_lite0", device)
    photo = to_uint8(sample_image("chelsea", None, gray=False))
    config = StyleConfig(size=size, steps=steps, device=device)  # the page's defaults otherwise (preview every 5)
    c = image_tensor(photo, size).to(device)
    s = image_tensor(to_uint8(artwork("swirls", 512)), tuple(c.shape[-2:])).to(device)
    check = replace_steps(config, 2)
    ours = [e.total for e in stylise(c, s, check, extractor=extractor).history]
    ref = reference(extractor, c, s, check)
    assert np.allclose(ours, ref, rtol=1e-4), (ours, ref)  # the same losses, the same steps
    engine_s, reference_s = [], []
    for _ in range(repeats):
        t, _ = _timed(lambda: stylise(c, s, config, extractor=extractor))
        engine_s.append(t / steps)
        t, _ = _timed(lambda: reference(extractor, c, s, config))
        reference_s.append(t / steps)
    e, r = statistics.median(engine_s), statistics.median(reference_s)
    h, w = c.shape[-2:]
    print(f"Optimisation, EfficientNet-Lite0, {w}×{h} px, Adam, {steps} steps × {repeats} trials on "
          f"{describe(torch.device(device))} (first step's J equal: {ours[0]:.6g})")
    print(f"  engine     {e * 1e3:8.1f} ms/step   {1 / e:6.2f} steps/s   (fastest {min(engine_s) * 1e3:.1f} ms)")
    print(f"  reference  {r * 1e3:8.1f} ms/step   {1 / r:6.2f} steps/s   (fastest {min(reference_s) * 1e3:.1f} ms)")
    print(f"  ratio engine/reference {e / r:.3f} (target ≤ {TARGET})")
    return e / r


def replace_steps(config: StyleConfig, steps: int) -> StyleConfig:
    from dataclasses import replace

    return replace(config, steps=steps)


def fast_mode(frames: int) -> None:
    from engine.style.fast import FastStyler, available

    ok, why = available()
    if not ok:
        print(f"Fast mode: not available ({why})")
        return
    styler = FastStyler()
    frame = np.random.default_rng(0).integers(0, 256, (480, 640, 3), np.uint8)
    vector = styler.style_vector(to_uint8(artwork("swirls", 256)))
    styler.stylise(frame, vector)  # warm-up
    times = [_timed(lambda: styler.stylise(frame, vector))[0] for _ in range(frames)]
    m = statistics.median(times)
    print(f"Fast mode (ONNX, {styler.device}), a 640×480 frame: {m * 1e3:.0f} ms median of {frames} "
          f"({1 / m:.2f} frames/s; fastest {min(times) * 1e3:.0f} ms)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--frames", type=int, default=8)
    args = p.parse_args(argv)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    ratios = [optimisation(d, args.size, args.steps, args.repeats) for d in devices]
    fast_mode(args.frames)
    worst = max(ratios)
    verdict = "meets" if worst <= TARGET else "MISSES"
    print(f"Worst ratio {worst:.3f}: {verdict} the ≤ {TARGET} target")
    return 0 if worst <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
