"""``engine.training.loop``: the loop learns, stops and resumes exactly, fails with reasons, and matches torch's own
pieces.

Oracles: real learning on the digits set (a small CNN must pass 90 % validation accuracy); an uninterrupted run for
stop + resume; ``F.cross_entropy`` for label smoothing; closed forms and ``torch.optim.lr_scheduler.OneCycleLR``
for the schedules.
"""

from __future__ import annotations

import dataclasses
import math
import threading

import pytest
import torch
import torch.nn.functional as F

from engine.data import AugmentConfig, DatasetCard, ImageSet, LoadedData, adapt_batch, load_dataset
from engine.nets.build import build
from engine.nets.presets import get_preset
from engine.nets.spec import NetworkSpec
from engine.training.config import TrainConfig
from engine.training.events import BatchEvent, Callback, EpochEvent, History, StopTraining
from engine.training.loop import fit
from engine.training.runs import RunStore
from engine.training.tasks import Classify
from engine.training.tasks.classify import fit_head

SMALL_CNN = NetworkSpec.from_dict({"input": [1, 8, 8], "layers": [
    {"kind": "conv2d", "out_channels": 16, "padding": 1}, {"kind": "relu"}, {"kind": "maxpool2d"},  # (16, 4, 4)
    {"kind": "conv2d", "out_channels": 32, "padding": 1}, {"kind": "relu"}, {"kind": "maxpool2d"},  # (32, 2, 2)
    {"kind": "flatten"}, {"kind": "linear", "out_features": 10},
]})
BN_CNN = NetworkSpec.from_dict({"input": [1, 8, 8], "layers": [
    {"kind": "conv2d", "out_channels": 8, "padding": 1}, {"kind": "batchnorm2d"}, {"kind": "relu"},
    {"kind": "maxpool2d"}, {"kind": "dropout", "p": 0.2}, {"kind": "flatten"}, {"kind": "linear", "out_features": 10},
]})


@pytest.fixture(scope="module")
def digits() -> LoadedData:
    return load_dataset("digits")


@pytest.fixture(scope="module")
def small(digits: LoadedData) -> LoadedData:
    """400 training images: enough to exercise everything, quick to train."""
    return LoadedData(dataclasses.replace(digits.card, train_size=400), digits.train.subset(range(400)), digits.val)


def _state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def _same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# --------------------------------------------------------------------------------------------------- learning


def test_a_small_cnn_learns_digits(digits: LoadedData) -> None:
    history = History()
    result = fit(SMALL_CNN, digits, TrainConfig(epochs=4, lr=3e-3, batch_size=32), callbacks=[history])
    assert result.status == "finished" and result.reason == ""
    assert result.best > 0.90 and result.metric.name == "accuracy"
    assert [e.epoch for e in result.history] == [1, 2, 3, 4]
    assert result.history[-1].train_loss < result.history[0].train_loss
    # every batch reported once, in order, with the epoch's batch count
    batches = math.ceil(len(digits.train) / 32)
    assert [(b.epoch, b.batch) for b in history.batches] == [(e, b) for e in range(1, 5) for b in range(1, batches + 1)]
    assert history.batches[-1].eta_s == 0 and all(b.images_per_second > 0 for b in history.batches)
    # the epoch's training loss is the mean of its batch losses, weighted by batch size
    sizes = [32] * (batches - 1) + [len(digits.train) - 32 * (batches - 1)]
    first = [b.loss for b in history.batches[:batches]]
    assert result.history[0].train_loss == pytest.approx(sum(x * n for x, n in zip(first, sizes, strict=True))
                                                         / len(digits.train))
    assert all(0 <= e.data_wait_fraction <= 1 and e.images_per_second > 0 for e in result.history)
    assert not result.model.training


def test_validation_metrics_match_a_forward_pass(small: LoadedData) -> None:
    """The validation loss and accuracy against the trained model run by hand; label smoothing reaches the loss."""
    result = fit(SMALL_CNN, small, TrainConfig(epochs=1, task=Classify(label_smoothing=0.2), device="cpu"))
    x = adapt_batch(small.val.images, SMALL_CNN.input, result.stats)
    with torch.no_grad():
        logits = result.model(x)
    last = result.history[-1]
    expected = F.cross_entropy(logits, small.val.labels, label_smoothing=0.2).item()
    assert last.val_loss == pytest.approx(expected, rel=1e-5)
    assert last.val_loss != pytest.approx(F.cross_entropy(logits, small.val.labels).item(), rel=1e-3)
    assert last.val["accuracy"] == pytest.approx((logits.argmax(1) == small.val.labels).double().mean().item())


