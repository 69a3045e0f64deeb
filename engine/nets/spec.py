"""Network specs: the format every page, the CLI, the run store and share links exchange (docs/layer-kinds.md).

A network spec is ``{"input": [C, H, W], "layers": [...]}``; each layer is ``{"kind": ..., **arguments}`` with the
argument names of the matching ``torch.nn`` constructor and torch's defaults. Input channels and in-features are never
part of a spec: they are inferred from the shape that reaches the layer. The kinds themselves live in
``engine.nets.kinds`` (one module per family) and are re-exported here, so ``from engine.nets.spec import Conv2d``
reads as the format it is.

Specs hold whatever values they are given (a builder must be able to hold a layer that is invalid right now and say
why); ``engine.nets.analysis.trace`` says what is wrong with each layer.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

from engine.nets.kinds import (
    KINDS,
    AdaptiveAvgPool2d,
    AvgPool2d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Flatten,
    Inception,
    InceptionBlock,
    LayerSpec,
    LeakyReLU,
    Linear,
    MaxPool2d,
    Path,
    ReLU,
    ReLU6,
    Residual,
    ResidualBlock,
    Shape,
    Sigmoid,
    SpecError,
    Tanh,
    ZeroPad2d,
    register,
)
from engine.nets.kinds.base import hint_is_branches, mentions_layers
from engine.nets.kinds.common import is_int, pair
from engine.nets.limits import LimitError, check_data, limits

__all__ = [
    "KINDS", "AdaptiveAvgPool2d", "AvgPool2d", "BatchNorm2d", "Conv2d", "Dropout", "Flatten", "Inception",
    "InceptionBlock", "LayerSpec", "LeakyReLU", "Linear", "MaxPool2d", "NetworkSpec", "Path", "ReLU", "ReLU6",
    "Residual", "ResidualBlock", "Shape", "Sigmoid", "SpecError", "Tanh", "ZeroPad2d", "default_layer", "freeze",
    "layer_from_dict", "layer_to_dict", "pair", "parse_spec", "register", "walk",
]


def default_layer(kind: str) -> LayerSpec:
    """A layer of ``kind`` as the builder inserts it (composites get a small working body)."""
    return KINDS.get(kind).example()


def walk(layers: Iterable[LayerSpec], prefix: Path = ()) -> Iterable[tuple[Path, LayerSpec]]:
    """Every layer with its path, depth first, a composite before its children."""
    for i, layer in enumerate(layers):
        path = (*prefix, i)
        yield path, layer
        for _, steps, seq in layer.sequences():
            yield from walk(seq, (*path, *steps))


# --------------------------------------------------------------------------------------------------- JSON


def layer_to_dict(layer: LayerSpec, full: bool = False) -> dict[str, Any]:
    """``{"kind": ..., **args}``; only non-default arguments unless ``full``. Nested layers are dicts too."""
    values = {f.name: getattr(layer, f.name) for f in fields(layer)} if full else layer.args()
    return {"kind": layer.kind, **{k: _to_json_value(v, full) for k, v in values.items()}}


def _to_json_value(value: Any, full: bool) -> Any:
    if isinstance(value, LayerSpec):
        return layer_to_dict(value, full)
    if isinstance(value, tuple):
        return [_to_json_value(v, full) for v in value]
    return value


def layer_from_dict(data: Any, where: str = "layer") -> LayerSpec:
    """Read one layer dict. Raises ``SpecError`` naming ``where`` for an unknown kind or argument."""
    if not isinstance(data, dict):
        raise SpecError(f"{where}: expected an object like {{\"kind\": \"conv2d\", ...}}, got {data!r}")
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        raise SpecError(f"{where}: unknown kind {kind!r}; valid kinds: {', '.join(KINDS)}")
    cls = KINDS[kind]
    hints = {a.name: a.hint for a in cls.arguments()}  # resolved once per kind
    names = list(hints)
    kwargs = {}
    for key, value in data.items():
        if key == "kind":
            continue
        if key not in names:
            raise SpecError(f"{where} ({kind}): unknown argument {key!r}; valid: {', '.join(names)}")
        kwargs[key] = _from_json_value(value, hints[key], f"{where} ({kind}).{key}")
    missing = [f.name for f in fields(cls) if f.default is dataclasses.MISSING and f.name not in kwargs]
    if missing:
        raise SpecError(f"{where} ({kind}): missing argument {', '.join(map(repr, missing))}")
    return cls(**kwargs)


def _from_json_value(value: Any, hint: Any, where: str) -> Any:
    """Lists become tuples (so specs stay hashable); nested layer dicts become specs."""
    if mentions_layers(hint):
        if hint_is_branches(hint):
            if not isinstance(value, list):
                raise SpecError(f"{where}: expected a list of layer lists")
            return tuple(
                tuple(layer_from_dict(v, f"{where}[{i}][{j}]") for j, v in enumerate(_as_list(branch, where)))
                for i, branch in enumerate(value)
            )
        return tuple(layer_from_dict(v, f"{where}[{i}]") for i, v in enumerate(_as_list(value, where)))
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict):
        raise SpecError(f"{where}: expected a number, string or list, got an object")
    return value


def _as_list(value: Any, where: str) -> list:
    if not isinstance(value, list):
        raise SpecError(f"{where}: expected a list of layers, got {value!r}")
    return value


def freeze(v: Any) -> Any:
    """JSON lists as tuples, all the way down (specs are hashable values)."""
    return tuple(freeze(x) for x in v) if isinstance(v, list) else v


@dataclass(frozen=True)
class NetworkSpec:
    """A whole network: the shape of one input sample and the layers applied to it in order."""

    input: Shape = (1, 32, 32)
    layers: tuple[LayerSpec, ...] = ()

    def to_dict(self, full: bool = False) -> dict[str, Any]:
        return {"input": list(self.input), "layers": [layer_to_dict(layer, full) for layer in self.layers]}

    def to_json(self, indent: int | None = 2, full: bool = False) -> str:
        return json.dumps(self.to_dict(full), indent=indent, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: Any) -> NetworkSpec:
        if not isinstance(data, dict):
            raise SpecError('a spec is an object: {"input": [C, H, W], "layers": [...]}')
        unknown = set(data) - {"input", "layers"}
        if unknown:
            raise SpecError(f"unknown top-level key(s) {sorted(unknown)}; a spec has only 'input' and 'layers'")
        check_data(data)  # the server's limits, before any layer is parsed (docs/layer-kinds.md, "Limits")
        shape = data.get("input", [1, 32, 32])
        if not (isinstance(shape, list) and shape and all(is_int(v) and v >= 1 for v in shape)):
            raise SpecError(f"input: expected a list of positive integers like [3, 224, 224], got {shape!r}")
        layers = data.get("layers", [])
        if not isinstance(layers, list):
            raise SpecError("layers: expected a list")
        return cls(tuple(shape), tuple(layer_from_dict(v, f"layer #{i + 1}") for i, v in enumerate(layers)))

    @classmethod
    def from_json(cls, text: str | bytes) -> NetworkSpec:
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise SpecError(f"not valid JSON: {e}") from None
        except RecursionError:  # hundreds of levels: past any limit, refused before it is even read
            raise LimitError(f"not valid JSON: nested too deeply to read (hundreds of levels); composite blocks "
                             f"may nest at most {limits().depth} levels") from None
        except ValueError as e:  # a number of more than 4,300 digits (Python's int_max_str_digits)
            raise SpecError(f"a number in the spec is far too large ({e})") from None
        try:
            return cls.from_dict(data)
        except RecursionError:
            raise SpecError("the spec nests composite blocks too deeply") from None

    def to_token(self) -> str:
        """A compact, URL-safe encoding of the spec (zlib-compressed JSON, base64url), for a shareable link."""
        raw = json.dumps(self.to_dict(), separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode().rstrip("=")

    @classmethod
    def from_token(cls, token: str) -> NetworkSpec:
        limit = 1 << 20
        try:
            inflater = zlib.decompressobj()
            raw = inflater.decompress(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)), limit + 1)
        except (ValueError, TypeError, zlib.error) as e:
            raise SpecError(f"the shared link's spec could not be decoded ({e})") from None
        if len(raw) > limit:
            raise SpecError("the shared link's spec is larger than 1 MB")
        if not inflater.eof:
            raise SpecError("the shared link's spec could not be decoded (it is cut short)")
        return cls.from_json(raw)


def parse_spec(obj: NetworkSpec | dict | str) -> NetworkSpec:
    """A spec from a ``NetworkSpec``, a dict, or JSON text."""
    if isinstance(obj, NetworkSpec):
        return obj
    if isinstance(obj, dict):
        return NetworkSpec.from_dict(obj)
    return NetworkSpec.from_json(obj)
