"""Runs made before tasks existed still list, load, resume and export: nothing is lost.

The fixture writes a store exactly as the code before the task interface did — its SQLite table (with
``best_val_acc``), ``config.json`` with ``train.label_smoothing`` and no task, ``metrics.json`` with flat
``train_acc``/``val_acc``, a ``cnnpg-checkpoint-1`` checkpoint with torch's global ``rng`` state and a running
``correct`` count — copying that format here rather than calling today's code. The old run is real: a plain PyTorch
loop trains it (as the old ``fit`` did: the same seed, batches, optimiser and loss) for one epoch and four batches,
then stops; the same plain loop trained on to the end is the oracle the resumed run must match exactly.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save as st_save

from engine.data import LoadedData, channel_stats, load_dataset, make_loader
from engine.nets.build import build
from engine.nets.spec import NetworkSpec
from engine.training.export import export_run, read_bundle
from engine.training.loop import fit
from engine.training.runs import RunStore
from engine.training.runs.migrate import INDEX_VERSION, migrate_epoch
from engine.training.tasks import Classify

SPEC = NetworkSpec.from_dict({"input": [1, 8, 8], "layers": [
    {"kind": "conv2d", "out_channels": 6, "padding": 1}, {"kind": "relu"}, {"kind": "maxpool2d"},
    {"kind": "flatten"}, {"kind": "linear", "out_features": 10},
]})
SEED, LR, BATCH, EPOCHS, SMOOTHING = 3, 3e-3, 50, 3, 0.1
STOP_AFTER = 4  # batches of epoch 2
OLD_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created TEXT NOT NULL,
    dataset TEXT NOT NULL,
    status TEXT NOT NULL,
    epochs INTEGER NOT NULL DEFAULT 0,
    best_val_acc REAL,
    device TEXT NOT NULL DEFAULT ''
)
"""


@pytest.fixture(scope="module")
def digits() -> LoadedData:
    data = load_dataset("digits", seed=SEED)
    return LoadedData(dataclasses.replace(data.card, train_size=400), data.train.subset(range(400)), data.val)


class PlainRun:
    """The old fit's arithmetic, by hand: model from the seed, Adam, cross-entropy with label smoothing, batches
    shuffled by (seed, epoch)."""

    def __init__(self, data: LoadedData) -> None:
        self.data = data
        torch.manual_seed(SEED)  # the old fit seeded torch's global generator, then built
        self.model = build(SPEC)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=LR)
        self.stats = channel_stats(data.train, channels=1)
        self.epoch_stats: list[dict] = []

    def train(self, epoch: int, start: int = 0, stop: int | None = None) -> tuple[float, int, int]:
        """Batches [start, stop) of ``epoch``: (summed loss × batch size, correct, seen)."""
        loader = make_loader(self.data.train, SPEC.input, batch_size=BATCH, shuffle=True,
                             seed=SEED * 1_000_003 + epoch, stats=self.stats)
        loss_sum, correct, seen = 0.0, 0, 0
        self.model.train()
        for i, (x, y) in enumerate(loader):
            if i < start:
                continue
            if stop is not None and i >= stop:
                break
            logits = self.model(x)
            loss = F.cross_entropy(logits, y, label_smoothing=SMOOTHING)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            loss_sum += loss.item() * len(y)
            correct += int((logits.argmax(1) == y).sum())
            seen += len(y)
        return loss_sum, correct, seen

    @torch.no_grad()
    def validate(self) -> tuple[float, float]:
        self.model.eval()
        x = make_loader(self.data.val, SPEC.input, batch_size=1000, shuffle=False, seed=0, stats=self.stats)
        (xb, yb), = list(x)
        logits = self.model(xb)
        return F.cross_entropy(logits, yb, label_smoothing=SMOOTHING).item(), (logits.argmax(1) == yb).float().mean(
        ).item()