def test_same_seed_same_weights(small: LoadedData) -> None:
    config = TrainConfig(epochs=2, seed=3, augment=AugmentConfig(crop_padding=1, rotation=10.0), device="cpu")
    a = fit(BN_CNN, small, config)
    b = fit(BN_CNN, small, config)
    c = fit(BN_CNN, small, dataclasses.replace(config, seed=4))
    assert _same_weights(_state(a.model), _state(b.model))
    assert not _same_weights(_state(a.model), _state(c.model))
    assert [e.train_loss for e in a.history] == [e.train_loss for e in b.history]


# --------------------------------------------------------------------------------------------------- stop and resume


class _StopAt(Callback):
    def __init__(self, stop: threading.Event, epoch: int, batch: int) -> None:
        self.stop, self.at = stop, (epoch, batch)

    def on_batch_end(self, event: BatchEvent) -> None:
        if (event.epoch, event.batch) == self.at:
            self.stop.set()


def test_stop_then_resume_continues_the_same_run_exactly(small: LoadedData, tmp_path) -> None:
    config = TrainConfig(epochs=3, batch_size=32, schedule="onecycle", lr=3e-3, seed=1, device="cpu")
    whole = fit(BN_CNN, small, config)

    store = RunStore(tmp_path / "runs")
    stop = threading.Event()
    seen = History()
    stopped = fit(BN_CNN, small, config, callbacks=[_StopAt(stop, 2, 5), seen], stop=stop, store=store)
    assert stopped.status == "stopped" and stopped.stopped and stopped.reason == "stopped by the user"
    assert [e.epoch for e in stopped.history] == [1]
    assert (seen.batches[-1].epoch, seen.batches[-1].batch) == (2, 5)  # no batch after the one that stopped it
    assert seen.result is stopped
    info = store.info(stopped.run_id)
    assert (info.status, info.epochs) == ("stopped", 1)
    assert store.get(stopped.run_id).has_checkpoint

    resumed = fit(None, small, None, store=store, run_id=stopped.run_id)
    assert resumed.status == "finished" and resumed.run_id == stopped.run_id
    assert [e.epoch for e in resumed.history] == [1, 2, 3]
    assert resumed.history[0] == stopped.history[0]
    # the same weights and the same per-epoch training metrics as the run that was never stopped
    assert _same_weights(_state(resumed.model), _state(whole.model))
    for got, want in zip(resumed.history, whole.history, strict=True):
        assert (got.train_loss, got.train["accuracy"], got.val_loss, got.val["accuracy"], got.lr) == pytest.approx(
            (want.train_loss, want.train["accuracy"], want.val_loss, want.val["accuracy"], want.lr))
    run = store.get(stopped.run_id)
    assert (run.info.status, run.info.epochs) == ("finished", 3)
    assert [e["epoch"] for e in run.history] == [1, 2, 3]
    assert (run.info.task, run.info.metric, run.info.higher_is_better) == ("classify", "accuracy", True)
    assert run.info.best == pytest.approx(resumed.best)
    assert len(store.list()) == 1


def test_a_finished_run_trains_on_for_more_epochs(small: LoadedData, tmp_path) -> None:
    store = RunStore(tmp_path)
    first = fit(SMALL_CNN, small, TrainConfig(epochs=1), store=store)
    more = fit(None, small, TrainConfig(epochs=2), store=store, run_id=first.run_id)
    assert [e.epoch for e in more.history] == [1, 2] and more.run_id == first.run_id
    assert store.get(first.run_id).config["train"]["epochs"] == 2
    with pytest.raises(ValueError, match="finished its 2 epochs"):
        fit(None, small, None, store=store, run_id=first.run_id)
    with pytest.raises(ValueError, match="lr"):
        fit(None, small, TrainConfig(epochs=3, lr=0.1), store=store, run_id=first.run_id)
    with pytest.raises(ValueError, match="needs the store"):
        fit(None, small, None, run_id=first.run_id)


