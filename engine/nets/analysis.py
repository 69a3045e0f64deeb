"""A spec traced layer by layer with shape arithmetic: no tensors, no modules (docs/layer-kinds.md).

``trace`` asks each layer's kind what is wrong with it for the shape that reaches it, what shape comes out, how many
parameters and multiply-accumulates it has and how it changes the receptive field; composites trace their nested
sequences first and then join them. It also follows what the backward pass will need, so that a spec it accepts
trains (forward and backward): an in-place layer may not overwrite a tensor that an earlier layer's backward reads,
and a layer whose backward cannot run is refused on its row, before anything is built or run.

A layer that is invalid carries its messages; the layers before it keep their results; the ones after it are marked
as not reached. ``engine.nets.build``, ``summary`` and ``codegen`` all read this trace. The meta-device trace that
runs PyTorch itself (``engine.nets.meta``) is the tests' cross-check of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from engine.nets.kinds import LayerSpec, Path, Shape
from engine.nets.kinds.base import CANNOT_TRAIN
from engine.nets.kinds.common import MAX_INT, prod
from engine.nets.limits import value_errors
from engine.nets.receptive import Field
from engine.nets.spec import NetworkSpec, parse_spec

NOT_REACHED = "not reached: an earlier layer is invalid"
MAX_ELEMENTS = MAX_INT  # values in one layer's weights, or in one sample's output: more is not built here


def path_index(path: Path) -> str:
    """Human position of a layer path: "4" top level, "4.2" the 2nd layer of a residual body, "7.b3.1" the first
    layer of an inception block's 3rd branch (1-based, as the messages and the summary name layers)."""
    parts: list[str] = []
    i = 0
    while i < len(path):
        if path[i] == "body":
            i += 1
        elif path[i] == "branches":
            parts.append(f"b{path[i + 1] + 1}")
            i += 2
        else:
            parts.append(str(path[i] + 1))
            i += 1
    return ".".join(parts)


@dataclass(slots=True)
class Node:
    """One traced layer: where it is, what goes in and out, what is wrong, what it costs and what it sees."""

    path: Path
    layer: LayerSpec
    in_shape: Shape | None
    out_shape: Shape | None = None
    index: str = ""  # human position, path_index(path): "4.2", "7.b3.1"
    errors: list[str] = field(default_factory=list)
    children: dict[str, list[Node]] = field(default_factory=dict)
    params: int = 0  # learnable parameters, nested layers included
    macs: int = 0  # multiply-accumulates for one sample, nested layers and shortcuts included
    field: Field | None = None  # the receptive field of its outputs

    def __post_init__(self) -> None:
        self.index = self.index or path_index(self.path)

    @property
    def name(self) -> str:
        return f"{self.layer.kind} #{self.index}"

    @property
    def ok(self) -> bool:
        return self.out_shape is not None and not self.errors

    def flat(self) -> list[Node]:
        """This node and all nested nodes, depth first."""
        out = [self]
        for seq in self.children.values():
            for child in seq:
                out += child.flat()
        return out


@dataclass(frozen=True, slots=True)
class _Flow:
    """What autograd knows about the tensor flowing between two layers during training."""

    requires_grad: bool  # some layer before it has parameters
    needed_by: str | None = None  # the layer whose backward reads this very tensor (so nothing may overwrite it)


def trace(spec: NetworkSpec | dict | str) -> list[Node]:
    """Trace a spec with shape arithmetic; never raises for an invalid layer (see ``Node.errors``). The network's
    input does not require gradients, as in training."""
    spec = parse_spec(spec)
    nodes, _, _, _ = _trace_seq(spec.layers, tuple(spec.input), (), "", _Flow(False), Field())
    return nodes


def errors(spec: NetworkSpec | dict | str) -> list[str]:
    """Every problem in the spec, one message per layer that causes it ("conv2d #3: ...")."""
    return [f"{n.name}: {msg}" for top in trace(spec) for n in top.flat() for msg in n.errors if msg != NOT_REACHED]


def _trace_seq(layers: Sequence[LayerSpec], shape: Shape | None, prefix: Path, prefix_index: str, flow: _Flow,
               rf: Field) -> tuple[list[Node], Shape | None, _Flow, Field]:
    nodes = []
    for i, layer in enumerate(layers):
        path = (*prefix, i)
        if shape is None:
            nodes.append(_unreached(layer, path))
            continue
        node, flow = _trace_layer(layer, shape, path, f"{prefix_index}.{i + 1}" if prefix_index else str(i + 1), flow,
                                  rf)
        nodes.append(node)
        shape = node.out_shape if node.ok else None
        rf = node.field or rf
    return nodes, shape, flow, rf


