"""Recovery of runs whose process died (``engine.training.runs.store``): a real ``kill -9`` of a training process
mid-epoch and mid-write; the run comes back "interrupted", its killed writer's temporary file is removed, and resuming
it reaches the same weights as a run that was never killed. Deleting a run while it trains ends that fit cleanly.

Oracles: an uninterrupted training process (the exact-resume machinery makes a run resumed from an epoch's checkpoint
equal to it); a copy of the store taken after the kill, resumed by another process; the files on disk.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from lock_probe import lock_free
from safetensors.torch import load_file

from engine.data import LoadedData, load_dataset
from engine.nets.spec import NetworkSpec
from engine.training.config import TrainConfig
from engine.training.events import BatchEvent, Callback, FitStart
from engine.training.loop import CHECKPOINT_ENV, DELETED, checkpoint_seconds, fit
from engine.training.runs import RunError, RunStore
from engine.training.runs.files import remove_stale_temps, write_text
from engine.training.runs.store import LOCK_NAME

TRAINER = Path(__file__).with_name("trainer.py")
_SPEC = NetworkSpec.from_dict({"input": [1, 8, 8], "layers": [
    {"kind": "conv2d", "out_channels": 8, "padding": 1}, {"kind": "relu"}, {"kind": "maxpool2d"},
    {"kind": "flatten"}, {"kind": "linear", "out_features": 10},
]})
REPO = Path(__file__).parents[4]


def _trainer(root: Path, *args: str, checkpoint_seconds: str = "") -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", CHECKPOINT_ENV: checkpoint_seconds}
    return subprocess.Popen([sys.executable, str(TRAINER), str(root), *args], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(proc: subprocess.Popen) -> None:
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out


def _temps(folder: Path) -> list[Path]:
    return sorted(f for f in folder.glob(".*") if f.name != LOCK_NAME)


@pytest.mark.parametrize(("every", "checkpoint_at"), [("", (1, 0)), ("1e-9", (1, 4))],
                         ids=["checkpoints-at-epoch-ends", "checkpoints-within-epochs"])
def test_a_run_killed_mid_epoch_comes_back_interrupted_and_resumes_to_the_same_weights(tmp_path, every,
                                                                                         checkpoint_at) -> None:
    """Killed at epoch 2's batch 5: the checkpoint it resumes from is epoch 1's end (the default 120 s between
    checkpoints within an epoch has not passed), or epoch 2's batch 4 (a checkpoint after every batch)."""
    killed_root, whole_root = tmp_path / "killed", tmp_path / "whole"
    whole = _trainer(whole_root, "train")  # the oracle: never interrupted, runs meanwhile
    proc = _trainer(killed_root, "hang", checkpoint_seconds=every)
    deadline = time.monotonic() + 240
    while not (killed_root / "hung").exists():
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, "the trainer never reached epoch 2"
        time.sleep(0.05)
    run_id = (killed_root / "hung").read_text()
    folder = killed_root / run_id

    # alive: another process's store sees it running and cannot take it over
    assert RunStore(killed_root).info(run_id).status == "running"
    with pytest.raises(RunError, match="training in another process"):
        RunStore(killed_root).update(run_id, status="running")

    os.kill(proc.pid, signal.SIGKILL)  # mid-epoch 2, inside a checkpoint's write
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    temps = _temps(folder)
    assert [f.name.split(".")[-3] for f in temps] == [str(proc.pid)]  # the killed writer's 4 MB temporary file
    assert temps[0].stat().st_size > 4_000_000

    store = RunStore(killed_root)  # a restarted server opens the store
    info = store.info(run_id)
    assert (info.status, info.epochs) == ("interrupted", 1)
    assert [r.status for r in store.list()] == ["interrupted"]
    assert _temps(folder) == []  # its writer is gone: removed
    progress = store.load_checkpoint(run_id).state["progress"]  # the hung write never landed
    assert (progress["epoch"], progress["batch"]) == checkpoint_at

    copy_root = tmp_path / "copy"  # the same checkpoint, resumed by another process
    shutil.copytree(killed_root, copy_root)
    resumed, copied = _trainer(killed_root, "resume", run_id), _trainer(copy_root, "resume", run_id)
    for p in (resumed, copied, whole):
        _finish(p)
    info = store.info(run_id)
    assert (info.status, info.epochs) == ("finished", 3)
    got = load_file(killed_root / "resume-weights.safetensors")
    for other in (load_file(copy_root / "resume-weights.safetensors"),
                  load_file(whole_root / "train-weights.safetensors")):
        assert got.keys() == other.keys() and all(torch.equal(got[k], other[k]) for k in got)


