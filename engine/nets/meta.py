"""The meta-device trace: each layer's module, as ``build`` makes it, run by PyTorch on the ``meta`` device (shapes
only: no memory, no arithmetic). It is the tests' cross-check of the arithmetic trace (``engine.nets.analysis``):
what PyTorch accepts, the shapes it gives and the parameters the modules hold (tests/engine/nets/test_contract.py).

Nothing here decides what is valid for the app: the arithmetic trace does, and it refuses more — specs whose
backward pass would fail or corrupt memory (which a forward on ``meta`` cannot see), and the spec format's own rules
(docs/layer-kinds.md, "Valid means trainable").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace

import torch
from torch import nn

from engine.nets.kinds import LayerSpec, Path, Shape
from engine.nets.spec import NetworkSpec, parse_spec

BATCH = 2  # batch norm in training mode refuses a batch of one sample whose maps are 1×1; a real batch would not


@dataclass
class MetaNode:
    """What PyTorch did with one layer: ``status`` "ok", "error" (it raised, or an output was empty) or
    "unreached"; the output shape and the module's parameters when ok."""

    path: Path
    layer: LayerSpec
    status: str
    in_shape: Shape | None = None
    out_shape: Shape | None = None
    params: int = 0
    module: nn.Module | None = None
    message: str = ""
    children: dict[str, list[MetaNode]] = field(default_factory=dict)

    def flat(self) -> list[MetaNode]:
        out = [self]
        for seq in self.children.values():
            for child in seq:
                out += child.flat()
        return out


def meta_trace(spec: NetworkSpec | dict | str, device: str = "meta") -> list[MetaNode]:
    """Every layer of ``spec`` built and run on ``meta`` tensors of shape ``(2, *shape)`` — or on ``device``'s real
    (uninitialised) tensors, which gives real modules (a test's way to build what the engine refuses)."""
    spec = parse_spec(spec)
    nodes, _ = _seq(spec.layers, tuple(spec.input), (), torch.device(device))
    return nodes


def _seq(layers: Sequence[LayerSpec], shape: Shape | None, prefix: Path,
         device: torch.device) -> tuple[list[MetaNode], Shape | None]:
    nodes = []
    for i, layer in enumerate(layers):
        path = (*prefix, i)
        node = _unreached(layer, path) if shape is None else _layer(layer, shape, path, device)
        nodes.append(node)
        shape = node.out_shape if node.status == "ok" else None
    return nodes, shape


def _unreached(layer: LayerSpec, path: Path) -> MetaNode:
    node = MetaNode(path, layer, "unreached")
    for name, steps, seq in layer.sequences():
        node.children[name] = [_unreached(child, (*path, *steps, j)) for j, child in enumerate(seq)]
    return node


def _layer(layer: LayerSpec, in_shape: Shape, path: Path, device: torch.device) -> MetaNode:
    node = MetaNode(path, layer, "error", in_shape)
    ends = []
    for name, steps, seq in layer.sequences():
        node.children[name], end = _seq(seq, in_shape, (*path, *steps), device)
        ends.append(end)
    try:
        with device:
            if layer.sequences():
                if any(end is None for end in ends):
                    return node
                inner = [[c.module for c in seq] for seq in node.children.values()]
                # the shapes a composite's module is made for: its input's and its (first) path's end
                made_for = SimpleNamespace(in_shape=in_shape, out_shape=ends[0])
                module = layer.module(made_for, inner)  # type: ignore[arg-type]
            else:
                module = layer.build(in_shape)
            with torch.no_grad():  # evaluation mode: batch norm's momentum=None reads a counter, which meta cannot
                y = module.eval()(torch.randn((BATCH, *in_shape)))
    except Exception as e:  # noqa: BLE001 - whatever PyTorch raises, it refused the layer
        node.message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return node
    if y.dim() < 1 or y.shape[0] != BATCH or any(d < 1 for d in y.shape[1:]):
        node.message = f"output {tuple(y.shape)}"
        return node
    node.status, node.out_shape, node.module = "ok", tuple(int(d) for d in y.shape[1:]), module
    node.params = sum(p.numel() for p in module.parameters())
    return node
