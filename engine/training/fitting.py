"""Does a network fit a data set for a task? The input side is the same for every task (images, adapted by the
loader: ``engine.data.adapt_batch``); the output side and its one-click fix are the task's (``Task.output_problems``,
``Task.fit_output``)."""

from __future__ import annotations

from engine.data import DatasetCard
from engine.nets.spec import NetworkSpec, parse_spec
from engine.nets.summary import summary
from engine.training.tasks import Task, card_task
from engine.units import format_shape


def task_for(card: DatasetCard, task: Task | None = None) -> Task:
    """``task``, or the task ``card``'s data is made for (``card_task``)."""
    return task if task is not None else card_task(card)


def input_notes(spec: NetworkSpec, card: DatasetCard) -> list[str]:
    """What the loader does to make ``card``'s images fit ``spec``'s input (``engine.data.adapt_batch``): resizing,
    channel conversion. Empty when the images fit as they are."""
    notes = []
    if len(spec.input) != 3:
        return notes
    (c, h, w), (nc, nh, nw) = card.image_shape, spec.input
    if (h, w) != (nh, nw):
        notes.append(f"input: {card.title} images are {h}×{w}; they are resized to {nh}×{nw} for the network's "
                     f"input")
    if c != nc:
        how = "gray repeated to 3 channels" if nc == 3 else "turned to gray (0.299 R + 0.587 G + 0.114 B)"
        notes.append(f"input: {card.title} images have {c} channel{'s' * (c > 1)}, the network takes {nc}: {how}")
    return notes


def fit_problems(spec: NetworkSpec | dict | str, card: DatasetCard, task: Task | None = None) -> list[str]:
    """What must change before ``spec`` can learn ``task`` (default: the data's) on ``card``'s data — empty when
    nothing: data the task cannot learn from, an invalid layer, an input that is not an image, an output the task
    cannot use (messages starting with "output:", which ``fit_output`` fixes)."""
    spec = parse_spec(spec)
    task = task_for(card, task)
    problems = task.check_data(card)
    if problems:
        return problems
    if len(spec.input) != 3:
        return [f"input: the network takes a {format_shape(spec.input)} input; images need C×H×W (e.g. "
                f"{format_shape(card.image_shape)})"]
    if spec.input[0] not in (1, 3):
        return [f"input: the network takes {spec.input[0]} channels; images can be given as 1 (gray) or 3 (RGB) — "
                f"set the builder's input channels to {card.image_shape[0]}"]
    result = summary(spec)
    if result.errors:
        return list(result.errors)
    return task.output_problems(result.output_shape, card)


def check_fit(spec: NetworkSpec | dict | str, card: DatasetCard, task: Task | None = None) -> list[str]:
    """Every message about fitting ``spec`` to ``card``'s data: what is adapted automatically (``input_notes``),
    then what must be fixed (``fit_problems``)."""
    spec = parse_spec(spec)
    return [*input_notes(spec, card), *fit_problems(spec, card, task)]


def fit_output(spec: NetworkSpec | dict | str, card: DatasetCard, task: Task | None = None) -> NetworkSpec:
    """The one-click fix: ``spec`` with the output ``task`` needs for ``card``'s data (classification: one score
    per class, ``engine.training.tasks.classify.fit_head``). ``ValueError`` when the network is invalid."""
    return task_for(card, task).fit_output(parse_spec(spec), card)
