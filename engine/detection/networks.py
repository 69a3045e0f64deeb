"""Ready networks for classification with localisation and for landmarks, in the builder's format (so the builder shows
and edits them): a small VGG-like stack — 3×3 convolutions with batch norm and ReLU, halved by 2×2 max pooling —
and a fully connected head whose last layer gives what the task asks (5 + K values for localisation, 2K for K
landmarks). On 48×48 inputs it learns the scenes to a mean IoU above 0.7 and the faces to a normalised error under 0.2
in CPU-sized runs (tests/engine/detection/test_tasks.py). YOLO detection's backbone and head are the task's
(``engine.detection.detect.Detect.ready_spec``).
"""

from __future__ import annotations

from engine.data.types import DatasetCard
from engine.nets.spec import NetworkSpec
from engine.training.tasks import Task

CHANNELS = (16, 32, 64, 64)
HIDDEN = 64


def ready_spec(outputs: int, input_shape: tuple[int, int, int] = (3, 48, 48), dropout: float = 0.0) -> NetworkSpec:
    """Three conv-BN-ReLU-pool blocks (48 -> 6), one more convolution at 6×6, flatten, a hidden layer of ``HIDDEN``
    units (with ``dropout`` after it when above 0) and a linear layer of ``outputs`` units."""
    if isinstance(outputs, bool) or not isinstance(outputs, int) or outputs < 1:
        raise ValueError(f"outputs must be a positive integer, got {outputs!r}")
    block = [{"kind": "batchnorm2d"}, {"kind": "relu"}]
    layers: list[dict] = []
    for i, c in enumerate(CHANNELS):
        layers += [{"kind": "conv2d", "out_channels": c, "padding": 1}, *block]
        if i < len(CHANNELS) - 1:
            layers.append({"kind": "maxpool2d"})
    layers += [{"kind": "flatten"}, {"kind": "linear", "out_features": HIDDEN}, {"kind": "relu"}]
    layers += [{"kind": "dropout", "p": dropout}] if dropout else []
    layers.append({"kind": "linear", "out_features": outputs})
    return NetworkSpec.from_dict({"input": list(input_shape), "layers": layers})


READY_TASKS = ("localise", "landmarks", "detect")  # the tasks ready_network serves


def ready_network(task: Task, card: DatasetCard) -> NetworkSpec:
    """The ready network for ``task`` on the data of ``card``: its input the data's image shape, its output the
    task's (``Task.output_shape``); for YOLO detection the task's own backbone and head (``Detect.ready_spec``)."""
    from engine.detection.detect import Detect  # registered after this module's users import it

    if isinstance(task, Detect):
        return task.ready_spec(card)
    (outputs,) = task.output_shape(card)
    return ready_spec(int(outputs), tuple(card.image_shape))
