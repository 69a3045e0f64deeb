"""The layer-kind contract: everything the project knows about a kind of layer is defined on its class
(docs/layer-kinds.md).

A kind is a frozen dataclass whose fields are the arguments of the ``torch.nn`` module it builds, with torch's names
and defaults (input channels and in-features are inferred, never stored). The class answers every question the
engine and the builder ask about it — ``summary``, ``build``, ``codegen``, the builder's fields and the network drawing
only ever call these methods:

    check(in_shape)              what is wrong with these arguments for this input (empty: valid)
    output_shape(in_shape)       the output's shape, by PyTorch's own rules, with no tensors
    params / macs                its learnable parameters and multiply-accumulates for one sample
    writes_input / saves_output / aliases_input / backward_errors
                                 what its backward pass needs, so a spec that cannot train is refused up front
    receptive_field(...)         how it changes which input pixels one output sees
    formulas(node)               its output size and cost written out with the user's numbers
    build(in_shape)              the torch module; code(node, inner) its line in generated PyTorch source
    arguments()                  the builder's fields: help text, choices, what None means, sample values
    family, label, describe()    its colour group in the drawing, its menu name, its one-line picker text

Composite kinds (residual, inception) also name their nested layer sequences (``sequences``) and say how the paths
join (``join``). Adding a kind is one class with ``@register`` and its tests; the contract test
(tests/engine/nets/test_contract.py) checks every registered kind against PyTorch the day it lands.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import typing
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar

from torch import nn

from engine.nets.receptive import Field
from engine.registry import Registry

if TYPE_CHECKING:
    from engine.nets.analysis import Node

Shape = tuple[int, ...]  # one sample's shape, without the batch dimension: (C, H, W) or (F,)
Path = tuple[Any, ...]  # (3,) the 4th top-level layer; (3, "body", 1); (5, "branches", 2, 0)

FAMILIES = ("conv", "pool", "norm", "activation", "regularisation", "shape", "dense", "composite")
CANNOT_TRAIN = "cannot train: "  # begins every refusal of a layer that PyTorch runs forward but cannot train


class SpecError(ValueError):
    """A spec that cannot be read (unknown kind or argument, malformed JSON). The message names the layer."""


def arg(default: Any, help: str = "", *, choices: tuple[str, ...] = (), none: str = "", none_from: str = "",
        none_value: Any = None, widget: str = "", step: float | None = None, examples: tuple[Any, ...] = ()) -> Any:
    """A kind's argument with what the builder and the contract test need to know about it.

    ``help``: the field's tooltip. ``choices``: the strings it may be. ``none``: what None means (a checkbox label),
    and the value an unticked box starts from (``none_from`` another argument's value, else ``none_value``).
    ``widget``: "padding" (a number, 'valid' or 'same'), or "" (from the type; a value no widget fits is edited as
    JSON). ``step``: a number field's step. ``examples``: values the contract test draws from besides the default
    (from the type when empty).
    """
    meta = {"help": help, "choices": choices, "none": none, "none_from": none_from, "none_value": none_value,
            "widget": widget, "step": step, "examples": examples}
    return dataclasses.field(default=default, metadata=meta)


@dataclass(frozen=True)
class Argument:
    """One argument of a kind, as the builder draws it and the contract test draws values for it."""

    name: str
    hint: Any
    default: Any
    help: str = ""
    choices: tuple[str, ...] = ()
    none: str = ""
    none_from: str = ""
    none_value: Any = None
    widget: str = ""
    step: float | None = None
    examples: tuple[Any, ...] = ()

    @property
    def layers(self) -> bool:
        """A nested sequence of layers (a residual's body, an inception block's branches)."""
        return mentions_layers(self.hint)

    @property
    def pair(self) -> bool:
        """An int or an (height, width) pair."""
        return any(typing.get_origin(a) is tuple and len(typing.get_args(a)) == 2 for a in typing.get_args(self.hint))


@dataclass(frozen=True)
class LayerSpec:
    """Base class of every layer kind. Subclasses are frozen dataclasses whose fields are torch's arguments."""

    kind: ClassVar[str] = ""
    label: ClassVar[str] = ""  # a short human name for menus
    torch_name: ClassVar[str] = ""  # the torch.nn class it builds: code generation and docs
    family: ClassVar[str] = "activation"  # one of FAMILIES: its colour in the drawing
    elementwise: ClassVar[bool] = False  # output shape = input shape whatever the arguments; not drawn as a volume

    # ----------------------------------------------------------------------------------------------- check and shape

    def check(self, in_shape: Shape) -> list[str]:
        """What is wrong with this layer for an input of ``in_shape`` (empty when it is valid)."""
        return []

    def output_shape(self, in_shape: Shape) -> Shape:
        """The output shape for ``in_shape``, by PyTorch's rules. Only called when ``check`` found nothing."""
        return in_shape

    def sequences(self) -> tuple[tuple[str, Path, tuple[LayerSpec, ...]], ...]:
        """A composite's nested layer sequences: (name, path steps from the block, layers)."""
        return ()

    def join(self, in_shape: Shape, ends: list[Shape]) -> tuple[Shape | None, list[str]]:
        """The output shape, or the errors, once the nested sequences ended at ``ends`` (leaves: no sequences)."""
        return self.output_shape(in_shape), []

    def with_sequences(self, sequences: tuple[tuple[LayerSpec, ...], ...]) -> LayerSpec:
        """This composite with its nested sequences replaced (as many as ``sequences()`` lists, or as many as it
        allows when ``new_sequence`` gives one)."""
        raise ValueError(f"a {self.kind} layer has no nested layers")

    def new_sequence(self) -> tuple[LayerSpec, ...] | None:
        """The sequence the builder adds to this composite (an inception block's new branch); None: it has a fixed
        number of sequences."""
        return None

    # ----------------------------------------------------------------------------------------------- cost

    def params(self, in_shape: Shape, out_shape: Shape) -> int:
        """Learnable parameters of this layer itself (a composite's nested layers count their own)."""
        return 0

    def macs(self, in_shape: Shape, out_shape: Shape) -> int:
        """Multiply-accumulates of this layer itself for one sample (convolutions and linear layers; bias additions,
        pooling and activations are not counted, as in torchinfo and torch's FLOP counter)."""
        return 0

    # ----------------------------------------------------------------------------------------------- training

    def writes_input(self) -> bool:
        """Whether its forward overwrites its input in place during training (``inplace=True`` that does write)."""
        return False

    def saves_output(self) -> bool:
        """Whether its backward reads its own output (so a later in-place layer must not overwrite it)."""
        return False

    def aliases_input(self) -> bool:
        """Whether its output may be its input's memory (a view, or the input itself)."""
        return False

    def backward_errors(self) -> list[str]:
        """Why its backward pass cannot run when its input requires gradients (it never can, whatever precedes)."""
        return []

    # ----------------------------------------------------------------------------------------------- receptive field

    def receptive_field(self, field: Field, node: Node, inner: list[Field]) -> Field:
        """The field after this layer, from ``field`` before it (and a composite's paths' fields, ``inner``)."""
        return field

    # ----------------------------------------------------------------------------------------------- text

    def formulas(self, node: Node) -> list[str]:
        """The output size and cost written out with the user's numbers, for a valid traced ``node``."""
        return ["elementwise: shape unchanged, params 0"]

    def describe(self) -> str:
        """One line for the layer picker: "conv2d 16@5×5 s2 p1"."""
        extra = " ".join(f"{k}={v}" for k, v in self.args().items() if not isinstance(v, tuple))
        return f"{self.kind} {extra}".strip()

    # ----------------------------------------------------------------------------------------------- build and code

    def inferred(self, in_shape: Shape) -> dict[str, Any]:
        """The torch arguments inferred from the input (``in_channels``, ``in_features``, ``num_features``)."""
        return {}

    def build(self, in_shape: Shape) -> nn.Module:
        """The torch module for an input of ``in_shape``. Only called for a valid layer."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return getattr(nn, self.torch_name)(**self.inferred(in_shape), **values)

    def module(self, node: Node, inner: list[nn.Module]) -> nn.Module:
        """The module of a traced, valid ``node``; ``inner``: a composite's built sequences."""
        return self.build(node.in_shape)

    def code(self, node: Node, inner: list[list[str]]) -> list[str]:
        """Source lines constructing this layer's module (``inner``: each nested sequence's lines, composites)."""
        return [torch_call(self.torch_name, {f.name: getattr(self, f.name) for f in fields(self)},
                           self.inferred(node.in_shape))]

    def code_classes(self) -> tuple[str, ...]:
        """Source of the module classes generated code needs for this kind (composites' blocks)."""
        return ()

    # ----------------------------------------------------------------------------------------------- the builder

    @classmethod
    def arguments(cls) -> list[Argument]:
        """The arguments in field order, with their builder metadata."""
        return _arguments(cls)

    @classmethod
    def example(cls) -> LayerSpec:
        """A layer of this kind to insert from the builder's menu (composites: a small working body)."""
        return cls()

    def args(self) -> dict[str, Any]:
        """The arguments a compact spec writes, in field order: those that differ from torch's defaults, and always
        those torch's constructor requires (a convolution's ``kernel_size``), so the JSON reads as a torch call."""
        required = required_args(self.torch_name)
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name not in required and f.default is not dataclasses.MISSING and same_value(value, f.default):
                continue
            out[f.name] = value
        return out

    def children(self) -> dict[str, tuple[LayerSpec, ...]]:
        """Nested layer sequences by name (``body``, ``branch 1``, ...)."""
        return {name: seq for name, _, seq in self.sequences()}


@functools.cache
def _arguments(cls: type[LayerSpec]) -> list[Argument]:
    hints = typing.get_type_hints(cls)
    out = []
    for f in fields(cls):
        meta = dict(f.metadata)
        default = None if f.default is dataclasses.MISSING else f.default
        out.append(Argument(f.name, hints[f.name], default, **meta))
    return out


KINDS: Registry[type[LayerSpec]] = Registry("layer kind")


def register(cls: type[LayerSpec]) -> type[LayerSpec]:
    """Add a kind to ``KINDS`` under its ``kind``; a kind can be registered only once."""
    if cls.kind in KINDS:
        raise ValueError(f"layer kind {cls.kind!r} is already registered (by {KINDS[cls.kind].__name__})")
    if cls.family not in FAMILIES:
        raise ValueError(f"layer kind {cls.kind!r}: family must be one of {FAMILIES}, got {cls.family!r}")
    KINDS.add(cls.kind, cls)
    return cls


def same_value(a: Any, b: Any) -> bool:
    """Equal and of the same types throughout: ``1.0`` and ``True`` are not the default ``1`` (they are invalid)."""
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def mentions_layers(hint: Any) -> bool:
    if hint is LayerSpec or (isinstance(hint, type) and issubclass(hint, LayerSpec)):
        return True
    return any(mentions_layers(a) for a in typing.get_args(hint))


def hint_is_branches(hint: Any) -> bool:
    """True for ``tuple[tuple[LayerSpec, ...], ...]`` (a list of layer lists)."""
    args = typing.get_args(hint)
    return bool(args) and typing.get_origin(args[0]) is tuple and mentions_layers(args[0])


# --------------------------------------------------------------------------------------------------- generated code

_PAIR_ARGS = ("kernel_size", "stride", "padding", "dilation", "output_size")  # int-or-(h, w) arguments


@functools.cache
def _signature(torch_name: str) -> dict[str, inspect.Parameter]:
    cls = getattr(nn, torch_name, None)
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise ValueError(f"codegen cannot write torch.nn.{torch_name}: there is no such module")
    return dict(inspect.signature(cls).parameters)


@functools.cache
def required_args(torch_name: str) -> frozenset[str]:
    """The arguments of ``torch.nn.<torch_name>`` that have no default (none for the project's own blocks)."""
    cls = getattr(nn, torch_name, None)
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        return frozenset()
    return frozenset(name for name, p in inspect.signature(cls).parameters.items()
                     if p.default is inspect.Parameter.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))


