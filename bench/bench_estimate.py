"""Benchmark: the Training page's expected time (``engine.training.estimate``) against the real run it predicts, in
the same process: the estimate first, then ``fit`` with the same network, data and settings, timed end to end.
Prints both and their ratio per case; target: the estimate within a factor of 2 of the real time (a student reads
"about 10 s" and it takes 5–20 s).

    python bench/bench_estimate.py [--device cpu] [--epochs 2]

Exits 1 when a case misses the target.
"""

from __future__ import annotations

import argparse
import time

from engine.data import load_dataset
from engine.nets.presets import get_preset
from engine.training.config import TrainConfig
from engine.training.estimate import estimate
from engine.training.fitting import fit_output
from engine.training.loop import fit

# (preset, data set, batch size, training images): small networks timed at the full batch; ResNet-18 at 224 px,
# too heavy to time a whole batch on a CPU in a second, timed at a smaller one and scaled
CASES = (("lenet5", "mnist5k", 64, 4000), ("lenet5", "digits", 32, 1000), ("resnet18", "shapes", 16, 48))
TARGET = 2.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    missed = 0
    for preset, name, batch, size in CASES:
        spec = get_preset(preset)
        data = load_dataset(name, seed=0, max_train=size)
        spec = fit_output(spec, data.card)
        config = TrainConfig(epochs=args.epochs, batch_size=batch, device=args.device)
        e = estimate(spec, data, config)
        start = time.perf_counter()
        fit(spec, data, config)
        real = time.perf_counter() - start
        ratio = e.seconds / real
        ok = 1 / TARGET <= ratio <= TARGET
        missed += not ok
        print(f"{preset} on {name} ({len(data.train)} images, {args.epochs} epochs, batch {batch}, {args.device}): "
              f"estimated {e.seconds:.1f} s ({e.describe()}), real {real:.1f} s, ratio {ratio:.2f} "
              f"{'ok' if ok else 'MISS'} (target {1 / TARGET:.1f}–{TARGET:.1f})")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