def _unreached(layer: LayerSpec, path: Path) -> Node:
    node = Node(path, layer, None, errors=[NOT_REACHED])
    _mark_unreached(node)
    return node


def _mark_unreached(node: Node) -> None:
    for name, steps, seq in node.layer.sequences():
        node.children[name] = [_unreached(child, (*node.path, *steps, j)) for j, child in enumerate(seq)]


def _trace_layer(layer: LayerSpec, in_shape: Shape, path: Path, index: str, flow: _Flow,
                 rf: Field) -> tuple[Node, _Flow]:
    node = Node(path, layer, in_shape, index=index, errors=value_errors(layer) or layer.check(in_shape))
    if node.errors:
        _mark_unreached(node)
        return node, flow
    sequences = layer.sequences()
    if sequences:
        out, fields = _trace_composite(node, sequences, flow, rf)
        if out is None:
            node.params = node.macs = 0  # an invalid layer costs nothing: it is not built
            return node, flow
    else:  # a leaf, the common case: straight to its kind's arithmetic
        out, fields = layer.output_shape(in_shape), []
    own = layer.params(in_shape, out)
    if own > MAX_ELEMENTS or prod(out) > MAX_ELEMENTS:
        node.errors += _size_errors(own, out)
    if flow.requires_grad:
        node.errors += layer.backward_errors()
        if flow.needed_by and layer.writes_input():
            node.errors.append(f"{CANNOT_TRAIN}it works in place, but {flow.needed_by} before it needs its own "
                               f"output for the backward pass, which this would overwrite; turn inplace off")
    if node.errors:
        node.params = node.macs = 0
        return node, flow
    node.out_shape = out
    node.params += own
    node.macs += layer.macs(in_shape, out)
    node.field = layer.receptive_field(rf, node, fields) if len(out) == 3 and len(in_shape) == 3 else None
    return node, _next_flow(node, flow)


def _trace_composite(node: Node, sequences: tuple, flow: _Flow, rf: Field) -> tuple[Shape | None, list[Field]]:
    """Trace a composite's nested sequences into ``node.children`` (their parameters and MACs into the node's) and
    join their ends: the block's output shape, or None with the reason in ``node.errors``."""
    ends, fields = [], []
    for name, steps, seq in sequences:
        # a nested sequence starts on the block's input, or on a copy of it when it overwrites anything in place
        # (engine.nets.kinds.composites): either way no layer in it can overwrite what came before the block
        inner_index = node.index + path_index((0, *steps, 0))[1:-2]  # "" for a body, ".b3" for a third branch
        nodes, end, _, end_rf = _trace_seq(seq, node.in_shape, (*node.path, *steps), inner_index,
                                           _Flow(flow.requires_grad), rf)
        node.children[name] = nodes
        ends.append(end)
        fields.append(end_rf)
        node.params += sum(c.params for c in nodes)
        node.macs += sum(c.macs for c in nodes)
    bad = [name for name, end in zip(node.children, ends, strict=True) if end is None]
    if bad:
        node.errors.append(f"its {bad[0]} has an invalid layer (marked below)")
        return None, fields
    out, join_errors = node.layer.join(node.in_shape, ends)
    node.errors += join_errors
    return (None if join_errors else out), fields


def _size_errors(params: int, out: Shape) -> list[str]:
    if params > MAX_ELEMENTS:
        return [f"its weights would hold {params:,} values, more than {MAX_ELEMENTS:,}: too large to build and train "
                f"here"]
    if prod(out) > MAX_ELEMENTS:
        return [f"its output would hold {prod(out):,} values per sample, more than {MAX_ELEMENTS:,}: too large to "
                f"build and train here"]
    return []


def _next_flow(node: Node, flow: _Flow) -> _Flow:
    layer = node.layer
    requires_grad = flow.requires_grad or node.params > 0
    if node.children:  # a block's output is a new tensor (a sum, a concatenation)
        return _Flow(requires_grad)
    if layer.saves_output() and requires_grad:
        return _Flow(requires_grad, node.name)
    if layer.writes_input() or layer.aliases_input():  # the same tensor flows on
        return _Flow(requires_grad, flow.needed_by)
    return _Flow(requires_grad)