def torch_call(torch_name: str, values: dict[str, Any], inferred: dict[str, Any]) -> str:
    """``nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)``: torch's signature order, the inferred
    sizes positional, then every argument that differs from torch's default, by name."""
    signature = _signature(torch_name)
    unknown = [name for name in values if name not in signature]
    if unknown:
        raise ValueError(f"codegen cannot write torch.nn.{torch_name}: it has no argument {', '.join(unknown)}")
    out = []
    for name, param in signature.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        required = param.default is inspect.Parameter.empty
        if name in values:
            value = compact(values[name]) if name in _PAIR_ARGS else values[name]
            if not required and type(value) is type(param.default) and value == param.default:
                continue
        elif name in inferred:
            value = inferred[name]
        else:
            continue
        positional = required and ("channels" in name or "features" in name)
        out.append(code_value(value) if positional else f"{name}={code_value(value)}")
    return f"nn.{torch_name}({', '.join(out)})"


def compact(value: Any) -> Any:
    """``(3, 3)`` -> ``3``: torch reads an int-or-pair argument the same either way."""
    if isinstance(value, tuple | list) and len(value) == 2 and value[0] == value[1]:
        return value[0]
    return tuple(value) if isinstance(value, list) else value


def code_value(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str) else repr(value)


def batch_shape(shape: Shape) -> str:
    """``(B, 3, 32, 32)``: a shape as generated code's comments write it."""
    return f"(B, {', '.join(map(str, shape))})"


def sequential_code(children: list[str], prefix: str = "", end: str = "", comment: str = "") -> list[str]:
    """``nn.Sequential(...)`` around already-written child lines (each child's last line ends with a comma), the
    closing line ending in ``end``."""
    note = f"  # {comment}" if comment else ""
    if not children:
        return [f"{prefix}nn.Sequential(){end}{note or '  # nothing: passes x through'}"]
    return [f"{prefix}nn.Sequential({note}", *indent(children), f"){end}"]


def indent(lines: list[str], depth: int = 1) -> list[str]:
    pad = "    " * depth
    return [pad + line for line in lines]
