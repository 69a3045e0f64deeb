"""Benchmark: ``engine.training.loop.fit`` against a plain hand-written PyTorch loop, and the engine's data loader
against a plain ``torch.utils.data.DataLoader``, in the same run.

fit vs the plain loop: both train the same network (same initial weights) on the same data, batches, optimiser and
device: the plain loop is the textbook ``for x, y in loader: loss = criterion(model(x), y); opt.zero_grad();
loss.backward(); opt.step()``; ``fit`` adds what the course needs around it (the task's loss and metrics, progress
events, a stop check, a non-finite-loss check). Training throughput (images/s, training batches only, validation
excluded) is measured per epoch; the first epoch of every run is a warm-up and is left out; runs alternate (plain,
fit, plain, fit, ...) so that a machine busy with other work slows both alike. Target: fit ≥ 0.95× the plain loop,
judged on the best epochs (work elsewhere on the machine only ever slows an epoch down; the medians are printed too).
It also prints the fraction of an epoch's training time spent waiting for the next batch (host side).

The engine's loader vs a plain DataLoader: one epoch of batches over the same tensors — the stored uint8 images and
their labels — doing the same work: the plain one is ``DataLoader(TensorDataset(images, labels), shuffle=True)``
with torch's default collate, each batch then adapted by ``engine.data.adapt_batch`` (resized, normalised) in the
loop; the engine's ``make_loader`` gathers and adapts a whole batch in its dataset. Alternating, best of
``--repeats``; target: the engine ≥ 0.95× the plain loader. For scale it prints the ceiling too: a plain DataLoader
over tensors adapted once in advance (no per-batch work at all).

    python bench/bench_fit.py [--data mnist5k] [--spec lenet5] [--epochs 3] [--repeats 5] [--batch-size 64]
                              [--device auto] [--workers 0] [--max-train N]

On a machine with CUDA it runs the CPU and the GPU (``--device auto`` = every device here). Prints what it measured
either way; exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from engine.data import LoadedData, adapt_batch, channel_stats, load_dataset, make_loader
from engine.device import available, describe, resolve
from engine.nets.build import build
from engine.nets.presets import get_preset, preset_names
from engine.nets.spec import NetworkSpec
from engine.training.config import TrainConfig
from engine.training.fitting import fit_output, fit_problems
from engine.training.loop import fit

TARGET = 0.95  # fit / the plain loop, and the engine's loader / a plain DataLoader


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def plain_loop(spec: NetworkSpec, data: LoadedData, config: TrainConfig, device: torch.device,
               stats: tuple) -> tuple[list[float], list[float]]:
    """The hand-written loop: per epoch (images/s, fraction of the time waiting for data)."""
    model = build(spec, seed=config.seed).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, fused=device.type == "cuda" or None)
    criterion = nn.CrossEntropyLoss()
    rates, waits = [], []
    for epoch in range(config.epochs):
        loader = make_loader(data.train, spec.input, batch_size=config.batch_size, shuffle=True,
                             seed=config.seed * 1_000_003 + epoch, stats=stats, num_workers=config.num_workers,
                             pin_memory=device.type == "cuda")
        model.train()
        batches = iter(loader)
        images, wait = 0, 0.0
        _sync(device)
        start = time.perf_counter()
        while True:
            t = time.perf_counter()
            try:
                x, y = next(batches)
            except StopIteration:
                break
            wait += time.perf_counter() - t
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            loss = criterion(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            images += len(y)
        _sync(device)
        seconds = time.perf_counter() - start
        rates.append(images / seconds)
        waits.append(wait / seconds)
    return rates, waits


def engine_fit(spec: NetworkSpec, data: LoadedData, config: TrainConfig) -> tuple[list[float], list[float]]:
    result = fit(spec, data, config)
    if result.status != "finished":
        raise SystemExit(f"fit did not finish: {result.reason}")
    return [e.images_per_second for e in result.history], [e.data_wait_fraction for e in result.history]


def bench_device(spec: NetworkSpec, data: LoadedData, config: TrainConfig, repeats: int) -> bool:
    """fit vs the plain loop on one device; True when fit meets the target."""
    device = resolve(config.device)
    stats = channel_stats(data.train)
    plain_rates, plain_waits, fit_rates, fit_waits = [], [], [], []
    for _ in range(repeats):
        rates, waits = plain_loop(spec, data, config, device, stats)
        plain_rates += rates[1:]
        plain_waits += waits[1:]
        rates, waits = engine_fit(spec, data, config)
        fit_rates += rates[1:]
        fit_waits += waits[1:]
    best = max(fit_rates) / max(plain_rates)
    print(f"\n{describe(device)}: batch {config.batch_size}, {len(data.train):,} images/epoch, "
          f"{config.epochs} epochs × {repeats} runs each (first epoch of each run not counted)")
    for name, rates, waits in (("plain loop", plain_rates, plain_waits), ("engine fit", fit_rates, fit_waits)):
        print(f"  {name}   median {statistics.median(rates):10,.0f} images/s (best {max(rates):,.0f})   "
              f"waiting for data {statistics.median(waits):6.1%} of the epoch")
    verdict = "meets" if best >= TARGET else "MISSES"
    print(f"  ratio fit / plain: {best:.3f} of the bests ({verdict} the target ≥ {TARGET}), "
          f"{statistics.median(fit_rates) / statistics.median(plain_rates):.3f} of the medians")
    return best >= TARGET


def _epoch_rate(batches) -> float:
    """Images per second of one pass over ``batches`` (an iterable of (x, y))."""
    start, n = time.perf_counter(), 0
    for x, _ in batches:
        n += len(x)
    return n / (time.perf_counter() - start)


def bench_loader(data: LoadedData, input_shape: tuple[int, int, int], batch_size: int, repeats: int) -> bool:
    """The engine's loader vs a plain DataLoader over the same tensors, doing the same work; True when the engine
    meets the target."""
    stats = channel_stats(data.train, channels=input_shape[0])
    images, labels = data.train.images, data.train.labels

    def engine() -> float:
        return _epoch_rate(make_loader(data.train, input_shape, batch_size=batch_size, shuffle=True, seed=0,
                                       stats=stats))

    def plain() -> float:
        loader = DataLoader(TensorDataset(images, labels), batch_size=batch_size, shuffle=True,
                            generator=torch.Generator().manual_seed(0))
        return _epoch_rate((adapt_batch(x, input_shape, stats), y) for x, y in loader)

    prepared = TensorDataset(adapt_batch(images, input_shape, stats), labels)
    rates: dict[str, list[float]] = {"engine": [], "plain": [], "ceiling": []}
    for _ in range(max(5, repeats)):
        rates["plain"].append(plain())
        rates["engine"].append(engine())
        rates["ceiling"].append(_epoch_rate(DataLoader(prepared, batch_size=batch_size, shuffle=True,
                                                       generator=torch.Generator().manual_seed(0))))
    ratio = max(rates["engine"]) / max(rates["plain"])
    print(f"\nloader: {len(images):,} images {tuple(images.shape[1:])} uint8 → {input_shape} float32, batch "
          f"{batch_size}, one epoch, best of {len(rates['engine'])}")
    print(f"  plain DataLoader + adapt_batch per batch   {max(rates['plain']):10,.0f} images/s")
    print(f"  engine make_loader                         {max(rates['engine']):10,.0f} images/s")
    print(f"  (ceiling: plain DataLoader over tensors adapted in advance: {max(rates['ceiling']):,.0f} images/s)")
    verdict = "meets" if ratio >= TARGET else "MISSES"
    print(f"  ratio engine / plain: {ratio:.3f} ({verdict} the target ≥ {TARGET})")
    return ratio >= TARGET


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="mnist5k", help="a data set name (default mnist5k)")
    parser.add_argument("--spec", default="lenet5", choices=preset_names(), help="a preset (default lenet5)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=None, help="default: 64 on the CPU, 256 on a GPU")
    parser.add_argument("--device", default="auto", help="auto (every device here), cpu, cuda, ...")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--max-train", type=int, default=None)
    args = parser.parse_args()

    data = load_dataset(args.data, max_train=args.max_train)
    spec = get_preset(args.spec)
    if fit_problems(spec, data.card):
        spec = fit_output(spec, data.card)
    devices = available()[:-1] + ["cpu"] if args.device == "auto" else [args.device]
    devices = [d for d in devices if d in ("cpu", "cuda")] or devices
    print(f"fit vs a plain PyTorch loop: {args.spec} on {data.card.title} "
          f"({'×'.join(map(str, data.card.image_shape))} → {'×'.join(map(str, spec.input))}); "
          f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    missed = []
    for device in reversed(devices):  # the CPU first: it is always there
        batch = args.batch_size or (64 if device == "cpu" else 256)
        config = TrainConfig(epochs=max(2, args.epochs), batch_size=batch, device=device, num_workers=args.workers)
        if not bench_device(spec, data, config, max(1, args.repeats)):
            missed.append(f"fit on {device}")
    if not bench_loader(data, tuple(spec.input), args.batch_size or 64, args.repeats):
        missed.append("the loader")
    if missed:
        print(f"\nMISSED: {', '.join(missed)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
