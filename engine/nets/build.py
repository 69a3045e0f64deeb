"""Spec -> ``nn.Module``: a valid spec built into a real network, its weights drawn as torch's constructors draw them.

The spec is traced first (``engine.nets.analysis.trace``: shape arithmetic, every layer checked, nothing built); an
invalid spec raises a ``SpecError`` listing every problem. Each layer's module comes from its kind
(``LayerSpec.module``), so a spec builds exactly what the summary and the generated code describe.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from engine.nets.analysis import NOT_REACHED, Node, errors, path_index, trace
from engine.nets.kinds import SeededDropout
from engine.nets.limits import check_cost, check_spec
from engine.nets.spec import NetworkSpec, Shape, SpecError, parse_spec

__all__ = ["NOT_REACHED", "Network", "Node", "SeededDropout", "build", "errors", "initialise", "path_index", "trace"]


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
    check_spec(spec)  # the server's limits, before tracing (docs/layer-kinds.md, "Limits")
    nodes = trace(spec)
    problems = [f"{n.name}: {m}" for top in nodes for n in top.flat() for m in n.errors if m != NOT_REACHED]
    if problems:
        raise SpecError("the network is invalid:\n" + "\n".join(problems))
    flat = [n for top in nodes for n in top.flat()]
    check_cost(sum(n.params for n in nodes),  # nothing is allocated above this line
               sum(math.prod(n.out_shape) * 4 for n in flat if not n.children and n.out_shape))
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
    inner = [[_real_module(child) for child in seq] for seq in node.children.values()]
    return node.layer.module(node, inner)
