"""Where a fit starts: the network (built from a spec and the seed, the caller's, or a stored run's), weights copied
from elsewhere (``init_from``), which parameters are frozen, and training mode that leaves frozen batch norms alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from torch import nn

from engine.nets.build import Network, build
from engine.nets.spec import NetworkSpec, parse_spec
from engine.training.runs import RunStore, load_state_dict


def as_model(model_or_spec: Any, seed: int) -> Network:
    """A ``Network`` as given, or built from a spec with its initial weights drawn from ``seed`` (a private
    generator: ``engine.nets.build.build(spec, seed=...)``)."""
    if isinstance(model_or_spec, Network):
        return model_or_spec
    if isinstance(model_or_spec, nn.Module):
        raise ValueError(f"fit trains an engine.nets.build.Network (build(spec) returns one), got a "
                         f"{type(model_or_spec).__name__}")
    if model_or_spec is None:
        raise ValueError("give a network or a spec to train (None is only for resuming a run)")
    return build(parse_spec(model_or_spec), seed=seed)


def resume_model(model_or_spec: Any, spec: NetworkSpec, run_id: str) -> Network:
    """The network to resume run ``run_id`` with: the run's own (None), or the caller's if it is the same spec.
    Its weights come from the checkpoint afterwards."""
    if model_or_spec is None:
        return build(spec, seed=0)
    model = as_model(model_or_spec, seed=0)
    if model.spec != spec:
        raise ValueError(f"the network given is not run {run_id!r}'s (its spec differs); pass None to resume with "
                         f"the run's own")
    return model


def init_weights(model: Network, source: Any, store: RunStore | None) -> str:
    """Copy the tensors of ``source`` (a run id in ``store``, a weights file, or a state dict) whose names and
    shapes match into ``model``; a note saying what was kept."""
    if isinstance(source, Mapping):
        state, where = dict(source), "the given weights"
    elif isinstance(source, str) and store is not None and not Path(source).suffix:
        state, where = store.load_checkpoint(source).model, f"run {source!r}"
    else:
        state, where = load_state_dict(source), str(source)
    own = model.state_dict()
    matched = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not matched:
        raise ValueError(f"none of the tensors of {where} fit this network (names or shapes differ)")
    model.load_state_dict(matched, strict=False)
    fresh = [k for k in own if k not in matched]
    kept = f"; fresh: {', '.join(fresh[:6])}{' …' if len(fresh) > 6 else ''}" if fresh else ""
    return f"weights: {len(matched)} of {len(own)} tensors from {where}{kept}"


def describe_source(source: Any) -> str | None:
    """``init_from`` as a run's config records it."""
    if source is None or isinstance(source, str | Path):
        return None if source is None else str(source)
    return "a state dict"


def freeze_names(model: nn.Module, names: Sequence[str]) -> None:
    """Freeze exactly the parameters named (a checkpoint's ``frozen`` list); unfreeze the rest."""
    frozen = set(names)
    for n, p in model.named_parameters():
        p.requires_grad_(n not in frozen)


def train_mode(model: nn.Module) -> None:
    """Training mode, except batch norms whose parameters are all frozen: they keep their running statistics
    (transfer learning freezes a backbone's batch norm too)."""
    model.train()
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            params = list(m.parameters(recurse=False))
            if params and not any(p.requires_grad for p in params):
                m.eval()
