"""The expected-time estimate: a few real batches of the same fit, timed and scaled — nothing stored, nothing of the
caller's randomness used, the probe batch shrunk for heavy networks. (How close it comes to a real run's time is a
benchmark: bench/bench_estimate.py.)"""

from __future__ import annotations

import pytest
import torch

from engine.data import load_dataset
from engine.nets.presets import get_preset
from engine.nets.summary import summary
from engine.training.config import TrainConfig
from engine.training.estimate import BUDGET_MACS, PROBE_BATCHES, estimate, probe_batch_size


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0, max_train=300)


def test_the_estimate_scales_the_measured_batches_to_the_run(digits, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a run store would land in ./runs
    spec = get_preset("lenet5")
    config = TrainConfig(epochs=3, batch_size=32)
    before = torch.random.get_rng_state()
    e = estimate(spec, digits, config)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert not (tmp_path / "runs").exists()
    assert e.batches == -(-len(digits.train) // 32) == 10 and e.epochs == 3 and e.probe_batch == 32
    assert e.per_batch > 0 and e.per_val_image > 0 and e.setup >= 0
    assert e.seconds == pytest.approx(e.setup + 3 * (10 * e.per_batch + len(digits.val) * e.per_val_image))
    assert "ms per training batch of 32 on cpu" in e.describe()


def test_a_heavy_network_is_timed_on_a_smaller_batch_and_scaled():
    resnet = get_preset("resnet50")
    macs = summary(resnet).total_macs
    b = probe_batch_size(resnet, 64, "cpu")
    assert b == max(1, int(BUDGET_MACS["cpu"] // macs)) < 64
    assert probe_batch_size(get_preset("lenet5"), 64, "cpu") == 64


def test_a_set_smaller_than_the_probe_times_what_there_is(tmp_path):
    tiny = load_dataset("digits", seed=0, max_train=40)
    e = estimate(get_preset("lenet5"), tiny, TrainConfig(epochs=1, batch_size=32))
    assert e.batches == 2 < PROBE_BATCHES and e.seconds > 0
