"""Spec -> ``nn.Module``, and the shape trace behind it.

``trace`` walks a spec layer by layer: it checks each layer against the shape that reaches it, builds the layer on
the ``meta`` device (no memory, no arithmetic) and runs a meta tensor through it, so every output shape is PyTorch's
own (elementwise layers keep their input's shape and are not run; a composite's shape is its paths', joined).
A layer that is invalid carries its messages; the layers before it keep their shapes; the ones after it are marked
as not reached. ``build`` turns a valid spec into a real module on the CPU (or a given device).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from engine.nets.spec import (
    Inception,
    InceptionBlock,
    LayerSpec,
    NetworkSpec,
    Path,
    Residual,
    ResidualBlock,
    Shape,
    SpecError,
    parse_spec,
)
from engine.units import format_shape

NOT_REACHED = "not reached: an earlier layer is invalid"
TRACE_BATCH = 2  # batch norm in training mode refuses a batch of one sample whose maps are 1×1; a real batch would not


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


@dataclass
class Node:
    """One traced layer: where it is, what goes in and out, what is wrong, and its meta module."""

    path: Path
    layer: LayerSpec
    in_shape: Shape | None
    out_shape: Shape | None = None
    errors: list[str] = field(default_factory=list)
    module: nn.Module | None = None  # built on the meta device
    macs: int = 0  # multiply-accumulates for one sample (convolutions and linear layers, shortcuts included)
    children: dict[str, list[Node]] = field(default_factory=dict)

    @property
    def index(self) -> str:
        return path_index(self.path)

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


def trace(spec: NetworkSpec | dict | str) -> list[Node]:
    """Trace a spec on the meta device; never raises for an invalid layer (see ``Node.errors``)."""
    spec = parse_spec(spec)
    nodes, _ = _trace_seq(spec.layers, tuple(spec.input), ())
    return nodes


def _trace_seq(layers: Sequence[LayerSpec], in_shape: Shape | None, prefix: Path) -> tuple[list[Node], Shape | None]:
    nodes = []
    shape = in_shape
    for i, layer in enumerate(layers):
        path = (*prefix, i)
        if shape is None:
            nodes.append(Node(path, layer, None, errors=[NOT_REACHED]))
            _mark_unreached(nodes[-1])
            continue
        node = _trace_layer(layer, shape, path)
        nodes.append(node)
        shape = node.out_shape if node.ok else None
    return nodes, shape


def _mark_unreached(node: Node) -> None:
    for name, seq in node.layer.children().items():
        key = ("body",) if name == "body" else ("branches", int(name.split()[-1]) - 1)
        node.children[name] = [Node((*node.path, *key, j), child, None, errors=[NOT_REACHED])
                               for j, child in enumerate(seq)]
        for child in node.children[name]:
            _mark_unreached(child)


def _trace_layer(layer: LayerSpec, in_shape: Shape, path: Path) -> Node:
    node = Node(path, layer, in_shape, errors=list(layer.check(in_shape)))
    if node.errors:
        _mark_unreached(node)
        return node
    if isinstance(layer, Residual):
        body, body_shape = _trace_seq(layer.body, in_shape, (*path, "body"))
        node.children["body"] = body
        if body_shape is None:
            node.errors.append("its body has an invalid layer (marked below)")
            return node
        node.errors += layer.join_errors(in_shape, body_shape)
        if node.errors:
            return node
        with torch.device("meta"):
            shortcut = layer.build_shortcut(in_shape, body_shape)
            node.module = ResidualBlock(_sequential(body), shortcut)
        # body(x) + shortcut(x): join_errors made sure both have the body's shape, and each body layer ran on meta
        node.out_shape = body_shape
        node.macs = sum(c.macs for c in body) + _conv_macs(shortcut, body_shape)
        return node
    if isinstance(layer, Inception):
        ends = []
        for b, branch in enumerate(layer.branches):
            seq, end = _trace_seq(branch, in_shape, (*path, "branches", b))
            node.children[f"branch {b + 1}"] = seq
            ends.append(end)
        if any(end is None for end in ends):
            node.errors.append("a branch has an invalid layer (marked below)")
            return node
        node.errors += layer.join_errors(in_shape, ends)
        if node.errors:
            return node
        with torch.device("meta"):
            node.module = InceptionBlock([_sequential(node.children[f"branch {b + 1}"])
                                          for b in range(len(layer.branches))])
        node.out_shape = (sum(end[0] for end in ends), *ends[0][1:])  # concatenated on channels
        node.macs = sum(c.macs for seq in node.children.values() for c in seq)
        return node
    try:
        with torch.device("meta"):
            node.module = layer.build(in_shape)
    except (ValueError, TypeError, RuntimeError, OverflowError) as e:
        node.errors.append(f"PyTorch cannot build it: {_first_line(e)}")
        return node
    if layer.keeps_shape:
        # Elementwise layers (activations, dropout, batch norm built for these channels) keep the shape; running
        # them on meta would only cost time (batch norm's meta path is slow Python).
        node.out_shape = in_shape
        return node
    node.out_shape = _meta_forward(node, in_shape)
    if node.out_shape is not None:
        node.macs = _conv_macs(node.module, node.out_shape)
    return node


def _conv_macs(module: nn.Module, out_shape: Shape) -> int:
    """Multiply-accumulates of one sample through a convolution or linear layer (or a sequence of such, all
    producing ``out_shape``, as a projection shortcut's conv and batch norm do). Bias additions are not counted."""
    total = 0
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            total += math.prod(out_shape) * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
        elif isinstance(m, nn.Linear):
            total += math.prod(out_shape) * m.in_features
    return total


def _sequential(nodes: list[Node]) -> nn.Module:
    return nn.Sequential(*[n.module for n in nodes])


def _first_line(e: Exception) -> str:
    """An exception's message without the C++ stack trace PyTorch appends to some of them."""
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _meta_forward(node: Node, in_shape: Shape) -> Shape | None:
    x = torch.empty((TRACE_BATCH, *in_shape), device="meta")
    try:
        with torch.no_grad():
            y = node.module(x)
    except (RuntimeError, ValueError, TypeError, IndexError, OverflowError) as e:
        node.errors.append(f"PyTorch rejects its {format_shape(in_shape)} input: {_first_line(e)}")
        return None
    if any(d < 1 for d in y.shape[1:]):
        node.errors.append(f"its output {format_shape(y.shape[1:])} is empty")
        return None
    return tuple(int(d) for d in y.shape[1:])


def errors(spec: NetworkSpec | dict | str) -> list[str]:
    """Every problem in the spec, one message per layer that causes it ("conv2d #3: ...")."""
    return [f"{n.name}: {msg}" for top in trace(spec) for n in top.flat() for msg in n.errors if msg != NOT_REACHED]


class SeededDropout(nn.Dropout):
    """``nn.Dropout`` that draws its masks from ``generator`` when one is set (``Network.use_generator``), so a
    training job's dropout is a function of its own seed, whatever other jobs in the process draw (docs/architecture.md,
    "Randomness"). Without a generator it is exactly ``nn.Dropout``; it has no weights, so state dicts and generated
    code (``nn.Dropout``) are unaffected."""

    generator: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0 or self.generator is None:
            return super().forward(x)
        keep = 1.0 - self.p
        mask = torch.empty_like(x).bernoulli_(keep, generator=self.generator)  # 1 keeps, 0 drops
        scale = mask.div_(keep) if keep > 0 else mask  # p = 1 drops everything, as F.dropout does
        return x.mul_(scale) if self.inplace else x * scale


class Network(nn.Sequential):
    """The module a spec builds: an ``nn.Sequential`` of its layers that remembers its spec."""

    def __init__(self, spec: NetworkSpec, modules: list[nn.Module]):
        super().__init__(*modules)
        self.spec = spec

    @property
    def input_shape(self) -> Shape:
        return tuple(self.spec.input)

    def use_generator(self, generator: torch.Generator | None) -> Network:
        """Draw every dropout mask from ``generator`` (on the device the network runs on); None: torch's global one."""
        for m in self.modules():
            if isinstance(m, SeededDropout):
                m.generator = generator
        return self


def build(spec: NetworkSpec | dict | str, device: torch.device | str | None = None, *,
          seed: int | None = None) -> Network:
    """A real ``nn.Module`` for ``spec``, freshly initialised as torch's constructors do.

    ``seed``: draw the initial weights from a private ``torch.Generator`` seeded with it — the very weights that
    ``torch.manual_seed(seed)`` followed by ``build(spec)`` gives — without reading or changing torch's global
    generator, which every thread of the server shares. Input: ``(B, *spec.input)``; output: ``(B, *shape of the
    last layer)``. Raises ``SpecError`` listing every invalid layer.
    """
    spec = parse_spec(spec)
    nodes = trace(spec)
    problems = [f"{n.name}: {m}" for top in nodes for n in top.flat() for m in n.errors if m != NOT_REACHED]
    if problems:
        raise SpecError("the network is invalid:\n" + "\n".join(problems))
    if seed is None:
        with torch.device(device or "cpu"):
            return Network(spec, [_real_module(n) for n in nodes])
    with torch.device("meta"):  # no memory and no draws from the global generator; initialise fills every tensor
        net = Network(spec, [_real_module(n) for n in nodes])
    return initialise(net.to_empty(device=device or "cpu"), torch.Generator().manual_seed(seed))


_NO_RANDOM_INIT = (nn.modules.batchnorm._NormBase,)  # deterministic reset_parameters: ones and zeros


def initialise(model: nn.Module, generator: torch.Generator) -> nn.Module:
    """Re-draw ``model``'s parameters from ``generator`` exactly as torch's constructors draw them, module by module
    in registration order (the order ``build`` constructs them), and reset batch norms' running statistics. In place;
    returns ``model``.

    Convolutions and linear layers: ``kaiming_uniform_(a=√5)`` weights and ``U(−1/√fan_in, 1/√fan_in)`` biases
    (``nn.Linear.reset_parameters``). A module type with parameters whose initialisation is not known here is a
    ``ValueError``: guessing would silently break reproducibility.
    """
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                cpu = torch.empty(m.weight.shape)
                nn.init.kaiming_uniform_(cpu, a=math.sqrt(5), generator=generator)
                m.weight.copy_(cpu)
                if m.bias is not None:
                    fan_in, _ = nn.init._calculate_fan_in_and_fan_out(m.weight)
                    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
                    m.bias.copy_(torch.empty(m.bias.shape).uniform_(-bound, bound, generator=generator))
            elif isinstance(m, _NO_RANDOM_INIT):
                m.reset_parameters()
            elif any(True for _ in m.parameters(recurse=False)) or any(True for _ in m.buffers(recurse=False)):
                raise ValueError(f"cannot initialise a {type(m).__name__} from a private generator; teach "
                                 f"engine.nets.build.initialise its torch initialisation")
    return model


def _real_module(node: Node) -> nn.Module:
    layer = node.layer
    if isinstance(layer, Residual):
        body = node.children["body"]
        body_shape = body[-1].out_shape if body else node.in_shape
        return ResidualBlock(nn.Sequential(*[_real_module(c) for c in body]),
                             layer.build_shortcut(node.in_shape, body_shape))
    if isinstance(layer, Inception):
        return InceptionBlock([nn.Sequential(*[_real_module(c) for c in seq]) for seq in node.children.values()])
    return layer.build(node.in_shape)
