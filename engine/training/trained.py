"""A stored run as typed values, for the pages and the CLI: its settings, task, normalisation and classes, the data it
trained on (loaded again by name and seed), and its model ready to predict (``load_trained``), for a run of any task.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from engine.data import LoadedData, Normalization, availability, dataset_card, dataset_names, load_dataset, reload
from engine.nets.build import Network
from engine.nets.spec import Shape
from engine.training.config import TrainConfig
from engine.training.evaluate import predict
from engine.training.limits import check_epochs
from engine.training.runs import Run, RunStore
from engine.training.tasks import Task

DataLoaderFn = Callable[[str, int, int | None], LoadedData]  # (name, seed, max_train) -> the named set


def run_config(run: Run) -> TrainConfig:
    """The settings the run trained with (its task included)."""
    return TrainConfig.from_dict(run.config["train"])


def resume_settings(run: Run, epochs: int, device: str) -> TrainConfig:
    """The run's settings with another number of epochs and device: what resuming it trains with. ``ValueError`` when
    training on until epoch ``epochs`` is more than the server allows per job (``engine.training.limits``)."""
    check_epochs(epochs, done=len(run.history))
    return dataclasses.replace(run_config(run), epochs=epochs, device=device)


def run_stats(run: Run) -> Normalization | None:
    """The statistics the run's inputs were normalised with."""
    return Normalization.coerce(run.config.get("stats"))


def run_classes(run: Run) -> tuple[str, ...]:
    """The names the run's output refers to (its data's classes)."""
    return tuple(run.config.get("dataset", {}).get("classes", ()))


def run_input_shape(run: Run) -> Shape:
    return tuple(run.config.get("input_shape") or run.spec.input)


def _load_named(name: str, seed: int, max_train: int | None) -> LoadedData:
    return load_dataset(name, seed=seed, max_train=max_train)


def run_data(run: Run, current: LoadedData | None = None, load: DataLoaderFn = _load_named
             ) -> tuple[LoadedData | None, str]:
    """The data a stored run trained on, with its split: a named set is loaded again (by ``load``: a page passes
    its cached loader) by its name, the run's seed and training size; the user's own images only when they are the
    ones loaded now (``current``: same name, classes and sizes). ``(data, "")`` or ``(None, why not)``."""
    ds = run.config["dataset"]
    name, seed = ds["name"], int(run.config["train"]["seed"])
    origin = _derived_origin(run)
    if origin is not None:
        return _load_derived(origin, ds)
    if name in dataset_names():
        ok, why = availability(name)
        if not ok:
            return None, why
        full = dataset_card(name).train_size
        try:
            return load(name, seed, ds["train_size"] if ds["train_size"] < full else None), ""
        except ValueError as e:
            return None, str(e)
    if current is not None and current.card.name == name and list(current.card.classes) == list(ds["classes"]) \
            and (len(current.train), len(current.val)) == (ds["train_size"], ds["val_size"]):
        return current, ""
    return None, (f"This run trained on {ds['title']}, which is not loaded now: choose the same images above (with "
                  f"seed {seed} in the sidebar) to evaluate or resume it.")


def _derived_origin(run: Run) -> dict | None:
    """How a run's set derived from a named one (the triplet lab's identities) is loaded again: the origin its record
    keeps, or for a run recorded before records kept it, the base set and held-out classes its name and task say
    (with every training image: ``_load_derived`` checks the size). None for any other set."""
    ds = run.config["dataset"]
    if isinstance(ds.get("origin"), dict) and ds["origin"].get("derived"):
        return ds["origin"]
    base = ds["name"].removesuffix("_identities")
    if base == ds["name"] or base not in dataset_names():
        return None
    try:
        held_out = list(run.task.held_out)
    except (ValueError, AttributeError):  # a task this engine does not know, or one without held-out identities
        return None
    return {"name": ds["name"], "derived": "identities", "base": base, "held_out": held_out,
            "seed": int(run.config["train"]["seed"]), "max_train": None}


def _load_derived(origin: dict, ds: dict) -> tuple[LoadedData | None, str]:
    base = origin.get("base")
    if base not in dataset_names():
        return None, f"This run trained on {ds['title']}, derived from a data set this server does not have ({base!r})."
    ok, why = availability(base)
    if not ok:
        return None, why
    try:
        data = reload(origin)
    except ValueError as e:
        return None, str(e)
    if (len(data.train), len(data.val)) != (ds["train_size"], ds["val_size"]):
        return None, (f"This run trained on {ds['title']} with {ds['train_size']} training images; loaded again it "
                      f"has {len(data.train)}, so it cannot be resumed or evaluated on the same data.")
    return data, ""


@dataclass(frozen=True)
class TrainedModel:
    """A run's network with its last weights (eval mode), and what it takes to use it: its task, the normalisation
    of its inputs, its input shape, the names its outputs refer to, its data set's name and seed."""

    run_id: str
    name: str
    task: Task
    model: Network
    stats: Normalization | None
    input_shape: Shape
    classes: tuple[str, ...]
    dataset: str | None
    seed: int
    epochs: int

    def predict(self, x: torch.Tensor, k: int = 5) -> Any:
        """The task's decoded prediction for ``uint8`` image(s) ``(C, H, W)`` or ``(B, C, H, W)`` of any size (top-k
        classes for classification: ``TopK``)."""
        return predict(self.model, x, self.stats, self.input_shape, k=k, task=self.task)


def load_trained(store: RunStore, run_id: str, device: torch.device | str = "cpu") -> TrainedModel:
    """Run ``run_id`` ready to predict (``RunError`` for an unknown run or one without a checkpoint)."""
    run = store.get(run_id)
    return TrainedModel(
        run_id=run.info.id, name=run.info.name, task=run.task, model=store.load_model(run_id, device),
        stats=run_stats(run), input_shape=run_input_shape(run), classes=run_classes(run),
        dataset=run.config.get("dataset", {}).get("name"), seed=int(run.config.get("train", {}).get("seed", 0)),
        epochs=run.info.epochs)