def test_checkpoint_round_trip_gives_identical_outputs(small: LoadedData, tmp_path) -> None:
    store = RunStore(tmp_path)
    result = fit(BN_CNN, small, TrainConfig(epochs=1), store=store)
    loaded = store.load_model(result.run_id, device=result.model[0].weight.device)
    assert not loaded.training
    x = adapt_batch(small.val.images[:50], BN_CNN.input, result.stats).to(result.model[0].weight.device)
    with torch.no_grad():
        assert torch.equal(loaded(x), result.model(x))
    assert store.get(result.run_id).config["stats"] == {"mean": list(result.stats.mean), "std": list(result.stats.std)}


def test_a_callback_can_stop_the_fit(small: LoadedData) -> None:
    class Enough(Callback):
        def on_epoch_end(self, event: EpochEvent) -> None:
            raise StopTraining("good enough")

    result = fit(SMALL_CNN, small, TrainConfig(epochs=5), callbacks=[Enough()])
    assert (result.status, result.reason, result.epochs) == ("stopped", "good enough", 1)


# --------------------------------------------------------------------------------------------------- failures


def test_a_diverging_loss_stops_with_the_reason(small: LoadedData, tmp_path) -> None:
    store = RunStore(tmp_path)
    result = fit(SMALL_CNN, small, TrainConfig(optimizer="sgd", lr=1e12, epochs=3), store=store)
    assert result.status == "failed"
    assert result.reason.startswith("loss became ")
    assert result.reason.split()[2] in ("nan", "inf")
    assert "at epoch 1 batch" in result.reason and result.reason.endswith("try a lower learning rate")
    assert store.info(result.run_id).status == "failed"


def test_out_of_memory_gives_a_suggestion(small: LoadedData, monkeypatch) -> None:
    model = build(SMALL_CNN)

    def oom(x: torch.Tensor) -> torch.Tensor:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(model[0], "forward", oom)
    result = fit(model, small, TrainConfig(epochs=1, batch_size=64))
    assert result.status == "failed"
    device = result.device.split()[0]
    assert result.reason.startswith(f"out of {device} memory at epoch 1 with batch size 64 — try a smaller batch "
                                    f"size (e.g. 32)")


def test_an_exception_in_a_callback_marks_the_run_failed_and_propagates(small: LoadedData, tmp_path) -> None:
    class Broken(Callback):
        def on_batch_end(self, event: BatchEvent) -> None:
            raise RuntimeError("bug in a callback")

    store = RunStore(tmp_path)
    with pytest.raises(RuntimeError, match="bug in a callback"):
        fit(SMALL_CNN, small, TrainConfig(epochs=1), callbacks=[Broken()], store=store)
    assert [r.status for r in store.list()] == ["failed"]


# --------------------------------------------------------------------------------------------------- schedules


def _lrs(small: LoadedData, **kwargs) -> tuple[list[float], list[float]]:
    history = History()
    result = fit(SMALL_CNN, small, TrainConfig(epochs=4, batch_size=100, **kwargs), callbacks=[history])
    return [e.lr for e in result.history], [b.lr for b in history.batches]


def test_step_schedule(small: LoadedData) -> None:
    per_epoch, _ = _lrs(small, optimizer="sgd", lr=0.1, schedule="step", step_size=2, gamma=0.5)
    assert per_epoch == pytest.approx([0.1 * 0.5 ** (e // 2) for e in range(4)])


def test_cosine_schedule(small: LoadedData) -> None:
    per_epoch, per_batch = _lrs(small, lr=0.01, schedule="cosine")
    assert per_epoch == pytest.approx([0.01 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(4)])
    assert per_batch[:4] == pytest.approx([0.01] * 4)  # constant within an epoch


def test_constant_schedule(small: LoadedData) -> None:
    per_epoch, per_batch = _lrs(small, lr=0.02, optimizer="adamw", weight_decay=0.01)
    assert set(per_epoch) == set(per_batch) == {0.02}


def test_onecycle_schedule_steps_per_batch_like_torch(small: LoadedData) -> None:
    _, per_batch = _lrs(small, optimizer="sgd", lr=0.05, schedule="onecycle")
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.05, momentum=0.9)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=len(per_batch))
    expected = []
    for _ in per_batch:
        expected.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert len(per_batch) == 4 * 4
    assert per_batch == pytest.approx(expected)
    assert max(per_batch) == pytest.approx(0.05, rel=0.05)


# --------------------------------------------------------------------------------------------------- config


def test_an_unavailable_device_is_refused(small: LoadedData) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match="'cuda' is not available"):
        fit(SMALL_CNN, small, TrainConfig(device="cuda"))


