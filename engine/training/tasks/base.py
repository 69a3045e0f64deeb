"""The task contract: what one kind of learning problem tells the one training loop.

After Lightning's ``LightningModule`` (the model-side hooks: ``training_step``, the loss, ``torchmetrics`` metrics
with ``update``/``compute``) and torchvision's references (``references/detection``: a task-specific ``collate_fn``,
loss dict and evaluator around one generic loop). A task is a frozen dataclass whose fields are its options (label
smoothing for classification), registered by name in ``TASKS`` so a stored run names its task and gets it back. It
says

- what the network's output must be for the data (``output_shape``, ``output_problems``) and the one-click fix when
  it is not (``fit_output``, described by ``fix_label``);
- how a batch's target is made from the data's typed targets (``collate``, run by the loader, possibly in a worker
  process: a YOLO grid, say) and moved to the device (``to_device``);
- the ``loss``: a scalar tensor, the batch's mean (the loop weights it by the batch's image count);
- its ``metrics`` — ``Metric`` descriptors, one of them ``primary``, each higher- or lower-is-better — accumulated by a
  ``Meter`` on the device over a whole epoch without reading back per batch (``update``), read once at its end
  (``compute``), and carried through a resume (``state_dict``); a metric that needs the whole epoch (mAP) keeps what
  it needs in ``update`` and computes in ``compute``; the loss sees a whole batch, so mining triplets over a batch's
  embeddings and identities is the loss's business;
- the evaluation views' data (``evaluate``, from a whole set's outputs) and how a raw output is decoded for people
  (``decode``: top-k classes, boxes after NMS, points, an embedding).

docs/tasks-and-jobs.md describes each method with its shapes and types.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from engine.data.targets import Targets, describe_kind
from engine.data.types import DatasetCard
from engine.nets.spec import NetworkSpec, Shape
from engine.registry import Registry
from engine.units import format_shape


@dataclass(frozen=True)
class Metric:
    """One measure a task reports. ``percent``: a fraction in [0, 1] written as a percentage."""

    name: str
    title: str
    higher_is_better: bool = True
    percent: bool = False

    def format(self, value: float | None) -> str:
        """``0.912`` -> ``"91.2%"`` (percent) or ``"0.912"``; ``"—"`` for None or NaN."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "—"
        return f"{value:.1%}" if self.percent else f"{value:.4g}"

    def better(self, value: float, than: float | None) -> bool:
        """Whether ``value`` beats ``than`` (None and NaN beat nothing and are beaten by anything)."""
        if value is None or math.isnan(value):
            return False
        if than is None or math.isnan(than):
            return True
        return value > than if self.higher_is_better else value < than


LOSS = Metric("loss", "loss", higher_is_better=False)


class Meter:
    """Accumulates a task's metrics over batches. ``update`` runs on the training device after every batch and must
    not read values back to the host (no ``.item()``, ``float()``, ``.tolist()``): it only queues device work.
    ``compute`` reads once. ``state_dict`` / ``load_state_dict`` carry a half-done epoch through a stop and resume
    (tensors and plain values; the checkpoint stores them)."""

    def update(self, output: torch.Tensor, target: Any) -> None:
        raise NotImplementedError

    def compute(self) -> dict[str, float]:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        raise NotImplementedError