def test_a_running_run_of_this_process_stays_running(tmp_path) -> None:
    root = tmp_path / "runs"
    seen = []

    class Look(Callback):
        def on_batch_end(self, event: BatchEvent) -> None:
            if event.batch == 2 and not seen:
                seen.append(RunStore(root).list()[0].status)  # a new store, as another session opens it

    result = fit(_SPEC, _small(), TrainConfig(epochs=1, batch_size=64, device="cpu"), store=RunStore(root),
                 callbacks=[Look()])
    assert seen == ["running"]
    assert RunStore(root).info(result.run_id).status == "finished"
    assert not (root / result.run_id / LOCK_NAME).exists() or lock_free(root / result.run_id / LOCK_NAME)


def test_stale_temporary_files_are_removed_but_a_live_writers_are_kept(tmp_path) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    live = folder / f".metrics.json.{os.getpid()}.abc.tmp"  # this process is writing it now
    old = folder / ".checkpoint.safetensors.x1y2z3"  # before pids were in the name, an hour old
    lock = folder / LOCK_NAME
    for f in (live, old, lock):
        f.write_bytes(b"x" * 10)
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    os.utime(lock, (time.time() - 3600, time.time() - 3600))
    assert remove_stale_temps(folder, keep=frozenset({LOCK_NAME})) == 10
    assert sorted(f.name for f in folder.iterdir()) == sorted([live.name, LOCK_NAME])
    write_text(folder / "metrics.json", "[]")  # a finished write leaves no temporary file
    assert sorted(f.name for f in folder.iterdir()) == sorted([live.name, LOCK_NAME, "metrics.json"])


def test_deleting_a_run_while_it_trains_ends_the_fit_cleanly(tmp_path) -> None:
    store = RunStore(tmp_path / "runs")
    batches = []

    class DeleteAt(Callback):
        def on_fit_start(self, start: FitStart) -> None:
            self.run_id = start.run_id

        def on_batch_end(self, event: BatchEvent) -> None:
            batches.append((event.epoch, event.batch))
            if (event.epoch, event.batch) == (2, 2):
                RunStore(store.root).delete(self.run_id)  # as the Training page of another session does

    result = fit(_SPEC, _small(), TrainConfig(epochs=3, batch_size=64, device="cpu"), store=store,
                 callbacks=[DeleteAt()])
    assert (result.status, result.reason) == ("failed", DELETED)
    assert batches[-1] == (2, 2)  # it ended at once, not at the epoch's end
    assert store.list() == []
    assert sorted(store.root.iterdir()) == sorted([store.db, *store.root.glob("runs.sqlite-*")])

    # deleted during an epoch's save: the write fails on the missing folder, and the fit still ends cleanly
    class DeleteAtEpochEnd(DeleteAt):
        def on_batch_end(self, event: BatchEvent) -> None:
            pass

        def on_epoch_end(self, event) -> None:
            RunStore(store.root).delete(self.run_id)

    result = fit(_SPEC, _small(), TrainConfig(epochs=2, batch_size=64, device="cpu"), store=store,
                 callbacks=[DeleteAtEpochEnd()])
    assert (result.status, result.reason, len(result.history)) == ("failed", DELETED, 1)
    assert store.list() == [] and not (store.root / result.run_id).exists()


# --------------------------------------------------------------------------------------------------- helpers



def _small() -> LoadedData:
    digits = load_dataset("digits")
    return LoadedData(dataclasses.replace(digits.card, train_size=400), digits.train.subset(range(400)), digits.val)




def test_the_checkpoint_interval_comes_from_the_environment(monkeypatch) -> None:
    monkeypatch.delenv(CHECKPOINT_ENV, raising=False)
    assert checkpoint_seconds() == 120
    monkeypatch.setenv(CHECKPOINT_ENV, "0")
    assert checkpoint_seconds() == 0
    for bad in ("soon", "-1", "inf"):
        monkeypatch.setenv(CHECKPOINT_ENV, bad)
        with pytest.raises(ValueError, match=f"CNNPG_CHECKPOINT_SECONDS must be .* got '{bad}'"):
            checkpoint_seconds()
