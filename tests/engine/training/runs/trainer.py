"""A training process for the recovery tests (``test_recovery.py``): ``python trainer.py ROOT MODE [RUN_ID]``.

``MODE`` is ``train`` (a new run of ``EPOCHS`` epochs on 400 digits), ``hang`` (the same, but at ``HANG_AT`` it starts
writing a checkpoint and hangs inside the write, after writing ``ROOT/hung`` with the run's id: the test kills it
there with SIGKILL, mid-epoch and mid-write) or ``resume`` (resume ``RUN_ID`` to the end). The final weights go to
``ROOT/<mode>-weights.safetensors``. One thread, so every process computes the same floats.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import save_file

from engine.data import LoadedData, load_dataset
from engine.nets.spec import NetworkSpec
from engine.training.config import TrainConfig
from engine.training.events import BatchEvent, Callback
from engine.training.loop import fit
from engine.training.runs import RunStore

SPEC = NetworkSpec.from_dict({"input": [1, 8, 8], "layers": [
    {"kind": "conv2d", "out_channels": 8, "padding": 1}, {"kind": "batchnorm2d"}, {"kind": "relu"},
    {"kind": "maxpool2d"}, {"kind": "dropout", "p": 0.2}, {"kind": "flatten"}, {"kind": "linear", "out_features": 10},
]})
CONFIG = TrainConfig(epochs=3, batch_size=32, schedule="onecycle", lr=3e-3, seed=1, device="cpu")
HANG_AT = (2, 5)  # epoch, batch (1-based): after epoch 1's checkpoint


class _HangInAWrite(Callback):
    """At ``HANG_AT``: start writing a checkpoint whose rename never comes, as a writer killed mid-write leaves it."""

    def __init__(self, store: RunStore, root: Path):
        self.store, self.root, self.run_id = store, root, None

    def on_fit_start(self, start) -> None:
        self.run_id = start.run_id

    def on_batch_end(self, event: BatchEvent) -> None:
        if (event.epoch, event.batch) != HANG_AT:
            return

        def hang(src, dst) -> None:
            (self.root / "hung").write_text(self.run_id)
            time.sleep(600)

        import engine.training.runs.files as files
        files.os.replace = hang  # this process only: it is killed inside the next rename
        self.store.save_checkpoint(self.run_id, {"w": torch.zeros(1000, 1000)}, {})


def main() -> None:
    torch.set_num_threads(1)
    root, mode = Path(sys.argv[1]), sys.argv[2]
    digits = load_dataset("digits")
    data = LoadedData(dataclasses.replace(digits.card, train_size=400), digits.train.subset(range(400)), digits.val)
    store = RunStore(root)
    if mode == "resume":
        result = fit(None, data, None, store=store, run_id=sys.argv[3])
    else:
        result = fit(SPEC, data, CONFIG, store=store, callbacks=[_HangInAWrite(store, root)] if mode == "hang" else [])
    assert result.status == "finished", result.reason
    save_file({k: v.contiguous() for k, v in result.model.state_dict().items()}, root / f"{mode}-weights.safetensors")


if __name__ == "__main__":
    main()