class SumMeter(Meter):
    """A meter whose metrics are functions of running sums, each a 0-d float64 tensor on the device (float32 on Apple
    MPS, which has no float64) — correct and seen for accuracy; absolute error and count for a mean absolute error.
    Subclasses add to ``self.sums`` in ``update`` and turn ``values`` (the sums, read back together) into metrics in
    ``finish``."""

    names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, device: torch.device | str = "cpu") -> None:
        device = torch.device(device)
        dtype = torch.float32 if device.type == "mps" else torch.float64
        self.sums = {n: torch.zeros((), dtype=dtype, device=device) for n in self.names}

    def finish(self, values: dict[str, float]) -> dict[str, float]:
        raise NotImplementedError

    def compute(self) -> dict[str, float]:
        values = torch.stack(list(self.sums.values())).tolist() if self.sums else []  # one read from the device
        return self.finish(dict(zip(self.sums, values, strict=True)))

    def state_dict(self) -> dict[str, Any]:
        return {n: t.detach().clone() for n, t in self.sums.items()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        missing = set(self.sums) - set(state)
        if missing:
            raise ValueError(f"the meter's saved state lacks {sorted(missing)}")
        for n, t in self.sums.items():
            t.copy_(torch.as_tensor(state[n], dtype=t.dtype))


@dataclass(frozen=True)
class Task:
    """The contract (see the module docstring). Subclasses are frozen dataclasses, set the class attributes, and
    implement the methods that raise ``NotImplementedError`` here."""

    name: ClassVar[str]  # the registry key, stored with every run
    title: ClassVar[str]  # "classification"
    targets: ClassVar[str]  # the kind of data targets it learns from (engine.data.targets: "class ids", ...)
    metrics: ClassVar[tuple[Metric, ...]]  # what it measures besides the loss
    primary: ClassVar[str]  # the name of the one metric that ranks epochs and runs
    loss_title: ClassVar[str] = "loss"  # "cross-entropy"
    output_name: ClassVar[str] = "output"  # the exported output's name ("logits")

    # --------------------------------------------------------------------------------------------- identity

    def to_dict(self) -> dict[str, Any]:
        """``{"name": ..., <option>: <value>, ...}``: JSON, as runs store it (``task_from_dict`` reads it back)."""
        return {"name": self.name, **{f.name: getattr(self, f.name) for f in dataclasses.fields(self)}}

    @property
    def primary_metric(self) -> Metric:
        return self.metric(self.primary)

    def metric(self, name: str) -> Metric:
        """The descriptor of ``name`` (one of ``metrics``, or "loss")."""
        for m in (*self.metrics, LOSS):
            if m.name == name:
                return m
        raise ValueError(f"the {self.title} task has no metric {name!r}; it has "
                         f"{', '.join(m.name for m in (*self.metrics, LOSS))}")

    # --------------------------------------------------------------------------------------------- the output

    def check_data(self, card: DatasetCard) -> list[str]:
        """Why this task cannot learn from ``card``'s data (empty when it can): the kind of targets differs."""
        if card.targets != self.targets:
            return [f"data: the {self.title} task learns from {describe_kind(self.targets)}; {card.title} has "
                    f"{describe_kind(card.targets)}"]
        return []

    def output_shape(self, card: DatasetCard) -> Shape:
        """The shape of one image's output the network must give for ``card``'s data (without the batch axis)."""
        raise NotImplementedError

    def output_problems(self, output: Shape | None, card: DatasetCard) -> list[str]:
        """What is wrong with a network output of shape ``output`` for ``card``'s data (empty when nothing); each
        message starts with "output:" and says what ``fit_output`` would do."""
        want = tuple(self.output_shape(card))
        if output is None or tuple(output) != want:
            return [f"output: the network gives {format_shape(output)} per image; the {self.title} of "
                    f"{card.title} needs {format_shape(want)} (the one-click fix does this)"]
        return []

    def fit_output(self, spec: NetworkSpec, card: DatasetCard) -> NetworkSpec:
        """``spec`` changed as little as possible so that its output is ``output_shape(card)`` (the one-click fix);
        ``ValueError`` when the network is invalid."""
        raise NotImplementedError

    def fix_label(self, card: DatasetCard) -> str:
        """The one-click fix in words, as a button says it: "Set the output to 10 classes"."""
        return f"Set the output to {format_shape(self.output_shape(card))}"

    def fix_note(self, card: DatasetCard) -> str:
        """What ``fit_output`` did, in words, for a message after the fix."""
        return (f"the network's output is now {format_shape(self.output_shape(card))} per image, as the {self.title} "
                f"of {card.title} needs")

    def describe_output(self, classes: tuple[str, ...] | list[str]) -> dict[str, Any]:
        """What the output means, for an exported bundle's ``meta.json``: its name, per-image shape and meaning."""
        return {"name": self.output_name, "meaning": f"the {self.title} output", "classes": list(classes)}

    # --------------------------------------------------------------------------------------------- batches

    def collate(self, batch: Any) -> Any:
        """The batch's target from the targets' ``batch(indices)`` (``engine.data.targets``), in the loader (maybe a
        worker process: keep it picklable and on the CPU). By default the batch as it is."""
        return batch

    def to_device(self, target: Any, device: torch.device, non_blocking: bool = False) -> Any:
        """The target on ``device``: every tensor in it moved (tensors, lists, tuples, named tuples, dicts)."""
        return move_to(target, device, non_blocking)

    def loss(self, output: torch.Tensor, target: Any) -> torch.Tensor:
        """A 0-d tensor: the batch's mean loss (differentiable)."""
        raise NotImplementedError

    def meter(self, device: torch.device | str) -> Meter:
        """A fresh accumulator of ``metrics`` on ``device``."""
        raise NotImplementedError

    # --------------------------------------------------------------------------------------------- after training

    def evaluate(self, outputs: torch.Tensor, targets: Targets) -> Any:
        """The evaluation views' data from a whole set's raw outputs ``(N, *output_shape)`` float32 (CPU) and its
        targets (positions already in the network input's pixels). By default the metrics, as a dict."""
        meter = self.meter("cpu")
        meter.update(outputs, self.collate(targets.batch(range(len(targets)))))
        return meter.compute()

    def decode(self, outputs: torch.Tensor, k: int = 5, side: int | None = None) -> Any:
        """Raw outputs ``(B, *output_shape)`` as people read them (``k``: how many alternatives, where that means
        something; ``side``: the input's side in pixels, for positions given in pixels — fractions without it — where
        the task has positions). By default the outputs themselves."""
        return outputs


TASKS: Registry[type[Task]] = Registry("task")


def register(cls: type[Task]) -> type[Task]:
    """Class decorator: add a task to ``TASKS`` under its ``name``."""
    TASKS.add(cls.name, cls, tags=(cls.targets,))
    return cls


def task_from_dict(data: Mapping[str, Any] | str) -> Task:
    """A task from ``to_dict``'s form (or just its name, with default options); ``ValueError`` naming a bad name or
    option."""
    if isinstance(data, str):
        data = {"name": data}
    if not isinstance(data, Mapping) or "name" not in data:
        raise ValueError(f"a task is given as {{'name': ..., options}}, got {data!r}")
    cls = TASKS.get(data["name"])
    options = {k: v for k, v in data.items() if k != "name"}
    valid = {f.name for f in dataclasses.fields(cls)}
    unknown = set(options) - valid
    if unknown:
        raise ValueError(f"unknown option(s) {sorted(unknown)} of the {cls.title} task; valid: "
                         f"{', '.join(sorted(valid)) or 'none'}")
    return cls(**options)


def default_task(targets: str) -> Task:
    """The first registered task that learns from ``targets`` (a kind of data targets), with default options."""
    names = TASKS.names(tags=(targets,))
    if not names:
        raise ValueError(f"no task learns from {describe_kind(targets)} yet (tasks: {', '.join(TASKS)})")
    return TASKS.get(names[0])()


def card_task(card: Any) -> Task:
    """The task a data set's card is made for, with default options: the one it names (``card.task``: detection for
    the multi-object scenes), else the first registered task that learns from its kind of targets (``default_task``)."""
    name = getattr(card, "task", None)
    return TASKS.get(name)() if name else default_task(card.targets)


def move_to(obj: Any, device: torch.device | str, non_blocking: bool = False) -> Any:
    """``obj`` with every tensor in it on ``device`` (tensors, lists, tuples, named tuples, dicts)."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=non_blocking)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(move_to(v, device, non_blocking) for v in obj))
    if isinstance(obj, list | tuple):
        return type(obj)(move_to(v, device, non_blocking) for v in obj)
    if isinstance(obj, Mapping):
        return {k: move_to(v, device, non_blocking) for k, v in obj.items()}
    return obj
