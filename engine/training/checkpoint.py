"""What a checkpoint holds besides the weights, so that a stopped run resumes exactly: where the run is in its epoch
(``Progress``), the optimizer, schedule and gradient scaler, the job's own random generators (``Generators``), the
task's metrics half-way through the epoch, and the callbacks' states.

Randomness per job (docs/architecture.md, "Randomness"): a fit never reads, seeds, saves or restores torch's global
generator, which every thread of a server shares. Its initial weights come from ``build(spec, seed=...)``; data order
and augmentation from the loader's generators, seeded by (seed, epoch) — a resumed epoch replays its order and skips
the batches it trained; dropout from ``Generators.dropout``, a generator on the training device whose state the
checkpoint stores. Resumed on another kind of device, the dropout generator cannot continue (its state is
device-specific): it is seeded again from (seed, epoch, batch), and the run's notes say so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from engine.training.events import Callback
from engine.training.tasks import Meter


@dataclass
class Progress:
    """Where the run is: epochs finished, batches done in the current one and their running sums (the loss summed
    per image, images seen, seconds waiting for data and training), the epoch's starting learning rate."""

    epoch: int = 0
    batch: int = 0
    loss_sum: float = 0.0
    seen: int = 0
    wait: float = 0.0
    seconds: float = 0.0
    lr: float | None = None

    def next_epoch(self) -> None:
        """Count the current epoch as finished and zero the per-epoch sums."""
        self.epoch, self.batch, self.lr = self.epoch + 1, 0, None
        self.loss_sum, self.seen, self.wait, self.seconds = 0.0, 0, 0.0, 0.0


class Generators:
    """A fit's own random generators. ``dropout`` lives on the training device (None where that device has no
    generators: dropout then draws from torch's default one, and the notes say so)."""

    def __init__(self, seed: int, device: torch.device) -> None:
        self.seed, self.device = seed, device
        self.notes: list[str] = []
        self.dropout = self._make(_mix(seed, 0xD0))

    def _make(self, seed: int) -> torch.Generator | None:
        try:
            return torch.Generator(device=self.device).manual_seed(seed)
        except RuntimeError:
            self.notes.append(f"dropout: {self.device.type} has no private random generators; dropout masks come "
                              f"from torch's default one, so they are not reproducible while other jobs run")
            return None

    def state_dict(self) -> dict[str, Any]:
        if self.dropout is None:
            return {}
        return {"dropout": {"device": self.device.type, "state": self.dropout.get_state()}}

    def load_state_dict(self, state: Mapping[str, Any], epoch: int, batch: int) -> None:
        """Continue from ``state``; on another kind of device, seed again from (seed, epoch, batch), with a note."""
        saved = state.get("dropout")
        if self.dropout is None or saved is None:
            return
        if saved["device"] == self.device.type:
            self.dropout.set_state(saved["state"])
            return
        self.dropout.manual_seed(_mix(self.seed, 0xD0, epoch, batch))
        self.notes.append(f"dropout: the run stopped on {saved['device']} and resumes on {self.device.type}, whose "
                          f"generators differ; its dropout masks from here on are new ones (seeded from the run's "
                          f"seed and position)")


def _mix(*values: int) -> int:
    """One 63-bit seed from several integers (deterministic, not Python's salted ``hash``)."""
    out = 0x9E3779B97F4A7C15
    for v in values:
        out = (out ^ (int(v) & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        out ^= out >> 31
    return out & 0x7FFFFFFFFFFFFFFF


def state_of(*, optimizer: torch.optim.Optimizer, scheduler: Any, scaler: Any, generators: Generators,
             progress: Progress, meter: Meter, callbacks: Sequence[Callback], model: torch.nn.Module) -> dict[str, Any]:
    """Everything but the weights, as ``RunStore.save_checkpoint`` stores it."""
    return {
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "scaler": scaler.state_dict() if scaler is not None else None,
        "generators": generators.state_dict(),
        "progress": dataclasses.asdict(progress),
        "meter": meter.state_dict(),
        "callbacks": callback_states(callbacks),
        "frozen": [n for n, p in model.named_parameters() if not p.requires_grad],
    }


def restore(state: Mapping[str, Any], *, optimizer: torch.optim.Optimizer, scheduler: Any, scaler: Any,
            generators: Generators, meter: Meter) -> Progress:
    """Put ``state`` (``state_of``'s) back into the fit's parts; returns where the run was."""
    optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state.get("scheduler") is not None:
        scheduler.load_state_dict(state["scheduler"])
    if scaler is not None and state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    progress = Progress(**state["progress"])
    generators.load_state_dict(state.get("generators") or {}, progress.epoch, progress.batch)
    if state.get("meter"):
        meter.load_state_dict(state["meter"])
    return progress


def callback_states(callbacks: Sequence[Callback]) -> dict[str, Any]:
    """The non-empty states of ``callbacks``, by ``state_key``; ``ValueError`` when two share a key."""
    out: dict[str, Any] = {}
    for cb in callbacks:
        state = cb.state_dict()
        if not state:
            continue
        if cb.state_key in out:
            raise ValueError(f"two callbacks keep state under the key {cb.state_key!r}; give one another state_key")
        out[cb.state_key] = state
    return out


def load_callback_states(callbacks: Sequence[Callback], states: Mapping[str, Any]) -> None:
    """Give each callback the state saved under its key (callbacks without one start fresh)."""
    for cb in callbacks:
        if cb.state_key in states:
            cb.load_state_dict(states[cb.state_key])
