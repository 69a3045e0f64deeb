"""Benchmark: summarising ResNet-50 with ``engine.nets.summary`` versus ``torchinfo.summary``, in the same run.

engine.nets.summary is shape arithmetic (each layer kind computes its output shape, parameters and MACs; no tensors,
no modules); torchinfo runs a real forward pass of torchvision's ResNet-50 on a 1×3×224×224 input. Each is called
once (paying one-off costs: lazy imports, allocator warm-up; printed as "first call"), then timed ``--repeats`` times,
and the medians are compared. The target is engine.nets.summary ≥ 20× faster (issue 7, "Speed"). Building
torchvision's model is not timed (the engine needs no model).

    python bench/bench_summary.py [--repeats N]

Prints what it measured and exits 1 when the ratio misses the target (0 when it meets it).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import TypeVar

import torch
import torchinfo
import torchvision

from engine.nets.presets import get_preset
from engine.nets.summary import summary
from engine.units import format_count

TARGET = 20.0
T = TypeVar("T")


def _timed(fn: Callable[[], T]) -> tuple[float, T]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def _bench(fn: Callable[[], T], repeats: int) -> tuple[float, float, T]:
    """(first call's seconds, median seconds of ``repeats`` further calls, the first call's result)."""
    first, result = _timed(fn)
    return first, statistics.median(_timed(fn)[0] for _ in range(repeats)), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9, help="timed calls of each, after one warm-up (default 9)")
    repeats = max(1, parser.parse_args().repeats)

    spec = get_preset("resnet50")
    model = torchvision.models.resnet50()  # random weights: nothing to download
    engine_first, engine_s, ours = _bench(lambda: summary(spec), repeats)
    torchinfo_first, torchinfo_s, theirs = _bench(
        lambda: torchinfo.summary(model, input_size=(1, 3, 224, 224), verbose=0), repeats)

    ratio = torchinfo_s / engine_s
    print(f"ResNet-50 summary, median of {repeats} calls after the first (torch {torch.__version__}, "
          f"{torch.get_num_threads()} CPU threads)")
    print(f"  engine.nets.summary     {engine_s * 1e3:9.1f} ms   (first call {engine_first * 1e3:.1f} ms)   "
          f"params {ours.total_params:,}, MACs {format_count(ours.total_macs)}")
    print(f"  torchinfo.summary  {torchinfo_s * 1e3:9.1f} ms   (first call {torchinfo_first * 1e3:.1f} ms)   "
          f"params {theirs.total_params:,}, MACs {format_count(theirs.total_mult_adds)}")
    verdict = "meets" if ratio >= TARGET else "MISSES"
    print(f"  engine.nets.summary is {ratio:.1f}× faster ({verdict} the ≥ {TARGET:.0f}× target)")
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
