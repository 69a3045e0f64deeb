"""``engine.training.limits``: the server's limits per training job, from its environment (issue 9, "Jobs, fairly").

Oracles: a real fit on digits stopped by the wall-time limit, then resumed with no limit, ends with the same weights
as a fit never stopped; the epochs cap refuses before anything is stored; the limit's own clock for the callback.
"""

from __future__ import annotations

import dataclasses
import time

import pytest
import torch

from engine.data import LoadedData, load_dataset
from engine.nets.spec import NetworkSpec
from engine.training.config import TrainConfig
from engine.training.events import BatchEvent, Callback, EpochEvent, FitStart, History, StopTraining
from engine.training.limits import JobLimits, TimeLimit, check_epochs, job_limits
from engine.training.loop import fit
from engine.training.runs import RunStore

NET = NetworkSpec.from_dict({"input": [1, 8, 8], "layers": [
    {"kind": "conv2d", "out_channels": 8, "padding": 1}, {"kind": "batchnorm2d"}, {"kind": "relu"},
    {"kind": "maxpool2d"}, {"kind": "flatten"}, {"kind": "linear", "out_features": 10},  # (8, 4, 4) -> 10
]})
CONFIG = TrainConfig(epochs=2, batch_size=32, lr=3e-3, seed=3, device="cpu")


