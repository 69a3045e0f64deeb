"""Limits on the networks a user can send (docs/layer-kinds.md, "Limits"): one check for the builder, the CLI, share
links and training, run before anything is built or allocated.

Two stages. ``check_data`` reads a spec's raw JSON value (a dict from a link, a file or the CLI) without recursion and
refuses it before any layer is parsed: too many layers (nested ones counted), nesting too deep, a number too large, an
input side too large. ``check_cost`` refuses a network whose summary (shape arithmetic, nothing allocated) needs too
many parameters or too much activation memory. Each message names the limit, its value and how far over the spec is.
Every limit can be changed through an environment variable (read on each check, so a test or a deployment can set it).
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass, fields
from typing import Any

from engine.nets.kinds import LayerSpec, SpecError

__all__ = ["LimitError", "Limits", "check_cost", "check_data", "check_spec", "limits", "value_errors"]


class LimitError(SpecError):
    """A spec over one of the server's limits."""


@dataclass(frozen=True)
class Limits:
    layers: int = 1000  # CNNPG_MAX_LAYERS: layers in all, nested ones counted
    depth: int = 32  # CNNPG_MAX_DEPTH: composite blocks nested in one another
    width: int = 65536  # CNNPG_MAX_WIDTH: any whole number in a layer (channels, features, kernel, stride, padding)
    input_side: int = 4096  # CNNPG_MAX_INPUT_SIDE: an input's height or width (its channels: at most ``width``)
    params: int = 200_000_000  # CNNPG_MAX_PARAMS
    activation_bytes: int = 4 << 30  # CNNPG_MAX_ACTIVATION_BYTES: float32 outputs of every layer for one image


_ENV = {"layers": "CNNPG_MAX_LAYERS", "depth": "CNNPG_MAX_DEPTH", "width": "CNNPG_MAX_WIDTH",
        "input_side": "CNNPG_MAX_INPUT_SIDE", "params": "CNNPG_MAX_PARAMS",
        "activation_bytes": "CNNPG_MAX_ACTIVATION_BYTES"}


def limits() -> Limits:
    """The limits in force: the defaults, each replaced by its environment variable when that is a positive integer."""
    return _limits(tuple(os.environ.get(var, "") for var in _ENV.values()))


@functools.lru_cache(maxsize=8)
def _limits(texts: tuple[str, ...]) -> Limits:
    values = {}
    for name, text in zip(_ENV, texts, strict=True):
        text = text.strip().replace("_", "")
        if text.isdigit() and int(text) > 0:
            values[name] = int(text)
    return Limits(**values)


def _over(what: str, value: int, limit: int, unit: str = "") -> LimitError:
    if value > 10 ** 300:  # past a float's range
        how = "far past the limit"
    else:
        times = value / limit
        how = f"{times:,.1f} times the limit" if times >= 2 else f"{value - limit:,}{unit} over"
    return LimitError(f"{what} is {_number(value)}{unit}; the limit is {limit:,}{unit} ({how})")


def _number(value: int) -> str:
    if abs(value) < 10 ** 30:
        return f"{value:,}"
    return f"a number of {math.floor(math.log10(abs(value))) + 1:,} digits"  # str() of a huge int is slow, capped


def check_data(data: Any) -> None:
    """Refuse a raw spec value (``{"input": [...], "layers": [...]}``) over the structural limits (layers, nesting,
    input size) before any layer is parsed.

    Walks the value with an explicit stack, so a spec nested thousands deep cannot exhaust Python's recursion.
    Anything this does not understand is left for the parser to report; a layer's own numbers are the trace's to
    judge (``value_errors``), because a spec may hold a layer that is invalid and the builder must say why.
    """
    if not isinstance(data, dict):
        return
    lim = limits()
    shape = data.get("input")
    if isinstance(shape, list):
        for i, v in enumerate(shape):
            if isinstance(v, int) and not isinstance(v, bool):
                side = lim.width if i == 0 else lim.input_side
                label = "the input's " + (("channels", "height", "width")[i] if i < 3 else "size")
                if v > side:
                    raise _over(label, v, side)
    layers = data.get("layers")
    if not isinstance(layers, list):
        return
    count = 0
    stack: list[tuple[Any, int]] = [(v, 0) for v in layers]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            count += 1
            if count > lim.layers:
                raise _over("the number of layers (nested ones counted)", _count_layers(layers), lim.layers)
            for arg in value.values():
                if isinstance(arg, list) and any(isinstance(x, dict | list) for x in arg):
                    if depth + 1 > lim.depth:
                        raise _over("the nesting of composite blocks", _deepest(layers), lim.depth, " levels")
                    stack.extend((x, depth + 1) for x in arg)
        elif isinstance(value, list):  # a branch of a block with several (a list of layer lists)
            stack.extend((x, depth) for x in value)


def value_errors(layer: Any) -> list[str]:
    """What is over the limits among a layer's own numbers (not its nested layers): whole numbers past ``width``,
    real ones past 2^53. Checked before the layer's kind reads them, so no kind ever computes with such a number."""
    lim = limits()
    out = []
    for f in fields(layer):
        value = getattr(layer, f.name)
        for v in value if isinstance(value, tuple) else (value,):
            if isinstance(v, LayerSpec | tuple):
                continue
            if isinstance(v, int) and not isinstance(v, bool) and abs(v) > lim.width:
                out.append(str(_over(f.name, abs(v), lim.width)))
            elif isinstance(v, float) and math.isfinite(v) and abs(v) > 2.0 ** 53:
                out.append(f"{f.name} is {v:g}; a number in a layer may be at most 2^53 (about 9.0e15)")
    return out


def _count_layers(layers: list) -> int:
    count, stack = 0, list(layers)
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            count += 1
            stack.extend(x for arg in value.values() if isinstance(arg, list) for x in arg)
        elif isinstance(value, list):
            stack.extend(value)
    return count


def _deepest(layers: list) -> int:
    deepest, stack = 0, [(v, 0) for v in layers]
    while stack:
        value, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(value, dict):
            stack.extend((x, depth + 1) for arg in value.values() if isinstance(arg, list)
                         for x in arg if isinstance(x, dict | list))
        elif isinstance(value, list):
            stack.extend((x, depth) for x in value)
    return deepest


def check_spec(spec: Any) -> None:
    """``check_data`` for a ``NetworkSpec`` already built in memory (the builder's edits), without recursion."""
    lim = limits()
    stack = [(layer, 0) for layer in spec.layers]
    count, deepest = 0, 0
    while stack:  # count and depth first: layer_to_dict recurses, so it may only see a spec within the depth limit
        layer, depth = stack.pop()
        count += 1
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for _, _, seq in layer.sequences() for child in seq)
    if count > lim.layers:
        raise _over("the number of layers (nested ones counted)", count, lim.layers)
    if deepest > lim.depth:
        raise _over("the nesting of composite blocks", deepest, lim.depth, " levels")
    check_data({"input": list(spec.input)})


def check_cost(params: int, activation_bytes: int) -> None:
    """Refuse a network whose summary needs more parameters or activation memory (one image) than the limits."""
    lim = limits()
    if params > lim.params:
        raise _over("the network's parameter count", params, lim.params)
    if activation_bytes > lim.activation_bytes:
        raise _over("the activation memory for one image", activation_bytes, lim.activation_bytes, " bytes")