def test_amp_on_cpu_trains_in_float32_and_says_so(small: LoadedData) -> None:
    result = fit(SMALL_CNN, small, TrainConfig(epochs=1, amp=True, device="cpu"))
    assert result.status == "finished"
    assert any("mixed precision is for CUDA" in n for n in result.notes)


# --------------------------------------------------------------------------------------------------- fitting a network


def test_fit_refuses_a_network_that_does_not_fit(small: LoadedData) -> None:
    with pytest.raises(ValueError, match="gives 1000 scores"):
        fit(get_preset("alexnet"), small, TrainConfig(epochs=1))
    with pytest.raises(ValueError, match="engine.nets.build.Network"):
        fit(torch.nn.Linear(64, 10), small, TrainConfig(epochs=1))


def test_tiny_custom_data_and_a_batch_of_one_left_over() -> None:
    """A last batch of one image is dropped (batch norm cannot train on one); three channels in, gray network."""
    images = torch.randint(0, 256, (9, 3, 6, 6), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([0, 1] * 4 + [0])
    card = DatasetCard("toy", "Toy", ("a", "b"), (3, 6, 6), 9, 4, "", "", "")
    data = LoadedData(card, ImageSet(images, labels, ("a", "b")), ImageSet(images[:4], labels[:4], ("a", "b")))
    history = History()
    result = fit(fit_head(BN_CNN, 2), data, TrainConfig(epochs=1, batch_size=4), callbacks=[history])
    assert result.status == "finished" and len(history.batches) == 2
    assert any("turned to gray" in n for n in result.notes)


def test_init_from_copies_matching_tensors(small: LoadedData, tmp_path) -> None:
    store = RunStore(tmp_path)
    first = fit(SMALL_CNN, small, TrainConfig(epochs=1), store=store)
    three = fit_head(SMALL_CNN, 3)
    data3 = _relabel(small, 3)
    result = fit(three, data3, TrainConfig(epochs=1, lr=1e-9, optimizer="sgd", momentum=0.0), store=store,
                 init_from=first.run_id)
    assert any(n.startswith("weights: 4 of 6 tensors from run") for n in result.notes)
    trained = store.load_checkpoint(first.run_id).model
    assert torch.allclose(result.model[0].weight.cpu(), trained["0.weight"], atol=1e-6)


def _relabel(data: LoadedData, k: int) -> LoadedData:
    """Digits folded into ``k`` classes (label mod k): new data with another class count."""
    classes = tuple(str(i) for i in range(k))
    train = ImageSet(data.train.images, data.train.labels % k, classes)
    val = ImageSet(data.val.images, data.val.labels % k, classes)
    return LoadedData(dataclasses.replace(data.card, name=f"digits-mod-{k}", classes=classes), train, val)


# --------------------------------------------------------------------------------------------------- CUDA

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@cuda
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_mixed_precision_on_cuda_learns(digits: LoadedData, dtype: torch.dtype, monkeypatch) -> None:
    """bf16 autocast, and fp16 with a gradient scaler (the path for GPUs without bf16)."""
    monkeypatch.setattr("engine.training.loop.amp_dtype", lambda device: dtype)
    result = fit(SMALL_CNN, digits, TrainConfig(epochs=4, lr=3e-3, batch_size=32, device="cuda", amp=True))
    assert result.status == "finished" and result.device.startswith("cuda")
    assert result.best > 0.85
    assert result.model[0].weight.dtype == torch.float32  # autocast: the weights stay float32


@cuda
def test_stop_on_cuda_and_resume_on_the_cpu(small: LoadedData, tmp_path) -> None:
    store = RunStore(tmp_path)
    stop = threading.Event()
    config = TrainConfig(epochs=2, batch_size=32, device="cuda")
    stopped = fit(SMALL_CNN, small, config, callbacks=[_StopAt(stop, 1, 4)], stop=stop, store=store)
    assert stopped.stopped
    resumed = fit(None, small, dataclasses.replace(config, device="cpu"), store=store, run_id=stopped.run_id)
    assert resumed.status == "finished" and resumed.device.startswith("cpu")
    assert [e.epoch for e in resumed.history] == [1, 2]
    assert store.info(stopped.run_id).device.startswith("cpu")