@pytest.fixture(autouse=True)
def no_limits(monkeypatch) -> None:
    for var in ("CNNPG_MAX_EPOCHS", "CNNPG_MAX_JOB_SECONDS", "CNNPG_DEMO"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def small() -> LoadedData:
    digits = load_dataset("digits")
    return LoadedData(dataclasses.replace(digits.card, train_size=320), digits.train.subset(range(320)), digits.val)


class _Slow(Callback):
    """Each batch takes at least ``seconds`` longer: a slow server, so the wall-time limit falls mid-epoch."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def on_batch_end(self, event: BatchEvent) -> None:
        time.sleep(self.seconds)


def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_unset_means_no_limit_and_a_demo_has_its_own(monkeypatch) -> None:
    assert job_limits() == JobLimits(None, None) and not job_limits().any
    check_epochs(10_000)
    monkeypatch.setenv("CNNPG_DEMO", "1")
    assert job_limits() == JobLimits(20, 300)
    monkeypatch.setenv("CNNPG_MAX_EPOCHS", "4")
    monkeypatch.setenv("CNNPG_MAX_JOB_SECONDS", "90")
    assert job_limits() == JobLimits(4, 90)


@pytest.mark.parametrize("text", ["ten", "0", "-5", "2.5"])
def test_a_bad_setting_names_the_variable(monkeypatch, text: str) -> None:
    monkeypatch.setenv("CNNPG_MAX_JOB_SECONDS", text)
    with pytest.raises(ValueError) as e:
        job_limits()
    assert str(e.value) == f"CNNPG_MAX_JOB_SECONDS must be a positive integer (seconds per training job), got {text!r}"


def test_the_time_limit_stops_a_real_fit_and_the_run_resumes_exactly(small: LoadedData, tmp_path,
                                                                     monkeypatch) -> None:
    whole = fit(NET, small, CONFIG)  # never stopped: the oracle

    monkeypatch.setenv("CNNPG_MAX_JOB_SECONDS", "1")
    store = RunStore(tmp_path / "runs")
    seen = History()
    started = time.monotonic()
    stopped = fit(NET, small, CONFIG, callbacks=[_Slow(0.15), seen], store=store)
    took = time.monotonic() - started
    assert (stopped.status, stopped.reason) == ("stopped", "reached the server's limit of 1.0 s per job")
    assert took >= 1.0
    last = seen.batches[-1]
    assert (last.epoch, last.batch) < (2, 10)  # 10 batches per epoch: it did not run to the end
    info = store.info(stopped.run_id)
    assert info.status == "stopped" and store.get(stopped.run_id).has_checkpoint

    monkeypatch.delenv("CNNPG_MAX_JOB_SECONDS")
    resumed = fit(None, small, None, store=store, run_id=stopped.run_id)
    assert resumed.status == "finished" and [e.epoch for e in resumed.history] == [1, 2]
    want, got = _weights(whole.model), _weights(resumed.model)
    assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in want)


def test_each_job_has_the_whole_time_again(small: LoadedData, tmp_path, monkeypatch) -> None:
    """A resumed job is a new job: it trains the limit's time again, then stops again, still resumable."""
    monkeypatch.setenv("CNNPG_MAX_JOB_SECONDS", "1")
    store = RunStore(tmp_path / "runs")
    config = dataclasses.replace(CONFIG, epochs=3)
    one, two = History(), History()
    first = fit(NET, small, config, callbacks=[_Slow(0.15), one], store=store)
    second = fit(None, small, None, callbacks=[_Slow(0.15), two], store=store, run_id=first.run_id)
    assert first.status == second.status == "stopped"
    at = [(h.batches[-1].epoch, h.batches[-1].batch) for h in (one, two)]
    assert at[0] < at[1] < (3, 10)  # the second job went on from where the first stopped, and stopped again
    assert len(two.batches) >= 2  # its own second of training (a clock going on from the first: one batch only)
    progress = store.load_checkpoint(first.run_id).state["progress"]
    assert (progress["epoch"] + 1, progress["batch"]) == at[1]  # kept where the second job stopped
    assert len(store.list()) == 1


def test_the_time_limit_never_stops_a_fit_after_its_last_epoch() -> None:
    now = [0.0]
    limit = TimeLimit(60, clock=lambda: now[0])
    limit.on_fit_start(FitStart(None, "cpu", epochs=2, start_epoch=0, batches=5, notes=()))
    event = EpochEvent(1, {"loss": 1.0}, {"loss": 1.0}, 1.0, 1.0, 0.0, 1e-3)
    now[0] = 59.9
    limit.on_batch_end(BatchEvent(1, 5, 5, 1.0, 1.0, 1.0, 1e-3))  # under the limit: nothing
    now[0] = 60.0
    with pytest.raises(StopTraining, match="^reached the server's limit of 1 min per job$"):
        limit.on_epoch_end(event)
    limit.on_epoch_end(dataclasses.replace(event, epoch=2))  # the last epoch is done: finished, not stopped
    with pytest.raises(StopTraining, match="of 1 min per job"):
        limit.on_batch_end(BatchEvent(2, 1, 5, 1.0, 1.0, 1.0, 1e-3))


def test_too_many_epochs_are_refused_before_anything_is_stored(small: LoadedData, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CNNPG_MAX_EPOCHS", "3")
    store = RunStore(tmp_path / "runs")
    with pytest.raises(ValueError) as e:
        fit(NET, small, dataclasses.replace(CONFIG, epochs=50), store=store)
    assert str(e.value) == ("50 epochs, over this server's limit of 3 epochs per job (CNNPG_MAX_EPOCHS=3): 47 over; "
                            "ask for at most 3")
    assert store.list() == []


def test_a_resumed_job_counts_only_the_epochs_it_trains(small: LoadedData, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CNNPG_MAX_EPOCHS", "2")
    store = RunStore(tmp_path / "runs")
    done = fit(NET, small, dataclasses.replace(CONFIG, epochs=2), store=store)
    with pytest.raises(ValueError) as e:
        fit(None, small, dataclasses.replace(CONFIG, epochs=5), store=store, run_id=done.run_id)
    assert str(e.value) == ("training from epoch 2 to 5 is 3 epochs, over this server's limit of 2 epochs per job "
                            "(CNNPG_MAX_EPOCHS=2): 1 over; resume until epoch 4 at most")
    assert store.info(done.run_id).epochs == 2  # untouched
    more = fit(None, small, dataclasses.replace(CONFIG, epochs=4), store=store, run_id=done.run_id)
    assert more.status == "finished" and len(more.history) == 4
