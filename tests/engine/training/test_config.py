"""``engine.training.config``: every bad setting is refused by name, and a config (with its task) round-trips through
the dict a run stores."""

from __future__ import annotations

import pytest

from engine.data import AugmentConfig
from engine.training.config import TrainConfig
from engine.training.tasks import Classify


@pytest.mark.parametrize(("field", "value"), [
    ("optimizer", "rmsprop"), ("lr", 0.0), ("lr", float("nan")), ("momentum", 1.0), ("schedule", "linear"),
    ("step_size", 0), ("gamma", -1.0), ("batch_size", 0), ("batch_size", 2.5), ("epochs", 0), ("weight_decay", -0.1),
    ("seed", -1), ("device", "tpu"), ("amp", "yes"), ("augment", {"hflip": True}),
    ("num_workers", -1), ("epochs", True), ("task", "classify"),
])
def test_bad_config_values_are_named(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field) as info:
        TrainConfig(**{field: value})
    if not isinstance(value, dict):
        assert repr(value) in str(info.value) or field in ("augment", "task")


def test_bad_task_options_are_named() -> None:
    with pytest.raises(ValueError, match=r"label_smoothing must be a number ≥ 0 and < 1, got 1.0"):
        Classify(label_smoothing=1.0)


def test_config_round_trips_through_a_dict() -> None:
    config = TrainConfig(optimizer="sgd", schedule="step", augment=AugmentConfig(hflip=True, rotation=5.0),
                         task=Classify(label_smoothing=0.1))
    assert TrainConfig.from_dict(config.to_dict()) == config
    assert config.to_dict()["task"] == {"name": "classify", "label_smoothing": 0.1}
    with pytest.raises(ValueError, match="unknown training setting"):
        TrainConfig.from_dict({"learning_rate": 0.1})
    with pytest.raises(ValueError, match="unknown option.*of the classification task"):
        TrainConfig.from_dict({"task": {"name": "classify", "smoothing": 0.1}})
    with pytest.raises(ValueError, match="unknown task 'segment'; choose one of classify, .*detect"):
        TrainConfig.from_dict({"task": {"name": "segment"}})