def _old_encode(obj, tensors):
    """The old checkpoint's state encoding: tensors as {"__tensor__": key}, tuples, dicts with non-string keys."""
    if isinstance(obj, torch.Tensor):
        key = f"state/{len(tensors)}"
        tensors[key] = obj.detach().cpu().clone().contiguous()
        return {"__tensor__": key}
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: _old_encode(v, tensors) for k, v in obj.items()}
        return {"__items__": [[_old_encode(k, tensors), _old_encode(v, tensors)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [_old_encode(v, tensors) for v in obj]}
    if isinstance(obj, list):
        return [_old_encode(v, tensors) for v in obj]
    return obj


def _write_old_run(root: Path, run_id: str, *, created: str, status: str, epochs: list[dict], best: float | None,
                   config: dict, model: torch.nn.Module, state: dict) -> None:
    folder = root / run_id
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    (folder / "spec.json").write_text(SPEC.to_json())
    (folder / "metrics.json").write_text(json.dumps(epochs, indent=1))
    tensors = {f"model/{k}": v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    encoded = _old_encode(state, tensors)
    (folder / "checkpoint.safetensors").write_bytes(
        st_save(tensors, metadata={"format": "cnnpg-checkpoint-1", "state": json.dumps(encoded)}))
    with sqlite3.connect(root / "runs.sqlite") as con:
        con.execute(OLD_SCHEMA)
        con.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (run_id, f"old {run_id}", created, "digits", status, len(epochs), best, "cpu (2 threads)"))


@pytest.fixture(scope="module")
def old_store(digits, tmp_path_factory):
    """A store in the old format with a stopped run (mid-epoch 2) and the plain loop's finished oracle."""
    root = tmp_path_factory.mktemp("old-runs")
    plain = PlainRun(digits)
    loss_sum, correct, seen = plain.train(0)
    val_loss, val_acc = plain.validate()
    epoch1 = {"epoch": 1, "train_loss": loss_sum / seen, "train_acc": correct / seen, "val_loss": val_loss,
              "val_acc": val_acc, "seconds": 1.5, "images_per_second": 300.0, "data_wait_fraction": 0.1, "lr": LR}
    loss_sum, correct, seen = plain.train(1, 0, STOP_AFTER)
    rng = torch.Generator().manual_seed(123).get_state()  # whatever torch's global state was
    config = {
        "train": {"optimizer": "adam", "lr": LR, "momentum": 0.9, "schedule": "constant", "step_size": 5,
                  "gamma": 0.1, "batch_size": BATCH, "epochs": EPOCHS, "weight_decay": 0.0,
                  "label_smoothing": SMOOTHING, "seed": SEED, "device": "cpu", "amp": False, "augment": None,
                  "num_workers": 0},
        "dataset": {"name": "digits", "title": digits.card.title, "classes": list(digits.card.classes),
                    "image_shape": [1, 8, 8], "train_size": 400, "val_size": len(digits.val)},
        "input_shape": [1, 8, 8], "stats": plain.stats.to_dict(), "notes": [], "init_from": None,
    }
    state = {"optimizer": plain.opt.state_dict(), "scheduler": None, "scaler": None, "rng": rng,
             "progress": {"epoch": 1, "batch": STOP_AFTER, "loss_sum": loss_sum, "correct": correct, "seen": seen,
                          "wait": 0.01, "seconds": 0.4, "lr": LR},
             "frozen": []}
    _write_old_run(root, "20250101-100000-aaaaaa", created="2025-01-01T10:00:00+00:00", status="stopped",
                   epochs=[epoch1], best=val_acc, config=config,
                   model=plain.model, state=state)
    _write_old_run(root, "20250102-100000-bbbbbb", created="2025-01-02T10:00:00+00:00", status="finished",
                   epochs=[epoch1], best=0.25, config=config,
                   model=plain.model, state=state)
    weights_at_stop = {k: v.clone() for k, v in plain.model.state_dict().items()}
    # the oracle: the same plain loop, trained on to the end
    ls2, c2, s2 = plain.train(1, STOP_AFTER)
    epoch2_train = ((loss_sum + ls2) / (seen + s2), (correct + c2) / (seen + s2))
    plain.train(2)
    return root, {"epoch1": epoch1, "weights_at_stop": weights_at_stop, "final": plain.model.state_dict(),
                  "epoch2_train": epoch2_train, "rng": rng, "config": config, "correct": correct, "seen": seen}


def test_an_old_store_lists_and_loads_as_today(old_store) -> None:
    root, old = old_store
    files = {p: p.read_bytes() for p in root.rglob("*.json")}
    store = RunStore(root)  # opening migrates the index
    runs = {r.id: r for r in store.list()}
    assert set(runs) == {"20250101-100000-aaaaaa", "20250102-100000-bbbbbb"}
    first = runs["20250101-100000-aaaaaa"]
    assert (first.name, first.status, first.epochs, first.dataset) == ("old 20250101-100000-aaaaaa", "stopped", 1,
                                                                      "digits")
    assert (first.task, first.metric, first.higher_is_better) == ("classify", "accuracy", True)
    assert first.best == old["epoch1"]["val_acc"] and runs["20250102-100000-bbbbbb"].best == 0.25
    assert store.list()[0].id == "20250102-100000-bbbbbb"  # newest first, as before
    with sqlite3.connect(root / "runs.sqlite") as con:
        columns = [row[1] for row in con.execute("PRAGMA table_info(runs)")]
        assert "best_val_acc" not in columns and {"task", "metric", "best", "owner", "shared"} <= set(columns)
        assert con.execute("PRAGMA user_version").fetchone()[0] == INDEX_VERSION == 4
    assert {r.owner for r in runs.values()} == {""}  # made before owners: nobody's
    assert not any(r.shared for r in runs.values())  # and shared with nobody
    RunStore(root)  # opening again changes nothing
    assert {r.id: r for r in RunStore(root).list()} == runs

    run = store.get(first.id)
    assert run.task == Classify(label_smoothing=SMOOTHING)
    assert run.config["dataset"]["targets"] == "class ids"
    assert run.history == [migrate_epoch(old["epoch1"])]
    assert run.history[0]["train"] == {"loss": old["epoch1"]["train_loss"], "accuracy": old["epoch1"]["train_acc"]}
    model = store.load_model(first.id)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in old["weights_at_stop"].items())
    state = store.load_checkpoint(first.id).state
    assert torch.equal(state["generators"]["dropout"]["state"], old["rng"]) and "rng" not in state
    assert {k: float(v) for k, v in state["meter"].items()} == {"correct": old["correct"], "seen": old["seen"]}
    assert "correct" not in state["progress"]
    assert {p: p.read_bytes() for p in root.rglob("*.json")} == files  # reading rewrote nothing


def test_an_old_run_exports_with_its_task(old_store) -> None:
    root, old = old_store
    store = RunStore(root)
    model, meta = read_bundle(export_run(store, "20250102-100000-bbbbbb", "bundle"))
    assert meta["task"] == {"name": "classify", "label_smoothing": SMOOTHING}
    assert meta["classes"] == old["config"]["dataset"]["classes"] and meta["output"]["name"] == "logits"
    assert meta["stats"] == old["config"]["stats"]
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(export_run(store, "20250102-100000-bbbbbb", "onnx"),
                                   providers=["CPUExecutionProvider"])
    x = torch.randn(2, *SPEC.input)
    (got,) = session.run(["logits"], {"input": x.numpy()})
    with torch.no_grad():
        assert torch.allclose(torch.from_numpy(got), model(x), atol=1e-5)


def test_an_old_stopped_run_resumes_exactly(old_store, digits) -> None:
    root, old = old_store
    store = RunStore(root)
    result = fit(None, digits, None, store=store, run_id="20250101-100000-aaaaaa")
    assert result.status == "finished" and result.task == Classify(label_smoothing=SMOOTHING)
    final = result.model.state_dict()
    assert all(torch.equal(final[k], v) for k, v in old["final"].items())  # as if it had never stopped
    assert [e.epoch for e in result.history] == [1, 2, 3]
    assert result.history[0].train == {"loss": old["epoch1"]["train_loss"], "accuracy": old["epoch1"]["train_acc"]}
    assert (result.history[1].train["loss"], result.history[1].train["accuracy"]) == pytest.approx(
        old["epoch2_train"])  # the old running sums carried into the resumed epoch
    run = store.get("20250101-100000-aaaaaa")
    assert (run.info.status, run.info.epochs) == ("finished", 3)
    assert json.loads((root / run.info.id / "config.json").read_text())["format"] == "cnnpg-run-2"
    assert json.loads((root / run.info.id / "metrics.json").read_text())[0]["val"]["accuracy"] == \
        old["epoch1"]["val_acc"]
