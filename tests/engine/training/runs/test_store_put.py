"""``RunStore.files`` and ``RunStore.put``: a run trained in one store (a Ray worker's, docs/ray.md) written into
another — its files byte for byte, its index row, and the training lock held while its status is "running".

Oracles: the first store's own files, rows and checkpoint; the operating system's flock."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from lock_probe import lock_free

from engine.data import LoadedData, load_dataset
from engine.nets.spec import NetworkSpec
from engine.training.config import TrainConfig
from engine.training.loop import fit
from engine.training.runs import RunError, RunStore
from engine.training.runs.store import LOCK_NAME, RUN_FILES
from engine.training.tasks import Classify

SPEC = NetworkSpec.from_dict({"input": [1, 8, 8], "layers": [
    {"kind": "conv2d", "out_channels": 4, "padding": 1}, {"kind": "relu"}, {"kind": "maxpool2d"},
    {"kind": "flatten"}, {"kind": "linear", "out_features": 10},
]})


@pytest.fixture(scope="module")
def small() -> LoadedData:
    data = load_dataset("digits")
    return LoadedData(dataclasses.replace(data.card, train_size=200), data.train.subset(range(200)), data.val)


def test_a_run_put_into_another_store_is_the_same_run(small, tmp_path):
    there = RunStore(tmp_path / "worker")
    result = fit(SPEC, small, TrainConfig(epochs=1, batch_size=32), store=there, owner="ada")
    files = there.files(result.run_id)
    assert set(files) == set(RUN_FILES)
    assert files["checkpoint.safetensors"] == (there.path(result.run_id) / "checkpoint.safetensors").read_bytes()

    here = RunStore(tmp_path / "server")
    here.put(there.info(result.run_id), files)
    assert here.info(result.run_id) == there.info(result.run_id)
    a, b = there.get(result.run_id), here.get(result.run_id)
    assert (a.config, a.spec, a.history) == (b.config, b.spec, b.history)
    want, got = there.load_checkpoint(result.run_id), here.load_checkpoint(result.run_id)
    assert all(torch.equal(want.model[k], got.model[k]) for k in want.model) and want.model.keys() == got.model.keys()

    here.rename(result.run_id, "mine")  # the name and sharing are this store's; the training's fields follow the run
    here.put(dataclasses.replace(there.info(result.run_id), epochs=5, best=0.5, device="cuda"), {})
    info = here.info(result.run_id)
    assert (info.name, info.epochs, info.best, info.device, info.owner) == ("mine", 5, 0.5, "cuda", "ada")


def test_a_running_run_holds_its_lock_here_until_it_ends(small, tmp_path):
    there = RunStore(tmp_path / "worker")
    result = fit(SPEC, small, TrainConfig(epochs=1, batch_size=32), store=there)
    here = RunStore(tmp_path / "server")
    info = there.info(result.run_id)
    here.put(dataclasses.replace(info, status="running"), there.files(result.run_id))
    lock = here.path(result.run_id) / LOCK_NAME
    assert not lock_free(lock) and here.info(result.run_id).status == "running"  # held: not taken for interrupted
    here.put(dataclasses.replace(info, status="stopped"), {})
    assert lock_free(lock) and here.info(result.run_id).status == "stopped"


def test_only_run_files_are_put(tmp_path):
    store = RunStore(tmp_path / "runs")
    run_id = store.create(SPEC, {"train": {}}, dataset="digits", task=Classify())
    with pytest.raises(RunError, match="evil.pkl are not run files"):
        store.put(store.info(run_id), {"evil.pkl": b"\x80\x04"})
    assert not (store.path(run_id) / "evil.pkl").exists()
