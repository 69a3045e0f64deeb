"""A stand-in for a server, for tests/engine/jobs/test_process.py to kill with ``kill -9``:

- ``python job_server.py train <runs folder>``: a runner in process mode trains a run for many epochs; once the
  first batch reached the server it writes ``<folder>/child`` (the job process's pid) and waits to be killed;
- ``python job_server.py queue <runs folder> [owner]``: a runner keeping its queue in ``<folder>/.queue`` runs one
  job for ``owner`` (default "ada") that never ends and holds two more waiting (the owner's second, Bob's); then it
  writes ``<folder>/queued``.
"""

from __future__ import annotations

import multiprocessing
import sys
import threading
import time
from pathlib import Path

from engine.data import load_dataset
from engine.jobs.runner import JobRunner
from engine.jobs.training import train_job
from engine.nets.spec import NetworkSpec
from engine.training.config import TrainConfig
from engine.training.runs import RunStore

SPEC = NetworkSpec.from_dict({"input": [1, 8, 8], "layers": [
    {"kind": "conv2d", "out_channels": 8, "padding": 1}, {"kind": "relu"}, {"kind": "maxpool2d"},
    {"kind": "flatten"}, {"kind": "linear", "out_features": 10},
]})


def main(mode: str, folder: Path, owner: str = "ada") -> None:
    if mode == "train":
        job = JobRunner(max_jobs=1, isolation="process").submit(
            train_job, SPEC, load_dataset("digits"), TrainConfig(epochs=10_000, batch_size=16), store=RunStore(folder))
        while job.log.snapshot().latest is None:
            assert not job.done, job.error
            time.sleep(0.05)
        (child,) = multiprocessing.active_children()
        (folder / "child").write_text(str(child.pid))
    else:
        runner = JobRunner(max_jobs=1, isolation="thread", state_dir=folder / ".queue")
        forever = threading.Event()
        runner.submit(lambda job: forever.wait(), owner=owner, about={"page": "training", "label": "first"})
        runner.submit(lambda job: None, owner=owner, about={"page": "training", "label": "second", "epochs": 5,
                                                            "log": object()})
        runner.submit(lambda job: None, owner="bob", about={"page": "style"})
        (folder / "queued").write_text("3")
    time.sleep(3600)


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), *sys.argv[3:])
