"""Sliding windows: one forward pass per window against the convolutional form's single pass (OverFeat).

The shapes-sized classifier (LeNet-5's layout on 3×32×32) looks for objects in a 256×256 image with 32×32 windows
4 pixels apart (the product of its pooling strides, where the two ways give the same score map). Both run on the CPU
here (CUDA too when there is one), batched, in eval mode; the score maps are checked equal before timing. Target: the
convolutional form at least 5× faster (it does about 9× fewer multiply-accumulates here).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

from engine.data import Normalization
from engine.detection.sliding import convolutional_windows, convolutionalize, sliding_windows, trunk_stride
from engine.nets.build import build
from engine.nets.spec import Conv2d, Flatten, Linear, MaxPool2d, NetworkSpec, ReLU

TARGET = 5.0  # the work itself shrinks about 9×: the head, as convolutions, still runs at every window
SPEC = NetworkSpec((3, 32, 32), (Conv2d(6, 5), ReLU(), MaxPool2d(2), Conv2d(16, 5), ReLU(), MaxPool2d(2), Flatten(),
                                 Linear(120), ReLU(), Linear(84), ReLU(), Linear(6)))
STATS = Normalization((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))


def _best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _compare(device: str, image: torch.Tensor, repeats: int) -> float:
    """Check the two score maps agree, time both, print, and return the speed-up."""
    model = build(SPEC, device=device, seed=0).eval()
    fcn = convolutionalize(model)
    stride = trunk_stride(SPEC)
    loop = sliding_windows(model, image, 32, stride, STATS)
    conv = convolutional_windows(fcn, image, 32, STATS, SPEC.input)
    assert torch.allclose(loop.probs, conv.probs, atol=1e-4), "the two score maps differ"
    t_loop = _best(lambda: sliding_windows(model, image, 32, stride, STATS), repeats)
    t_conv = _best(lambda: convolutional_windows(fcn, image, 32, STATS, SPEC.input), repeats)
    side = image.shape[-1]
    print(f"{device}: {loop.shape[0]}×{loop.shape[1]} windows of 32 px, stride {stride}, on {side}×{side}")
    print(f"  loop over windows: {loop.passes:,} forward passes, {t_loop * 1000:.1f} ms (median of {repeats})")
    print(f"  convolutional form: 1 forward pass, {t_conv * 1000:.1f} ms")
    print(f"  speed-up: {t_loop / t_conv:.1f}× (target ≥ {TARGET:g}×)")
    return t_loop / t_conv


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    gen = torch.Generator().manual_seed(0)
    image = torch.randint(0, 256, (3, args.size, args.size), dtype=torch.uint8, generator=gen)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    ok = all([_compare(device, image, args.repeats) >= TARGET for device in devices])
    print("met the target" if ok else "MISSED the target")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
