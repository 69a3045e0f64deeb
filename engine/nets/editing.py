"""Editing a spec by layer path: the builder's structural edits as engine functions (specs are values: every edit
returns a new spec).

A path addresses a layer: ``(3,)`` is the 4th top-level layer; ``(3, "body", 1)`` the 2nd layer of its body;
``(5, "branches", 2, 0)`` the first layer of the 3rd branch of an inception block — a composite's kind names the steps
into each of its sequences (``LayerSpec.sequences``). The structural edits (``move``, ``duplicate``, ``remove``,
``insert``, ``append``, ``add_into``, ``add_sequence``, ``remove_sequence``) return an ``Edit``: the new spec and the
path the builder should select next.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from engine.nets.kinds import LayerSpec, Path
from engine.nets.kinds.common import is_int
from engine.nets.spec import NetworkSpec, default_layer

Layers = tuple[LayerSpec, ...]


def _same_steps(a: tuple, b: tuple) -> bool:
    """Equal step by step and of the same types: ``("branches", 0.0)`` does not address branch 0."""
    return len(a) == len(b) and all(type(x) is type(y) and x == y for x, y in zip(a, b, strict=True))


def _index(seq: tuple, i: Any, path: Path) -> int:
    """``i`` if it is a position in ``seq``, else ``ValueError``."""
    if not is_int(i) or not 0 <= i < len(seq):
        raise ValueError(f"path {path!r} does not address a layer: position {i!r} is outside a sequence of "
                         f"{len(seq)}")
    return i


def _container(layers: Layers, path: Path, full: Path | None = None) -> tuple[Layers, Callable[[Layers], Layers]]:
    """The sequence holding the layer at ``path`` and a function that rebuilds everything above from a new sequence.

    Raises ``ValueError`` naming the path when it does not lead into an existing sequence (indices must be
    non-negative: a negative one would silently address the wrong layer when splicing).
    """
    full = path if full is None else full
    if not path or not is_int(path[-1]):
        raise ValueError(f"path {full!r} does not address a layer: it must end with a layer index")
    if len(path) == 1:
        return layers, lambda new: new
    head = _index(layers, path[0], full)
    parent, rest = layers[head], path[1:]
    sequences = [seq for _, _, seq in parent.sequences()]
    for s, (_, steps, seq) in enumerate(parent.sequences()):
        if len(rest) > len(steps) and _same_steps(rest[: len(steps)], steps):
            inner, rebuild = _container(seq, rest[len(steps):], full)

            def put(new: Layers, s: int = s, rebuild: Callable = rebuild) -> Layers:
                seqs = list(sequences)
                seqs[s] = rebuild(new)
                return (*layers[:head], parent.with_sequences(tuple(seqs)), *layers[head + 1:])

            return inner, put
    raise ValueError(f"path {full!r} does not address a layer")


def get_layer(spec: NetworkSpec, path: Path) -> LayerSpec:
    """The layer at ``path``. Raises ``ValueError`` for a path that addresses none."""
    seq, _ = _container(spec.layers, path)
    return seq[_index(seq, path[-1], path)]


def replace_layer(spec: NetworkSpec, path: Path, layer: LayerSpec) -> NetworkSpec:
    """``spec`` with the layer at ``path`` replaced by ``layer``."""
    seq, rebuild = _container(spec.layers, path)
    i = _index(seq, path[-1], path)
    return replace(spec, layers=rebuild((*seq[:i], layer, *seq[i + 1:])))


def insert_layer(spec: NetworkSpec, path: Path, layer: LayerSpec) -> NetworkSpec:
    """Insert ``layer`` so that it ends up at ``path`` (the index may equal the sequence's length: append)."""
    seq, rebuild = _container(spec.layers, path)
    i = path[-1]
    if not is_int(i) or not 0 <= i <= len(seq):
        raise ValueError(f"cannot insert at position {i!r} of a sequence of {len(seq)} layers")
    return replace(spec, layers=rebuild((*seq[:i], layer, *seq[i:])))


def remove_layer(spec: NetworkSpec, path: Path) -> NetworkSpec:
    """``spec`` without the layer at ``path``."""
    seq, rebuild = _container(spec.layers, path)
    i = _index(seq, path[-1], path)
    return replace(spec, layers=rebuild((*seq[:i], *seq[i + 1:])))


def move_layer(spec: NetworkSpec, path: Path, delta: int) -> NetworkSpec:
    """Move a layer ``delta`` places within its own sequence (clamped at the ends)."""
    seq, rebuild = _container(spec.layers, path)
    i = _index(seq, path[-1], path)
    j = max(0, min(len(seq) - 1, i + delta))
    items = list(seq)
    items.insert(j, items.pop(i))
    return replace(spec, layers=rebuild(tuple(items)))


def duplicate_layer(spec: NetworkSpec, path: Path) -> NetworkSpec:
    """``spec`` with a copy of the layer at ``path`` inserted right after it."""
    layer = get_layer(spec, path)  # first: it checks the path
    return insert_layer(spec, (*path[:-1], path[-1] + 1), layer)


def siblings(spec: NetworkSpec, path: Path) -> Layers:
    """The sequence the layer at ``path`` is in."""
    return _container(spec.layers, path)[0]


def parent_path(spec: NetworkSpec, path: Path) -> Path | None:
    """The composite that holds the layer at ``path``; None for a top-level layer."""
    for k in range(len(path) - 1, 0, -1):
        if is_int(path[k - 1]):
            try:
                get_layer(spec, path[:k])
            except ValueError:
                continue
            return path[:k]
    return None


# ------------------------------------------------------------------------------------------------ the builder's edits


@dataclass(frozen=True)
class Edit:
    """The result of a structural edit: the new spec and the layer to select in it (None: nothing to select)."""

    spec: NetworkSpec
    selected: Path | None


def move(spec: NetworkSpec, path: Path, delta: int) -> Edit:
    """Move the layer ``delta`` places in its sequence; it stays selected."""
    n = len(siblings(spec, path))
    return Edit(move_layer(spec, path, delta), (*path[:-1], max(0, min(n - 1, path[-1] + delta))))


def duplicate(spec: NetworkSpec, path: Path) -> Edit:
    """Copy the layer right after itself; the copy is selected."""
    return Edit(duplicate_layer(spec, path), (*path[:-1], path[-1] + 1))


def remove(spec: NetworkSpec, path: Path) -> Edit:
    """Remove the layer; the one now in its place (or before it) is selected, else the block that held it."""
    new = remove_layer(spec, path)
    remaining = len(siblings(new, (*path[:-1], 0)))
    if remaining:
        return Edit(new, (*path[:-1], min(path[-1], remaining - 1)))
    return Edit(new, parent_path(spec, path))


def insert(spec: NetworkSpec, path: Path, kind: str, after: bool = False) -> Edit:
    """A new layer of ``kind`` (``default_layer``) before, or ``after``, the layer at ``path``; it is selected."""
    get_layer(spec, path)
    at = (*path[:-1], path[-1] + 1) if after else path
    return Edit(insert_layer(spec, at, default_layer(kind)), at)


def append(spec: NetworkSpec, kind: str) -> Edit:
    """A new layer of ``kind`` at the end of the network; it is selected."""
    at = (len(spec.layers),)
    return Edit(insert_layer(spec, at, default_layer(kind)), at)


def add_into(spec: NetworkSpec, path: Path, kind: str, sequence: int = 0) -> Edit:
    """A new layer of ``kind`` at the end of nested sequence ``sequence`` (a body, a branch) of the composite at
    ``path``; it is selected."""
    block = get_layer(spec, path)
    seqs = block.sequences()
    if not seqs:
        raise ValueError(f"a {block.kind} layer has no nested layers to add to")
    if not 0 <= sequence < len(seqs):
        raise ValueError(f"a {block.kind} layer has {len(seqs)} nested sequences; {sequence!r} is not one of them")
    _, steps, seq = seqs[sequence]
    at = (*path, *steps, len(seq))
    return Edit(insert_layer(spec, at, default_layer(kind)), at)


def add_sequence(spec: NetworkSpec, path: Path) -> Edit:
    """A new nested sequence (an inception block's branch) at the end of the composite at ``path``."""
    block = get_layer(spec, path)
    new = block.new_sequence()
    if new is None:
        raise ValueError(f"a {block.kind} layer has a fixed number of nested sequences")
    seqs = tuple(seq for _, _, seq in block.sequences())
    return Edit(replace_layer(spec, path, block.with_sequences((*seqs, new))), path)


def remove_sequence(spec: NetworkSpec, path: Path, sequence: int) -> Edit:
    """The composite at ``path`` without nested sequence ``sequence``; the last one is never removed."""
    block = get_layer(spec, path)
    seqs = [seq for _, _, seq in block.sequences()]
    if block.new_sequence() is None or len(seqs) < 2 or not 0 <= sequence < len(seqs):
        return Edit(spec, path)
    seqs.pop(sequence)
    return Edit(replace_layer(spec, path, block.with_sequences(tuple(seqs))), path)
