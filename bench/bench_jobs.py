"""Benchmark: what running a job in a child process (``engine.jobs.process``, the runner's default) costs against
running it in a thread of the server, for the same training job.

Both runners get the same ``train_job`` (same network, data, seed, batches), alternating thread, process, thread, ...
so that a machine busy with other work slows both alike. Per job it measures the start-up — from ``submit`` to the
first batch's event in ``job.log`` on the server side (the process pays for the fork from the fork server, the
arguments' pickling, the job modules' set-up and the log's relay) — and the whole job, from ``submit`` until it is
done. The first process job, which also starts the fork server (a fresh Python importing torch and the engine), is
timed apart and left out of the medians. Target: the start-up of a process job at most ``TARGET_START_S`` more than a
thread job's (medians), and the whole job at most ``TARGET_RATIO``× a thread job's (best of each: work elsewhere only
ever slows a job down).

The default job is a student's first one: LeNet-5 on MNIST 5k for an epoch (about a second on two CPU cores). A
process job's extra cost is mostly fixed (the fork, the arguments' trip, the result's way back: about 0.1–0.15 s), so
on a toy job it is a larger share: ``--data digits --spec small --epochs 2`` (0.2 s jobs) gives about 1.4×.

    python bench/bench_jobs.py [--data mnist5k] [--spec lenet5] [--epochs 1] [--repeats 3] [--batch-size 32]

Prints what it measured; exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from engine.data import load_dataset
from engine.jobs.runner import JobRunner
from engine.jobs.training import train_job
from engine.nets.presets import get_preset, preset_names
from engine.nets.spec import NetworkSpec
from engine.training.config import TrainConfig

TARGET_START_S = 1.0  # process start-up minus thread start-up, seconds (medians)
TARGET_RATIO = 1.25  # whole process job / whole thread job (best of each)
SMALL = NetworkSpec.from_dict({"input": [1, 8, 8], "layers": [
    {"kind": "conv2d", "out_channels": 16, "padding": 1}, {"kind": "relu"}, {"kind": "maxpool2d"},
    {"kind": "flatten"}, {"kind": "linear", "out_features": 10},
]})


def one(mode: str, spec: NetworkSpec, data, config: TrainConfig) -> tuple[float, float]:
    """(seconds to the first batch event, seconds to the end) of one job in ``mode``."""
    runner = JobRunner(max_jobs=1, isolation=mode)
    t = time.perf_counter()
    job = runner.submit(train_job, spec, data, config)
    while job.log.snapshot().latest is None:
        if job.done:
            raise SystemExit(f"the {mode} job ended before its first batch: {job.status} {job.error}")
        time.sleep(0.001)
    first = time.perf_counter() - t
    job.wait()
    if job.status != "finished":
        raise SystemExit(f"the {mode} job {job.status}: {job.error}")
    return first, time.perf_counter() - t


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="mnist5k")
    p.add_argument("--spec", default="lenet5", choices=["small", *preset_names()])
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=32)
    args = p.parse_args()
    data = load_dataset(args.data)
    spec = SMALL if args.spec == "small" else get_preset(args.spec)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, device="cpu")
    cold_first, cold_all = one("process", spec, data, config)
    print(f"first process job (starts the fork server): first batch after {cold_first:.2f} s, done after "
          f"{cold_all:.2f} s")
    times: dict[str, list[tuple[float, float]]] = {"thread": [], "process": []}
    for _ in range(args.repeats):
        for mode in times:
            times[mode].append(one(mode, spec, data, config))
    start = {m: statistics.median(f for f, _ in t) for m, t in times.items()}
    whole = {m: min(a for _, a in t) for m, t in times.items()}
    for m in times:
        print(f"{m:8s} start-up (submit to first batch event): median {start[m]:.3f} s; whole job: best "
              f"{whole[m]:.2f} s, median {statistics.median(a for _, a in times[m]):.2f} s")
    extra, ratio = start["process"] - start["thread"], whole["process"] / whole["thread"]
    print(f"a process job starts {extra:.3f} s later (target ≤ {TARGET_START_S} s); whole job {ratio:.2f}× a "
          f"thread job's (target ≤ {TARGET_RATIO}×), {whole['process'] - whole['thread']:+.2f} s; "
          f"{len(data.train):,} images × {args.epochs} epoch{'s' * (args.epochs != 1)}, batch {args.batch_size}, "
          f"{args.spec} network")
    return 0 if extra <= TARGET_START_S and ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
