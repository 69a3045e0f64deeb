"""A second task, for tests only: find one point per image (where a small bright square is), by regression.

It is written against the task contract alone (``engine.training.tasks.base``) and trains through the very same
``fit`` as classification: typed targets (``Points``, scaled when the loader resizes the images), its own collate
(the batch's points as one ``(B, 2)`` tensor), a loss (mean squared error in input pixels), a lower-is-better primary
metric (the mean absolute coordinate error, summed on the device), its evaluation and decoding.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from engine.data import DatasetCard, ImageSet, LoadedData, PointBatch, Points
from engine.nets.spec import NetworkSpec, Shape
from engine.training.tasks import TASKS, Metric, SumMeter, Task, register
from engine.training.tasks.classify import fit_head

SIZE = 16  # stored images are 16×16 gray; the network takes 8×8, so the loader halves the points too
NET = NetworkSpec.from_dict({"input": [1, 8, 8], "layers": [
    {"kind": "conv2d", "out_channels": 8, "padding": 1}, {"kind": "relu"},  # (8, 8, 8)
    {"kind": "flatten"}, {"kind": "dropout", "p": 0.1}, {"kind": "linear", "out_features": 2},
]})


class ErrorMeter(SumMeter):
    names = ("abs_error", "count")

    def update(self, output: torch.Tensor, target: torch.Tensor) -> None:
        self.sums["abs_error"] += (output.float() - target).abs().sum()
        self.sums["count"] += target.numel()

    def finish(self, values: dict[str, float]) -> dict[str, float]:
        return {"error": values["abs_error"] / values["count"] if values["count"] else float("nan")}


@dataclass(frozen=True)
class Locate(Task):
    """One (x, y) per landmark, in the network input's pixels."""

    name = "test-locate"
    title = "point location"
    targets = Points.kind
    metrics = (Metric("error", "mean error (pixels)", higher_is_better=False),)
    primary = "error"
    loss_title = "squared error"
    output_name = "points"

    def output_shape(self, card: DatasetCard) -> Shape:
        return (2 * card.num_classes,)

    def fit_output(self, spec: NetworkSpec, card: DatasetCard) -> NetworkSpec:
        return fit_head(spec, 2 * card.num_classes)

    def collate(self, batch: PointBatch) -> torch.Tensor:
        return batch.points.flatten(1)  # (B, K, 2) -> (B, 2K)

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(output.float(), target)

    def meter(self, device: torch.device | str) -> ErrorMeter:
        return ErrorMeter(device)

    def decode(self, outputs: torch.Tensor, k: int = 5, side: int | None = None) -> torch.Tensor:
        return outputs.reshape(len(outputs), -1, 2)


if Locate.name not in TASKS:
    register(Locate)


def make_data(n_train: int = 256, n_val: int = 64, seed: int = 0) -> LoadedData:
    """Gray 16×16 images, each with a 3×3 white square on black; its centre is the point to find."""
    rng = np.random.default_rng(seed)

    def part(n: int) -> ImageSet:
        images = np.zeros((n, 1, SIZE, SIZE), np.uint8)
        corner = rng.integers(0, SIZE - 3, (n, 2))  # (x, y) of the square's top-left pixel
        for i, (x, y) in enumerate(corner):
            images[i, 0, y:y + 3, x:x + 3] = 255
        points = torch.tensor(corner + 1.5, dtype=torch.float32)[:, None, :]  # (N, 1, 2): the square's centre
        return ImageSet(torch.from_numpy(images), Points(points, ("centre",)))

    train, val = part(n_train), part(n_val)
    card = DatasetCard("squares", "White squares", ("centre",), (1, SIZE, SIZE), n_train, n_val, "the tests", "MIT",
                       "a 3×3 white square per image", targets=Points.kind)
    return LoadedData(card, train, val)


def subset(data: LoadedData, n: int) -> LoadedData:
    return LoadedData(dataclasses.replace(data.card, train_size=n), data.train.subset(range(n)), data.val)
