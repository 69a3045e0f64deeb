"""Per-layer summary of a spec: output shape, parameters, MACs, activation memory, receptive field, formulas.

Everything is shape arithmetic (``engine.nets.analysis.trace``): each layer's kind computes its output shape,
parameters and multiply-accumulates (batch of one) by PyTorch's rules, with no tensors and no modules, which is why
summarising ResNet-50 takes a few milliseconds (``bench/bench_summary.py``). The meta-device trace that runs PyTorch
(``engine.nets.meta``) and a real forward pass are the tests' cross-checks (tests/engine/nets/test_contract.py).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from engine.nets.analysis import NOT_REACHED, Node, trace
from engine.nets.limits import LimitError, check_cost, check_spec
from engine.nets.spec import NetworkSpec, Shape, parse_spec
from engine.units import format_shape

BYTES_PER_VALUE = 4  # float32 activations
FIELD_VARIES = ("outputs see fields of different sizes here (paths on different grids, or adaptive pooling that does "
                "not divide): the centre output's is shown")


@dataclass(slots=True)  # read-only by convention: not frozen, which would make ResNet-50's summary 15 % slower
class Row:
    """One layer of the summary. ``depth`` 0 is a top-level layer; nested layers of composites follow their parent."""

    index: str
    name: str
    kind: str
    depth: int
    in_shape: Shape | None
    out_shape: Shape | None
    params: int  # trainable parameters
    frozen_params: int  # parameters with requires_grad False (none in a fresh build)
    macs: int  # multiply-accumulates for one sample
    memory: int  # bytes of the output activation for one sample (float32)
    receptive_field: tuple[int, int] | None  # (height, width) in input pixels that the centre output value sees
    formulas: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    composite: bool = False
    family: str = ""  # the kind's family (engine.nets.kinds.base.FAMILIES): its colour in the drawing
    elementwise: bool = False  # keeps its input's shape whatever its arguments
    notes: tuple[str, ...] = ()  # what to know about this row's numbers (a receptive field that varies)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def shape_text(self) -> str:
        return format_shape(self.out_shape) if self.out_shape else "—"


@dataclass(frozen=True)
class Summary:
    spec: NetworkSpec
    rows: tuple[Row, ...]
    total_params: int
    trainable_params: int
    total_macs: int
    activation_memory: int  # bytes, one sample, the outputs of every leaf layer (what backward keeps, roughly)
    param_memory: int  # bytes of float32 parameters
    output_shape: Shape | None
    errors: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        rows = []
        for r in self.rows:
            d = asdict(r)
            d["in_shape"] = list(r.in_shape) if r.in_shape else None
            d["out_shape"] = list(r.out_shape) if r.out_shape else None
            d["receptive_field"] = list(r.receptive_field) if r.receptive_field else None
            d["formulas"], d["errors"], d["notes"] = list(r.formulas), list(r.errors), list(r.notes)
            rows.append(d)
        return {
            "input": list(self.spec.input),
            "output_shape": list(self.output_shape) if self.output_shape else None,
            "rows": rows,
            "totals": {
                "params": self.total_params,
                "trainable_params": self.trainable_params,
                "macs": self.total_macs,
                "activation_memory_bytes": self.activation_memory,
                "param_memory_bytes": self.param_memory,
            },
            "errors": list(self.errors),
        }


def summary(spec: NetworkSpec | dict | str) -> Summary:
    """Summarise ``spec`` layer by layer. Never raises for an invalid layer: it is reported on its row."""
    spec = parse_spec(spec)
    try:
        check_spec(spec)  # over the server's limits: not even traced (docs/layer-kinds.md, "Limits")
    except LimitError as e:
        return Summary(spec, (), 0, 0, 0, 0, 0, None, errors=(str(e),))
    rows: list[Row] = []
    for node in trace(spec):
        _rows(node, 0, rows)
    top = [r for r in rows if r.depth == 0]
    total = sum(r.params + r.frozen_params for r in top)
    errors = tuple(f"{r.name}: {e}" for r in rows for e in r.errors if e != NOT_REACHED)
    try:
        check_cost(total, sum(r.memory for r in rows if not r.composite))
    except LimitError as e:
        errors = (*errors, str(e))
    last = top[-1].out_shape if top else tuple(spec.input)
    return Summary(
        spec=spec,
        rows=tuple(rows),
        total_params=total,
        trainable_params=sum(r.params for r in top),
        total_macs=sum(r.macs for r in top),
        activation_memory=sum(r.memory for r in rows if not r.composite),
        param_memory=total * BYTES_PER_VALUE,
        output_shape=None if errors else last,
        errors=errors,
    )


def _rows(node: Node, depth: int, rows: list[Row]) -> None:
    """Append the row of ``node``, then its children's."""
    layer, out = node.layer, node.out_shape
    reached = node.ok
    field_size = node.field.size(out[1], out[2]) if reached and node.field is not None else None
    notes = (FIELD_VARIES,) if field_size is not None and node.field.varies else ()
    rows.append(Row(
        index=node.index,
        name=node.name,
        kind=layer.kind,
        depth=depth,
        in_shape=node.in_shape,
        out_shape=out,
        params=node.params,
        frozen_params=0,
        macs=node.macs,
        memory=math.prod(out) * BYTES_PER_VALUE if reached else 0,
        receptive_field=field_size,
        formulas=tuple(layer.formulas(node)) if reached else (),
        errors=tuple(node.errors),
        composite=bool(node.children),
        family=layer.family,
        elementwise=layer.elementwise,
        notes=notes,
    ))
    for seq in node.children.values():
        for child in seq:
            _rows(child, depth + 1, rows)


def formulas(node: Node) -> list[str]:
    """Human formulas for a traced, valid node (its kind's): output size and cost, the user's numbers substituted."""
    return node.layer.formulas(node)
