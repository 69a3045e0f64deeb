"""``engine.training.tasks.base``: metrics that know their direction, moving any target to a device, the registry's
refusals, and a task's defaults (the output check, evaluation through the meter, decoding) for a minimal task."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import pytest
import torch

from engine.data import DatasetCard, Identities
from engine.nets.spec import NetworkSpec
from engine.training.tasks import TASKS, Metric, SumMeter, Task, default_task, move_to, task_from_dict


def test_metrics_compare_and_write_by_their_direction() -> None:
    acc, err = Metric("accuracy", "accuracy", percent=True), Metric("error", "error", higher_is_better=False)
    assert acc.better(0.9, 0.8) and not acc.better(0.8, 0.9) and acc.better(0.1, None)
    assert err.better(0.8, 0.9) and not err.better(0.9, 0.8)
    assert not acc.better(math.nan, 0.1) and acc.better(0.1, math.nan)
    assert acc.format(0.9123) == "91.2%" and err.format(0.012345) == "0.01235" and acc.format(None) == "—"


class Pair(NamedTuple):
    a: torch.Tensor
    b: list[torch.Tensor]


def test_move_to_reaches_every_tensor_and_keeps_the_containers() -> None:
    target = {"x": Pair(torch.zeros(2), [torch.ones(1)]), "n": 3, "t": (torch.zeros(1), "s")}
    moved = move_to(target, "meta")
    assert isinstance(moved["x"], Pair) and moved["x"].a.device.type == "meta"
    assert moved["x"].b[0].device.type == "meta" and moved["t"][0].device.type == "meta"
    assert moved["n"] == 3 and moved["t"][1] == "s"


class CountMeter(SumMeter):
    names = ("n",)

    def update(self, output: torch.Tensor, target: torch.Tensor) -> None:
        self.sums["n"] += target.numel()

    def finish(self, values: dict[str, float]) -> dict[str, float]:
        return {"count": values["n"]}


@dataclass(frozen=True)
class Count(Task):
    """A minimal task: only what has no default."""

    name = "test-count"
    title = "counting"
    targets = "identities"
    metrics = (Metric("count", "count"),)
    primary = "count"

    def output_shape(self, card: DatasetCard) -> tuple[int, ...]:
        return (4,)

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return output.mean()

    def meter(self, device: torch.device | str) -> CountMeter:
        return CountMeter(device)


def test_a_minimal_tasks_defaults() -> None:
    card = DatasetCard("ids", "People", ("ann", "bob"), (1, 8, 8), 3, 1, "", "", "", targets="identities")
    task = Count()
    assert task.output_problems((4,), card) == []
    assert task.output_problems((5,), card) == [
        "output: the network gives 5 per image; the counting of People needs 4 (the one-click fix does this)"]
    assert task.collate("as it is") == "as it is"
    assert task.evaluate(torch.zeros(3, 4), Identities(torch.tensor([0, 1, 1]), ("ann", "bob"))) == {"count": 3.0}
    assert torch.equal(task.decode(torch.ones(2, 4)), torch.ones(2, 4))
    assert task.to_dict() == {"name": "test-count"}
    with pytest.raises(NotImplementedError):
        task.fit_output(NetworkSpec.from_dict({"input": [1, 8, 8], "layers": []}), card)


def test_the_registry_refuses_unknown_names_and_options() -> None:
    with pytest.raises(ValueError, match="unknown task 'yolo'; choose one of classify"):
        task_from_dict({"name": "yolo"})
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['lr'\] of the classification task; valid: "
                                         r"label_smoothing"):
        task_from_dict({"name": "classify", "lr": 0.1})
    with pytest.raises(ValueError, match="a task is given as"):
        task_from_dict({"label_smoothing": 0.1})
    with pytest.raises(ValueError, match="no task learns from voxels yet"):
        default_task("voxels")
    with pytest.raises(ValueError, match="already registered"):
        TASKS.add("classify", Count)
