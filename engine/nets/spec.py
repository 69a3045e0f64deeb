"""Network specs: frozen layer-block dataclasses, their registry, JSON (de)serialisation and editing.

A network spec is ``{"input": [C, H, W], "layers": [...]}``; each layer is ``{"kind": ..., **arguments}`` with the
argument names of the matching ``torch.nn`` constructor and torch's defaults. Input channels and in-features are never
part of a spec: they are inferred from the shape that reaches the layer (see ``engine.nets.build``).

Specs hold whatever values they are given (a builder must be able to hold a layer that is invalid right now and say
why); ``check(in_shape)`` on each layer returns what is wrong with it, and ``engine.nets.summary`` reports it per layer.
Adding a block kind is one dataclass here with ``@register`` and its ``build``/``check`` methods.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import typing
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Union

from torch import nn

from engine.conv.arithmetic import sliding_output
from engine.units import format_shape

Shape = tuple[int, ...]  # one sample's shape, without the batch dimension: (C, H, W) or (F,)
IntOrPair = Union[int, tuple[int, int]]  # noqa: UP007 - kept as Union so the JSON coercion can read it

LAYERS: dict[str, type[LayerSpec]] = {}


class SpecError(ValueError):
    """A spec that cannot be read (unknown kind or argument, malformed JSON). The message names the layer."""


def register(cls: type[LayerSpec]) -> type[LayerSpec]:
    """Add a layer-spec class to the registry under its ``kind``; a kind can be registered only once."""
    if cls.kind in LAYERS:
        raise ValueError(f"layer kind {cls.kind!r} is already registered (by {LAYERS[cls.kind].__name__})")
    LAYERS[cls.kind] = cls
    return cls


@dataclass(frozen=True)
class LayerSpec:
    """Base class of every layer block. Subclasses are frozen dataclasses whose fields are torch's arguments."""

    kind: ClassVar[str] = ""
    label: ClassVar[str] = ""  # a short human name for menus
    torch_name: ClassVar[str] = ""  # the torch.nn class it builds, for code generation and docs
    keeps_shape: ClassVar[bool] = False  # elementwise: output shape = input shape, whatever the arguments

    def check(self, in_shape: Shape) -> list[str]:
        """What is wrong with this layer for an input of ``in_shape`` (empty when it is valid)."""
        return []

    def build(self, in_shape: Shape) -> nn.Module:
        """The torch module for an input of ``in_shape``. Only called when ``check`` found nothing."""
        raise NotImplementedError

    def children(self) -> dict[str, tuple[LayerSpec, ...]]:
        """Nested layer sequences of a composite block, by name (``body``, ``branch 1``, ...)."""
        return {}

    def args(self) -> dict[str, Any]:
        """The arguments that differ from torch's defaults, in field order (what a compact spec writes)."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.default is not dataclasses.MISSING and _same_value(value, f.default):
                continue
            out[f.name] = value
        return out


def _same_value(a: Any, b: Any) -> bool:
    """Equal and of the same types throughout: ``1.0`` and ``True`` are not the default ``1`` (they are invalid)."""
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


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
    if not isinstance(kind, str) or kind not in LAYERS:
        raise SpecError(f"{where}: unknown kind {kind!r}; valid kinds: {', '.join(LAYERS)}")
    cls = LAYERS[kind]
    hints = typing.get_type_hints(cls)
    names = [f.name for f in fields(cls)]
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
    if _mentions_layers(hint):
        if hint_is_branches(hint):
            if not isinstance(value, list):
                raise SpecError(f"{where}: expected a list of layer lists")
            return tuple(
                tuple(layer_from_dict(v, f"{where}[{i}][{j}]") for j, v in enumerate(_as_list(branch, where)))
                for i, branch in enumerate(value)
            )
        return tuple(layer_from_dict(v, f"{where}[{i}]") for i, v in enumerate(_as_list(value, where)))
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        raise SpecError(f"{where}: expected a number, string or list, got an object")
    return value


def _as_list(value: Any, where: str) -> list:
    if not isinstance(value, list):
        raise SpecError(f"{where}: expected a list of layers, got {value!r}")
    return value


def _freeze(v: Any) -> Any:
    return tuple(_freeze(x) for x in v) if isinstance(v, list) else v


def _mentions_layers(hint: Any) -> bool:
    if hint is LayerSpec or (isinstance(hint, type) and issubclass(hint, LayerSpec)):
        return True
    return any(_mentions_layers(a) for a in typing.get_args(hint))


def hint_is_branches(hint: Any) -> bool:
    """True for ``tuple[tuple[LayerSpec, ...], ...]`` (a list of layer lists)."""
    args = typing.get_args(hint)
    return bool(args) and typing.get_origin(args[0]) is tuple and _mentions_layers(args[0])


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
        shape = data.get("input", [1, 32, 32])
        if not (isinstance(shape, list) and shape and all(_is_int(v) and v >= 1 for v in shape)):
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
        except RecursionError:
            raise SpecError("not valid JSON: nested too deeply") from None
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


# --------------------------------------------------------------------------------------------------- editing
# A path addresses a layer: (3,) is the 4th top-level layer; (3, "body", 1) the 2nd layer of its body;
# (5, "branches", 2, 0) the first layer of the 3rd branch of an inception block.

Path = tuple[Any, ...]


def walk(layers: Iterable[LayerSpec], prefix: Path = ()) -> Iterable[tuple[Path, LayerSpec]]:
    """Every layer with its path, depth first, a composite before its children."""
    for i, layer in enumerate(layers):
        path = (*prefix, i)
        yield path, layer
        if isinstance(layer, Residual):
            yield from walk(layer.body, (*path, "body"))
        elif isinstance(layer, Inception):
            for b, branch in enumerate(layer.branches):
                yield from walk(branch, (*path, "branches", b))


def _container(spec_layers: tuple[LayerSpec, ...], path: Path) -> tuple[tuple[LayerSpec, ...], Callable]:
    """The tuple holding the layer at ``path`` and a function that rebuilds everything above from a new tuple.

    Raises ``ValueError`` naming the path when it does not lead into an existing sequence (indices must be
    non-negative: a negative one would silently address the wrong layer when splicing).
    """
    if not path or not _is_int(path[-1]):
        raise ValueError(f"path {path!r} does not address a layer: it must end with a layer index")
    if len(path) == 1:
        return spec_layers, lambda new: new
    head, rest = path[0], path[1:]
    parent = spec_layers[_index(spec_layers, head, path)]

    def put_parent(new_parent: LayerSpec) -> tuple[LayerSpec, ...]:
        return (*spec_layers[:head], new_parent, *spec_layers[head + 1 :])

    if rest[0] == "body" and isinstance(parent, Residual) and len(rest) >= 2:
        inner, rebuild = _container(parent.body, rest[1:])
        return inner, lambda new: put_parent(dataclasses.replace(parent, body=rebuild(new)))
    if rest[0] == "branches" and isinstance(parent, Inception) and len(rest) >= 3:
        b = _index(parent.branches, rest[1], path)
        inner, rebuild = _container(parent.branches[b], rest[2:])

        def put_branch(new: tuple[LayerSpec, ...]) -> tuple[LayerSpec, ...]:
            branches = (*parent.branches[:b], rebuild(new), *parent.branches[b + 1 :])
            return put_parent(dataclasses.replace(parent, branches=branches))

        return inner, put_branch
    raise ValueError(f"path {path!r} does not address a layer")


def _index(seq: tuple, i: Any, path: Path) -> int:
    """``i`` if it is a position in ``seq``, else ``ValueError``."""
    if not _is_int(i) or not 0 <= i < len(seq):
        raise ValueError(f"path {path!r} does not address a layer: position {i!r} is outside a sequence of "
                         f"{len(seq)}")
    return i


def get_layer(spec: NetworkSpec, path: Path) -> LayerSpec:
    """The layer at ``path``. Raises ``ValueError`` for a path that addresses none."""
    seq, _ = _container(spec.layers, path)
    return seq[_index(seq, path[-1], path)]


def replace_layer(spec: NetworkSpec, path: Path, layer: LayerSpec) -> NetworkSpec:
    """``spec`` with the layer at ``path`` replaced by ``layer``."""
    seq, rebuild = _container(spec.layers, path)
    i = _index(seq, path[-1], path)
    return dataclasses.replace(spec, layers=rebuild((*seq[:i], layer, *seq[i + 1 :])))


def insert_layer(spec: NetworkSpec, path: Path, layer: LayerSpec) -> NetworkSpec:
    """Insert ``layer`` so that it ends up at ``path`` (the index may equal the sequence's length: append)."""
    seq, rebuild = _container(spec.layers, path)
    i = path[-1]
    if not _is_int(i) or not 0 <= i <= len(seq):
        raise ValueError(f"cannot insert at position {i!r} of a sequence of {len(seq)} layers")
    return dataclasses.replace(spec, layers=rebuild((*seq[:i], layer, *seq[i:])))


def remove_layer(spec: NetworkSpec, path: Path) -> NetworkSpec:
    """``spec`` without the layer at ``path``."""
    seq, rebuild = _container(spec.layers, path)
    i = _index(seq, path[-1], path)
    return dataclasses.replace(spec, layers=rebuild((*seq[:i], *seq[i + 1 :])))


def move_layer(spec: NetworkSpec, path: Path, delta: int) -> NetworkSpec:
    """Move a layer ``delta`` places within its own sequence (clamped at the ends)."""
    seq, rebuild = _container(spec.layers, path)
    i = _index(seq, path[-1], path)
    j = max(0, min(len(seq) - 1, i + delta))
    items = list(seq)
    items.insert(j, items.pop(i))
    return dataclasses.replace(spec, layers=rebuild(tuple(items)))


def duplicate_layer(spec: NetworkSpec, path: Path) -> NetworkSpec:
    """``spec`` with a copy of the layer at ``path`` inserted right after it."""
    layer = get_layer(spec, path)  # first: it checks the path
    return insert_layer(spec, (*path[:-1], path[-1] + 1), layer)


# --------------------------------------------------------------------------------------------------- checks


def pair(v: Any) -> tuple[Any, Any]:
    """``k`` or ``(kh, kw)`` -> ``(kh, kw)``, as torch reads an int-or-pair argument."""
    if isinstance(v, tuple | list) and len(v) == 2:
        return v[0], v[1]
    return v, v


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_ints(name: str, value: Any, minimum: int, errors: list[str], allow_pair: bool = True) -> None:
    vals = pair(value) if allow_pair else (value,)
    if allow_pair and isinstance(value, tuple | list) and len(value) != 2:
        errors.append(f"{name} must be one integer or two (height, width), got {value!r}")
        return
    if not all(_is_int(v) and v >= minimum for v in vals):
        what = "an integer" if not allow_pair else "an integer or a (height, width) pair of integers"
        errors.append(f"{name} must be {what} ≥ {minimum}, got {value!r}")


def _check_bool(name: str, value: Any, errors: list[str]) -> None:
    if not isinstance(value, bool):
        errors.append(f"{name} must be true or false, got {value!r}")


def _check_prob(name: str, value: Any, errors: list[str]) -> None:
    if not (isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1):
        errors.append(f"{name} must be a probability between 0 and 1, got {value!r}")


def _check_positive(name: str, value: Any, errors: list[str]) -> None:
    if not (isinstance(value, int | float) and not isinstance(value, bool) and value > 0):
        errors.append(f"{name} must be a number > 0, got {value!r}")


def _needs_image(in_shape: Shape, what: str) -> list[str]:
    if len(in_shape) == 1:
        return [f"{what} needs an image-shaped input C×H×W, but gets a flat vector of {in_shape[0]} (is it after a "
                f"flatten?)"]
    if len(in_shape) != 3:
        return [f"{what} needs an image-shaped input C×H×W, but gets {format_shape(in_shape)}"]
    return []


def _window_errors(in_shape: Shape, kernel: Any, padding: Any, dilation: Any, what: str, stride: Any = 1,
                   ceil_mode: bool = False) -> list[str]:
    """Errors for a sliding window that does not fit its (padded) input (no output cell at all)."""
    out = []
    (kh, kw), (ph, pw), (dh, dw), (sh, sw) = pair(kernel), pair(padding), pair(dilation), pair(stride)
    h, w = in_shape[1], in_shape[2]
    eh, ew = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    if sliding_output(h, kh, ph, ph, sh, dh, ceil_mode) < 1 or sliding_output(w, kw, pw, pw, sw, dw, ceil_mode) < 1:
        k = f"{kh}" if kh == kw else f"{kh}×{kw}"
        p = f"{ph}" if ph == pw else f"({ph}, {pw})"
        dil = "" if (dh, dw) == (1, 1) else f" (dilated to {eh}×{ew})"
        out.append(f"kernel {k}{dil} is larger than its {h}×{w} input plus padding {p}; "
                   f"use a kernel ≤ {h + 2 * ph}×{w + 2 * pw} or more padding")
    return out


# --------------------------------------------------------------------------------------------------- layer kinds


@register
@dataclass(frozen=True)
class Conv2d(LayerSpec):
    kind: ClassVar[str] = "conv2d"
    label: ClassVar[str] = "Convolution 2D"
    torch_name: ClassVar[str] = "Conv2d"
    out_channels: int = 8
    kernel_size: IntOrPair = 3
    stride: IntOrPair = 1
    padding: Union[int, tuple[int, int], str] = 0  # noqa: UP007 - number, pair, "valid" or "same"
    dilation: IntOrPair = 1
    groups: int = 1
    bias: bool = True
    padding_mode: str = "zeros"

    def check(self, in_shape: Shape) -> list[str]:
        errors = _needs_image(in_shape, "a convolution")
        _check_ints("out_channels", self.out_channels, 1, errors, allow_pair=False)
        _check_ints("kernel_size", self.kernel_size, 1, errors)
        _check_ints("stride", self.stride, 1, errors)
        _check_ints("dilation", self.dilation, 1, errors)
        _check_ints("groups", self.groups, 1, errors, allow_pair=False)
        _check_bool("bias", self.bias, errors)
        if isinstance(self.padding, str):
            if self.padding not in ("valid", "same"):
                errors.append(f"padding must be a number, 'valid' or 'same', got {self.padding!r}")
            elif self.padding == "same" and pair(self.stride) != (1, 1):
                errors.append("padding 'same' needs stride 1 (PyTorch's rule); use a number for padding instead")
        else:
            _check_ints("padding", self.padding, 0, errors)
        if self.padding_mode not in ("zeros", "reflect", "replicate", "circular"):
            errors.append(f"padding_mode must be zeros, reflect, replicate or circular, got {self.padding_mode!r}")
        if errors:
            return errors
        c = in_shape[0]
        if c % self.groups or self.out_channels % self.groups:
            errors.append(f"groups {self.groups} must divide both the input channels ({c}) and out_channels "
                          f"({self.out_channels}); depthwise convolution is groups = input channels = {c}")
        if self.padding != "same":  # 'same' always fits: it pads by the whole effective kernel minus one
            errors += _window_errors(in_shape, self.kernel_size, self.numeric_padding(), self.dilation, "conv2d")
        return errors

    def numeric_padding(self) -> tuple[int, int]:
        """The padding on the top and on the left as numbers. With 'same' and an odd total ``dilation·(kernel − 1)``
        PyTorch pads one more on the bottom/right than this (see ``padding_after``)."""
        if self.padding == "valid":
            return 0, 0
        if self.padding == "same":
            (kh, kw), (dh, dw) = pair(self.kernel_size), pair(self.dilation)
            return dh * (kh - 1) // 2, dw * (kw - 1) // 2
        return pair(self.padding)

    def padding_after(self) -> tuple[int, int]:
        """The padding on the bottom and on the right as numbers (differs from ``numeric_padding`` only for 'same')."""
        if self.padding == "same":
            (kh, kw), (dh, dw) = pair(self.kernel_size), pair(self.dilation)
            top, left = self.numeric_padding()
            return dh * (kh - 1) - top, dw * (kw - 1) - left
        return self.numeric_padding()

    def build(self, in_shape: Shape) -> nn.Module:
        return nn.Conv2d(in_shape[0], **self._torch_kwargs())

    def _torch_kwargs(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _pool_checks(layer: Any, in_shape: Shape, what: str) -> list[str]:
    errors = _needs_image(in_shape, what)
    _check_ints("kernel_size", layer.kernel_size, 1, errors)
    if layer.stride is not None:
        _check_ints("stride", layer.stride, 1, errors)
    _check_ints("padding", layer.padding, 0, errors)
    _check_bool("ceil_mode", layer.ceil_mode, errors)
    dilation = getattr(layer, "dilation", 1)
    _check_ints("dilation", dilation, 1, errors)
    if errors:
        return errors
    (kh, kw), (ph, pw) = pair(layer.kernel_size), pair(layer.padding)
    if ph > kh // 2 or pw > kw // 2:
        errors.append(f"padding {layer.padding} must be at most half the kernel size {layer.kernel_size} "
                      f"(PyTorch's rule for pooling)")
    errors += _window_errors(in_shape, layer.kernel_size, layer.padding, dilation, what,
                             layer.kernel_size if layer.stride is None else layer.stride, layer.ceil_mode)
    return errors


@register
@dataclass(frozen=True)
class MaxPool2d(LayerSpec):
    kind: ClassVar[str] = "maxpool2d"
    label: ClassVar[str] = "Max pooling 2D"
    torch_name: ClassVar[str] = "MaxPool2d"
    kernel_size: IntOrPair = 2
    stride: Union[int, tuple[int, int], None] = None  # noqa: UP007 - None means stride = kernel_size
    padding: IntOrPair = 0
    dilation: IntOrPair = 1
    ceil_mode: bool = False

    def check(self, in_shape: Shape) -> list[str]:
        return _pool_checks(self, in_shape, "max pooling")

    def build(self, in_shape: Shape) -> nn.Module:
        return nn.MaxPool2d(self.kernel_size, self.stride, self.padding, self.dilation, ceil_mode=self.ceil_mode)


@register
@dataclass(frozen=True)
class AvgPool2d(LayerSpec):
    kind: ClassVar[str] = "avgpool2d"
    label: ClassVar[str] = "Average pooling 2D"
    torch_name: ClassVar[str] = "AvgPool2d"
    kernel_size: IntOrPair = 2
    stride: Union[int, tuple[int, int], None] = None  # noqa: UP007
    padding: IntOrPair = 0
    ceil_mode: bool = False
    count_include_pad: bool = True
    divisor_override: int | None = None

    def check(self, in_shape: Shape) -> list[str]:
        errors = _pool_checks(self, in_shape, "average pooling")
        _check_bool("count_include_pad", self.count_include_pad, errors)
        if self.divisor_override is not None:
            _check_ints("divisor_override", self.divisor_override, 1, errors, allow_pair=False)
        return errors

    def build(self, in_shape: Shape) -> nn.Module:
        return nn.AvgPool2d(self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad,
                            self.divisor_override)


PadSpec = Union[int, tuple[int, int, int, int]]  # noqa: UP007 - one number, or (left, right, top, bottom)


@register
@dataclass(frozen=True)
class ZeroPad2d(LayerSpec):
    """Zeros around the image: ``padding`` on every side, or ``(left, right, top, bottom)``. Lets a strided
    convolution pad unevenly, as TensorFlow's "same" padding does (one more on the right and bottom)."""

    kind: ClassVar[str] = "zeropad2d"
    label: ClassVar[str] = "Zero padding 2D"
    torch_name: ClassVar[str] = "ZeroPad2d"
    padding: PadSpec = 1

    def sides(self) -> tuple[int, int, int, int]:
        """``(left, right, top, bottom)``."""
        p = self.padding
        return (p, p, p, p) if _is_int(p) else tuple(p)

    def check(self, in_shape: Shape) -> list[str]:
        errors = _needs_image(in_shape, "zero padding 2D")
        p = self.padding
        if isinstance(p, tuple | list):
            if len(p) != 4 or not all(_is_int(v) and v >= 0 for v in p):
                errors.append(f"padding must be one integer ≥ 0 or four, (left, right, top, bottom), got {p!r}")
        elif not (_is_int(p) and p >= 0):
            errors.append(f"padding must be an integer ≥ 0 or four of them, (left, right, top, bottom), got {p!r}")
        return errors

    def build(self, in_shape: Shape) -> nn.Module:
        return nn.ZeroPad2d(self.padding)


@register
@dataclass(frozen=True)
class AdaptiveAvgPool2d(LayerSpec):
    kind: ClassVar[str] = "adaptiveavgpool2d"
    label: ClassVar[str] = "Adaptive average pooling 2D"
    torch_name: ClassVar[str] = "AdaptiveAvgPool2d"
    output_size: IntOrPair = 1

    def check(self, in_shape: Shape) -> list[str]:
        errors = _needs_image(in_shape, "adaptive pooling")
        _check_ints("output_size", self.output_size, 1, errors)
        return errors

    def build(self, in_shape: Shape) -> nn.Module:
        return nn.AdaptiveAvgPool2d(self.output_size)


@register
@dataclass(frozen=True)
class BatchNorm2d(LayerSpec):
    kind: ClassVar[str] = "batchnorm2d"
    label: ClassVar[str] = "Batch normalisation 2D"
    torch_name: ClassVar[str] = "BatchNorm2d"
    keeps_shape: ClassVar[bool] = True
    eps: float = 1e-5
    momentum: float | None = 0.1
    affine: bool = True
    track_running_stats: bool = True

    def check(self, in_shape: Shape) -> list[str]:
        errors = _needs_image(in_shape, "batch normalisation 2D")
        _check_positive("eps", self.eps, errors)
        if self.momentum is not None:
            _check_prob("momentum", self.momentum, errors)
        _check_bool("affine", self.affine, errors)
        _check_bool("track_running_stats", self.track_running_stats, errors)
        return errors

    def build(self, in_shape: Shape) -> nn.Module:
        return nn.BatchNorm2d(in_shape[0], self.eps, self.momentum, self.affine, self.track_running_stats)


@dataclass(frozen=True)
class _InplaceActivation(LayerSpec):
    """An elementwise activation whose only argument is torch's ``inplace``."""

    keeps_shape: ClassVar[bool] = True

    inplace: bool = False

    def check(self, in_shape: Shape) -> list[str]:
        errors: list[str] = []
        _check_bool("inplace", self.inplace, errors)
        return errors

    def build(self, in_shape: Shape) -> nn.Module:
        return getattr(nn, self.torch_name)(inplace=self.inplace)


@register
@dataclass(frozen=True)
class ReLU(_InplaceActivation):
    kind: ClassVar[str] = "relu"
    label: ClassVar[str] = "ReLU"
    torch_name: ClassVar[str] = "ReLU"


@register
@dataclass(frozen=True)
class ReLU6(_InplaceActivation):
    kind: ClassVar[str] = "relu6"
    label: ClassVar[str] = "ReLU6"
    torch_name: ClassVar[str] = "ReLU6"


@register
@dataclass(frozen=True)
class LeakyReLU(LayerSpec):
    kind: ClassVar[str] = "leakyrelu"
    label: ClassVar[str] = "Leaky ReLU"
    torch_name: ClassVar[str] = "LeakyReLU"
    keeps_shape: ClassVar[bool] = True
    negative_slope: float = 0.01
    inplace: bool = False

    def check(self, in_shape: Shape) -> list[str]:
        errors: list[str] = []
        if not isinstance(self.negative_slope, int | float) or isinstance(self.negative_slope, bool):
            errors.append(f"negative_slope must be a number, got {self.negative_slope!r}")
        _check_bool("inplace", self.inplace, errors)
        return errors

    def build(self, in_shape: Shape) -> nn.Module:
        return nn.LeakyReLU(self.negative_slope, self.inplace)


@register
@dataclass(frozen=True)
class Sigmoid(LayerSpec):
    kind: ClassVar[str] = "sigmoid"
    label: ClassVar[str] = "Sigmoid"
    torch_name: ClassVar[str] = "Sigmoid"
    keeps_shape: ClassVar[bool] = True

    def build(self, in_shape: Shape) -> nn.Module:
        return nn.Sigmoid()


@register
@dataclass(frozen=True)
class Tanh(LayerSpec):
    kind: ClassVar[str] = "tanh"
    label: ClassVar[str] = "Tanh"
    torch_name: ClassVar[str] = "Tanh"
    keeps_shape: ClassVar[bool] = True

    def build(self, in_shape: Shape) -> nn.Module:
        return nn.Tanh()


@register
@dataclass(frozen=True)
class Dropout(LayerSpec):
    kind: ClassVar[str] = "dropout"
    label: ClassVar[str] = "Dropout"
    torch_name: ClassVar[str] = "Dropout"
    keeps_shape: ClassVar[bool] = True
    p: float = 0.5
    inplace: bool = False

    def check(self, in_shape: Shape) -> list[str]:
        errors: list[str] = []
        _check_prob("p", self.p, errors)
        _check_bool("inplace", self.inplace, errors)
        return errors

    def build(self, in_shape: Shape) -> nn.Module:
        from engine.nets.build import SeededDropout  # build imports this module

        return SeededDropout(self.p, self.inplace)


@register
@dataclass(frozen=True)
class Flatten(LayerSpec):
    kind: ClassVar[str] = "flatten"
    label: ClassVar[str] = "Flatten"
    torch_name: ClassVar[str] = "Flatten"
    start_dim: int = 1
    end_dim: int = -1

    def check(self, in_shape: Shape) -> list[str]:
        errors: list[str] = []
        rank = len(in_shape) + 1  # with the batch dimension
        for name in ("start_dim", "end_dim"):
            v = getattr(self, name)
            if not _is_int(v) or not -rank <= v < rank:
                errors.append(f"{name} must be an integer dimension in [{-rank}, {rank - 1}], got {v!r}")
        if not errors and self.start_dim % rank == 0:
            errors.append("start_dim 0 would flatten the batch dimension; use 1 (the default)")
        elif not errors and self.start_dim % rank > self.end_dim % rank:
            errors.append(f"start_dim {self.start_dim} comes after end_dim {self.end_dim}; nothing to flatten between "
                          f"them (end_dim -1 is the last dimension)")
        return errors

    def build(self, in_shape: Shape) -> nn.Module:
        return nn.Flatten(self.start_dim, self.end_dim)


@register
@dataclass(frozen=True)
class Linear(LayerSpec):
    kind: ClassVar[str] = "linear"
    label: ClassVar[str] = "Linear (fully connected)"
    torch_name: ClassVar[str] = "Linear"
    out_features: int = 10
    bias: bool = True

    def check(self, in_shape: Shape) -> list[str]:
        errors: list[str] = []
        if len(in_shape) != 1:
            dims = format_shape(in_shape)
            errors.append(f"a fully connected layer needs a flat input, but gets {dims}; add a flatten layer before "
                          f"it (it would then get {_prod(in_shape)} features)")
        _check_ints("out_features", self.out_features, 1, errors, allow_pair=False)
        _check_bool("bias", self.bias, errors)
        return errors

    def build(self, in_shape: Shape) -> nn.Module:
        return nn.Linear(in_shape[-1], self.out_features, self.bias)


def _prod(shape: Iterable[int]) -> int:
    n = 1
    for v in shape:
        n *= v
    return n


# --------------------------------------------------------------------------------------------------- composites


def _has_inplace(module: nn.Module) -> bool:
    """Whether some layer inside writes into its input (``inplace=True``): it could overwrite the block's input,
    which the shortcut or the other branches still need (a dropout or flatten before it passes the input through)."""
    return any(getattr(m, "inplace", False) is True for m in module.modules())


class ResidualBlock(nn.Module):
    """``body(x) + shortcut(x)``: the residual connection of He et al., "Deep Residual Learning" (2015)."""

    def __init__(self, body: nn.Module, shortcut: nn.Module):
        super().__init__()
        self.body = body
        self.shortcut = shortcut

    def forward(self, x):  # (B, C, H, W) -> (B, C', H', W')
        # an in-place layer in the body would otherwise also change the identity shortcut's x
        return self.body(x.clone() if _has_inplace(self.body) else x) + self.shortcut(x)


class InceptionBlock(nn.Module):
    """Parallel branches concatenated on channels: Szegedy et al., "Going Deeper with Convolutions" (2014)."""

    def __init__(self, branches: list[nn.Module]):
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x):  # (B, C, H, W) -> (B, sum of branch channels, H', W')
        import torch

        # each branch must see the block's input, not what an in-place layer of an earlier branch left in it
        outs = [branch(x.clone() if _has_inplace(branch) else x) for branch in self.branches]
        return torch.cat(outs, dim=1)


@register
@dataclass(frozen=True)
class Residual(LayerSpec):
    """A body of layers plus a shortcut, added. ``shortcut``: "identity", or "projection" — a 1×1 convolution
    (no bias) and batch normalisation that match the body's output channels and stride (ResNet's option B)."""

    kind: ClassVar[str] = "residual"
    label: ClassVar[str] = "Residual block"
    torch_name: ClassVar[str] = "ResidualBlock"
    body: tuple[LayerSpec, ...] = ()
    shortcut: str = "identity"

    def children(self) -> dict[str, tuple[LayerSpec, ...]]:
        return {"body": self.body}

    def check(self, in_shape: Shape) -> list[str]:
        # The body's own layers are checked (and reported) by the summary; here only the join.
        if self.shortcut not in ("identity", "projection"):
            return [f"shortcut must be 'identity' or 'projection', got {self.shortcut!r}"]
        return []

    def join_errors(self, in_shape: Shape, body_shape: Shape) -> list[str]:
        """Whether the body's output can be added to the shortcut's."""
        if self.shortcut == "identity":
            if body_shape != in_shape:
                return [f"the body turns {format_shape(in_shape)} into {format_shape(body_shape)}, so it cannot be "
                        f"added to the identity shortcut; use shortcut 'projection' or keep the shape"]
            return []
        if len(in_shape) != 3 or len(body_shape) != 3:
            return ["a projection shortcut needs image-shaped input and body output"]
        stride = self.projection_stride(in_shape, body_shape)
        if stride is None:
            return [f"the body shrinks {in_shape[1]}×{in_shape[2]} to {body_shape[1]}×{body_shape[2]}, which no "
                    f"1×1 strided projection reproduces; the body must keep the size or divide it by its stride"]
        return []

    @staticmethod
    def projection_stride(in_shape: Shape, body_shape: Shape) -> tuple[int, int] | None:
        strides = []
        for n, m in zip(in_shape[1:], body_shape[1:], strict=True):
            s = max(1, -(-n // m))  # the stride s with ⌊(n − 1)/s⌋ + 1 = m, if one exists
            if (n - 1) // s + 1 != m:
                return None
            strides.append(s)
        return strides[0], strides[1]

    def build_shortcut(self, in_shape: Shape, body_shape: Shape) -> nn.Module:
        if self.shortcut == "identity":
            return nn.Identity()
        stride = self.projection_stride(in_shape, body_shape)
        return nn.Sequential(nn.Conv2d(in_shape[0], body_shape[0], 1, stride, bias=False),
                             nn.BatchNorm2d(body_shape[0]))


@register
@dataclass(frozen=True)
class Inception(LayerSpec):
    """Parallel branches of layers, each fed the same input, concatenated on the channel axis.
    An empty branch passes the input through unchanged."""

    kind: ClassVar[str] = "inception"
    label: ClassVar[str] = "Inception block"
    torch_name: ClassVar[str] = "InceptionBlock"
    branches: tuple[tuple[LayerSpec, ...], ...] = ((),)

    def children(self) -> dict[str, tuple[LayerSpec, ...]]:
        return {f"branch {i + 1}": b for i, b in enumerate(self.branches)}

    def check(self, in_shape: Shape) -> list[str]:
        if not self.branches:
            return ["an inception block needs at least one branch"]
        return _needs_image(in_shape, "an inception block")

    def join_errors(self, in_shape: Shape, branch_shapes: list[Shape]) -> list[str]:
        spatial = {s[1:] for s in branch_shapes if len(s) == 3}
        if any(len(s) != 3 for s in branch_shapes):
            return ["every branch must end image-shaped (C×H×W) to be concatenated on channels"]
        if len(spatial) > 1:
            sizes = ", ".join(f"branch {i + 1}: {s[1]}×{s[2]}" for i, s in enumerate(branch_shapes))
            return [f"branches end at different sizes ({sizes}); to concatenate on channels they must agree — "
                    f"use 'same' padding and stride 1"]
        return []


def default_layer(kind: str) -> LayerSpec:
    """A layer of ``kind`` with its default arguments (composites get a small working body)."""
    if kind == "residual":
        return Residual(body=(Conv2d(out_channels=8, padding=1), BatchNorm2d(), ReLU(),
                              Conv2d(out_channels=8, padding=1), BatchNorm2d()), shortcut="projection")
    if kind == "inception":
        return Inception(branches=((Conv2d(out_channels=8, kernel_size=1),),
                                   (Conv2d(out_channels=8, kernel_size=3, padding=1),),
                                   (MaxPool2d(kernel_size=3, stride=1, padding=1),)))
    return LAYERS[kind]()

