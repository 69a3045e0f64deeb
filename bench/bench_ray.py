"""Benchmark: what sending a training job to a Ray cluster (``engine.jobs.ray_backend``) costs against running it on
the server (``engine.jobs.process``, the runner's default), for the same job: LeNet-5 on MNIST 5k.

It starts a local Ray instance (``ray.init(address="local")``), then runs the same ``train_job`` (same network,
data, seed, batches) through a runner of each backend, alternated (local, Ray, local, ...) so that a machine busy
with other work slows both alike. Both compute on one CPU thread: a Ray job asks for one CPU (``num_cpus=1``) and Ray
gives its worker one thread, so the server's jobs get the same (``OMP_NUM_THREADS=1`` for this benchmark), and the
same priority (``CNNPG_JOB_NICE=0``: the server's own jobs are niced by default, Ray's workers are not). Per job it
measures, on the server's side, what a page sees:

- the start-up: from ``submit`` to the first batch's event in the server's ``job.log``;
- the epochs: each epoch's time by the fit's own clock (on the worker: the Ray backend's outbox thread, sending events
  and checkpoints home, runs beside the training and slows it by what it costs), and, as the server sees them, the
  time from the first epoch's event to the last one's in the server's log per epoch (with the relay's delays, which
  come in steps of 0.2 s).

The first job of each backend is timed apart (a cold Ray worker imports torch and the engine; the local fork server
does the same) and left out of the medians. Target: the Ray backend's median epoch (the fit's clock) at most
``TARGET_EPOCH``× the local one's (5 % overhead); the epochs as seen here and the start-ups are printed beside.

    python bench/bench_ray.py [--data mnist5k] [--spec lenet5] [--epochs 4] [--repeats 3] [--batch-size 64]

Prints what it measured; exits 1 when the target is missed.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before torch: one thread per job, as a Ray job with one CPU has
os.environ.setdefault("CNNPG_JOB_NICE", "0")  # the server's jobs at the priority the Ray worker's have

import argparse  # noqa: E402 - after the thread setting, which torch reads when it is imported
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

from engine.data import load_dataset  # noqa: E402
from engine.jobs.ray_backend import RayBackend  # noqa: E402
from engine.jobs.runner import JobRunner  # noqa: E402
from engine.jobs.training import train_job  # noqa: E402
from engine.nets.presets import get_preset, preset_names  # noqa: E402
from engine.training.config import TrainConfig  # noqa: E402

TARGET_EPOCH = 1.05  # Ray's median epoch / the local one's
REPO = Path(__file__).resolve().parents[1]


def one(runner: JobRunner, spec, data, config: TrainConfig) -> tuple[float, list[float], float]:
    """Of one job: seconds to the first batch event, each epoch's seconds by the fit's own clock, and the seconds
    per epoch between the first and the last epoch event arriving in the server's log."""
    t = time.perf_counter()
    job = runner.submit(train_job, spec, data, config)
    first, arrivals, done = None, [], False
    while not done:
        done = job.done  # read before the snapshot: the events of a job that is done are all in its log
        snap = job.log.snapshot()
        now = time.perf_counter() - t
        if first is None and snap.latest is not None:
            first = now
        while len(arrivals) < len(snap.epochs):
            arrivals.append(now)
        time.sleep(0.002)
    if job.status != "finished":
        raise SystemExit(f"the job {job.status}: {job.error}")
    if first is None or len(arrivals) < max(config.epochs, 2):
        raise SystemExit("the job ended before its events were seen: use more epochs or a bigger set")
    seconds = [e.seconds for e in job.log.snapshot().epochs]
    return first, seconds, (arrivals[-1] - arrivals[0]) / (len(arrivals) - 1)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="mnist5k")
    p.add_argument("--spec", default="lenet5", choices=preset_names())
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=64)
    args = p.parse_args()
    try:
        import ray
    except ImportError:
        print("Ray is not installed: pip install -r requirements-ray.txt")
        return 1
    t = time.perf_counter()
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}})
    print(f"local Ray instance started in {time.perf_counter() - t:.1f} s; torch threads here: "
          f"{torch.get_num_threads()}")
    data = load_dataset(args.data)
    spec = get_preset(args.spec)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, device="cpu")
    runners = {"local": JobRunner(max_jobs=1, isolation="process"),
               "ray": JobRunner(max_jobs=1, isolation="thread", backend=RayBackend("auto"))}
    for name, runner in runners.items():
        cold, _, _ = one(runner, spec, data, config)
        print(f"first {name} job (a cold worker imports torch and the engine): first batch after {cold:.2f} s")
    start: dict[str, list[float]] = {name: [] for name in runners}
    epochs: dict[str, list[float]] = {name: [] for name in runners}
    seen: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(args.repeats):
        for name, runner in runners.items():
            first, seconds, span = one(runner, spec, data, config)
            start[name].append(first)
            epochs[name].extend(seconds)
            seen[name].append(span)
    print(f"{'backend':8s} {'start-up':>9s} {'epoch (fit)':>12s} {'best':>7s} {'epoch (seen here)':>18s}")
    for name in runners:
        print(f"{name:8s} {statistics.median(start[name]):8.3f}s {statistics.median(epochs[name]):11.3f}s "
              f"{min(epochs[name]):6.3f}s {statistics.median(seen[name]):17.3f}s")
    ratio = statistics.median(epochs["ray"]) / statistics.median(epochs["local"])
    seen_ratio = statistics.median(seen["ray"]) / statistics.median(seen["local"])
    print(f"a Ray epoch takes {ratio:.3f}× a local one by the fit's clock (target ≤ {TARGET_EPOCH}×), "
          f"{seen_ratio:.3f}× as the server sees the epochs arrive; a Ray job starts "
          f"{statistics.median(start['ray']) - statistics.median(start['local']):+.3f} s later (medians); "
          f"{len(data.train):,} images × {args.epochs} epochs, batch {args.batch_size}, {args.spec}, {args.repeats} "
          f"jobs each")
    ray.shutdown()
    return 0 if ratio <= TARGET_EPOCH else 1


if __name__ == "__main__":
    sys.exit(main())
