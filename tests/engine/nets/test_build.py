"""engine.nets.build against PyTorch itself.

The oracle is ``reference``: a spec run layer by layer through ``torch.nn`` on a real CPU batch, with the residual
and inception joins written out by hand. The meta-device trace must accept exactly what PyTorch accepts (and flag the
same layer), and ``build(spec)`` must compute what the reference computes, number for number, with shared weights.

``random_spec`` (seeded, shape-aware) is also what tests/engine/nets/test_summary.py draws its networks from.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import torch
from torch import nn
from torch.nn.modules.utils import _pair

from engine.nets.build import NOT_REACHED, Network, build, errors, trace
from engine.nets.presets import get_preset
from engine.nets.spec import (
    AdaptiveAvgPool2d,
    AvgPool2d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Flatten,
    Inception,
    LayerSpec,
    LeakyReLU,
    Linear,
    MaxPool2d,
    NetworkSpec,
    Path,
    ReLU,
    ReLU6,
    Residual,
    Sigmoid,
    SpecError,
    Tanh,
    walk,
)

# --------------------------------------------------------------------------------------------------- the reference


@dataclass
class Ref:
    """What PyTorch did with one layer: "ok", "error" (it raised, or a join could not be made) or "unreached"."""

    status: str
    out_shape: tuple[int, ...] | None = None
    params: int = 0
    macs: int = 0
    in_shape: tuple[int, ...] | None = None


def _torch_layer(layer: LayerSpec, x: torch.Tensor) -> nn.Module:
    """The torch module a leaf spec stands for, from torch's documented constructors. ``x``: (B, *shape)."""
    c = x.shape[1]
    if isinstance(layer, Conv2d):
        return nn.Conv2d(c, layer.out_channels, layer.kernel_size, layer.stride, layer.padding, layer.dilation,
                         layer.groups, layer.bias, layer.padding_mode)
    if isinstance(layer, MaxPool2d):
        return nn.MaxPool2d(layer.kernel_size, layer.stride, layer.padding, layer.dilation, ceil_mode=layer.ceil_mode)
    if isinstance(layer, AvgPool2d):
        return nn.AvgPool2d(layer.kernel_size, layer.stride, layer.padding, layer.ceil_mode, layer.count_include_pad)
    if isinstance(layer, AdaptiveAvgPool2d):
        return nn.AdaptiveAvgPool2d(layer.output_size)
    if isinstance(layer, BatchNorm2d):
        return nn.BatchNorm2d(c, layer.eps, layer.momentum, layer.affine, layer.track_running_stats)
    if isinstance(layer, ReLU | ReLU6):
        return (nn.ReLU if isinstance(layer, ReLU) else nn.ReLU6)(inplace=layer.inplace)
    if isinstance(layer, LeakyReLU):
        return nn.LeakyReLU(layer.negative_slope, layer.inplace)
    if isinstance(layer, Sigmoid | Tanh):
        return nn.Sigmoid() if isinstance(layer, Sigmoid) else nn.Tanh()
    if isinstance(layer, Dropout):
        return nn.Dropout(layer.p, layer.inplace)
    if isinstance(layer, Flatten):
        return nn.Flatten(layer.start_dim, layer.end_dim)
    if isinstance(layer, Linear):
        return nn.Linear(c, layer.out_features, layer.bias)
    raise AssertionError(f"no reference for {layer}")


def _adopt(module: nn.Module, weights: Iterator[torch.Tensor] | None) -> nn.Module:
    """Give a fresh module the next weights of the built network (same creation order), in eval mode (training mode
    while ``trains`` runs)."""
    if weights is not None:
        for p in module.parameters():
            w = next(weights)
            assert w.shape == p.shape, "build() creates its parameters in a different order or shape"
            p.data.copy_(w)
    return module.train(_TRAINING[0])


_TRAINING = [False]  # whether the reference runs as in training (train mode, autograd on): see ``trains``


def _leaf_macs(module: nn.Module, y: torch.Tensor) -> int:
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return y[0].numel() * (module.in_channels // module.groups) * kh * kw
    if isinstance(module, nn.Linear):
        return module.in_features * module.out_features
    return 0


def _ref_seq(layers, x, prefix, refs, weights) -> torch.Tensor | None:
    for i, layer in enumerate(layers):
        path = (*prefix, i)
        if x is None:
            for sub, _ in walk((layer,), ()):
                refs[(*prefix, i, *sub[1:])] = Ref("unreached")
            continue
        x = _ref_layer(layer, x, path, refs, weights)
    return x


def _children_cost(refs: dict[Path, Ref], path: Path) -> tuple[int, int]:
    n = len(path)
    inner = [r for p, r in refs.items() if len(p) == n + 2 and p[:n] == path and p[n] == "body"]
    inner += [r for p, r in refs.items() if len(p) == n + 3 and p[:n] == path and p[n] == "branches"]
    return sum(r.params for r in inner), sum(r.macs for r in inner)


def _ref_layer(layer, x, path, refs, weights) -> torch.Tensor | None:
    if isinstance(layer, Residual):
        refs[path] = Ref("error")  # until proven otherwise
        y = _ref_seq(layer.body, x.clone(), (*path, "body"), refs, weights)  # the body must not touch x itself
        if y is None:
            return None
        params, macs = _children_cost(refs, path)
        if layer.shortcut == "identity":
            if y.shape != x.shape:  # broadcasting would "work"; a residual needs the very same shape
                return None
            short = x
        else:
            if x.dim() != 4 or y.dim() != 4:
                return None
            # a 1×1 convolution reaches the body's size only with a stride s where ⌊(n − 1)/s⌋ + 1 = m
            sizes = zip(x.shape[2:], y.shape[2:], strict=True)
            strides = [[s for s in range(1, n + 1) if (n - 1) // s + 1 == m] for n, m in sizes]
            if not all(strides):
                return None
            conv = _adopt(nn.Conv2d(x.shape[1], y.shape[1], 1, (strides[0][0], strides[1][0]), bias=False), weights)
            bn = _adopt(nn.BatchNorm2d(y.shape[1]), weights)
            short = bn(conv(x))
            if short.shape != y.shape:
                return None
            params += sum(p.numel() for p in [*conv.parameters(), *bn.parameters()])
            macs += _leaf_macs(conv, short)
        out = y + short
        refs[path] = Ref("ok", tuple(out.shape[1:]), params, macs)
        return out
    if isinstance(layer, Inception):
        refs[path] = Ref("error")
        if x.dim() != 4:
            return None
        outs = [_ref_seq(branch, x.clone(), (*path, "branches", b), refs, weights)
                for b, branch in enumerate(layer.branches)]
        if any(o is None or o.dim() != 4 for o in outs):
            return None
        try:
            out = torch.cat(outs, dim=1)
        except RuntimeError:
            return None
        params, macs = _children_cost(refs, path)
        refs[path] = Ref("ok", tuple(out.shape[1:]), params, macs)
        return out
    try:
        module = _adopt(_torch_layer(layer, x), weights)
        y = module(x)
    except (RuntimeError, ValueError, TypeError):
        refs[path] = Ref("error")
        return None
    if y.numel() == 0:
        refs[path] = Ref("error")
        return None
    refs[path] = Ref("ok", tuple(y.shape[1:]), sum(p.numel() for p in module.parameters()), _leaf_macs(module, y),
                     tuple(x.shape[1:]))
    return y


def reference(spec: NetworkSpec, net: Network | None = None, x: torch.Tensor | None = None):
    """Run ``spec`` through torch on the CPU (eval mode, batch of 2): ``({path: Ref}, output or None)``.
    With ``net``, every reference module takes ``net``'s weights, so the outputs can be compared."""
    x = torch.randn(2, *spec.input) if x is None else x
    refs: dict[Path, Ref] = {}
    weights = iter([p.detach() for p in net.parameters()]) if net is not None else None
    with torch.no_grad():
        y = _ref_seq(spec.layers, x, (), refs, weights)
    if weights is not None and y is not None:
        assert next(weights, None) is None, "build() creates parameters the reference does not"
    return refs, y


def reads_only_padding(layer: MaxPool2d, ref: Ref) -> bool:
    """Slow reference: whether some window of this max pool (input and output shapes from ``ref``) lies entirely in
    the padding — every output position of each axis, every tap, as torch's pooling loop visits them. Such a maximum
    has no input pixel, and torch's backward then writes outside the tensor: never run it."""
    for axis in (0, 1):
        k, s, p, d = (_pair(v)[axis] for v in (layer.kernel_size, layer.stride or layer.kernel_size, layer.padding,
                                                  layer.dilation))
        n = ref.in_shape[1 + axis]
        for u in range(ref.out_shape[1 + axis]):
            if not any(0 <= u * s - p + i * d < n for i in range(k)):
                return True
    return False


def trains(spec: NetworkSpec) -> bool:
    """Whether torch runs ``spec`` forward and backward in training mode on a random batch (the reference's modules,
    the input not requiring gradients, as in training). A max pool that reads only padding is judged by the slow
    loop above and never run."""
    refs, y = reference(spec)
    if y is None:
        return False
    if any(isinstance(layer, MaxPool2d) and reads_only_padding(layer, refs[path]) for path, layer in walk(spec.layers)):
        return False
    _TRAINING[0] = True
    try:
        out = _ref_seq(spec.layers, torch.randn(2, *spec.input), (), {}, None)
        if out.requires_grad:
            out.sum().backward()
    except RuntimeError:
        return False
    finally:
        _TRAINING[0] = False
    return True


# --------------------------------------------------------------------------------------------------- random specs


def _pair_or_int(rng: random.Random, lo: int, hi: int):
    return (rng.randint(lo, hi), rng.randint(lo, hi)) if rng.random() < 0.2 else rng.randint(lo, hi)


def _image_layer(rng: random.Random, channels: int, depth: int) -> LayerSpec:
    roll = rng.random()
    if roll < 0.32:
        out = rng.randint(1, 6)
        divisors = [g for g in range(1, min(channels, out) + 1) if channels % g == 0 and out % g == 0]
        groups = rng.choice(divisors) if rng.random() < 0.9 else rng.randint(1, 4)
        padding = rng.choice([0, 1, 2, "same", "valid", (1, 0), (0, 2)])
        stride = 1 if padding == "same" and rng.random() < 0.85 else _pair_or_int(rng, 1, 3)
        return Conv2d(out, _pair_or_int(rng, 1, 5), stride, padding, _pair_or_int(rng, 1, 2), groups,
                      rng.random() < 0.8, rng.choice(["zeros"] * 6 + ["reflect", "replicate", "circular"]))
    if roll < 0.42:
        return MaxPool2d(_pair_or_int(rng, 1, 4), rng.choice([None, 1, 2, 3, (1, 2)]), rng.choice([0, 0, 1, 2]),
                         rng.choice([1, 1, 2]), rng.random() < 0.4)
    if roll < 0.5:
        return AvgPool2d(_pair_or_int(rng, 1, 4), rng.choice([None, 1, 2, 3]), rng.choice([0, 0, 1, 2]),
                         rng.random() < 0.4, rng.random() < 0.7)
    if roll < 0.54:
        return AdaptiveAvgPool2d(_pair_or_int(rng, 1, 5))
    if roll < 0.62:
        return BatchNorm2d(affine=rng.random() < 0.8)
    if roll < 0.76:
        return _elementwise(rng)
    if roll < 0.88 and depth < 2:
        body = tuple(_image_layer(rng, channels, depth + 1) for _ in range(rng.randint(0, 3)))
        return Residual(body, rng.choice(["identity", "projection"]))
    if depth < 2:
        branches = tuple(tuple(_image_layer(rng, channels, depth + 1) for _ in range(rng.randint(0, 2)))
                         for _ in range(rng.randint(1, 3)))
        return Inception(branches)
    return _elementwise(rng)


def _elementwise(rng: random.Random) -> LayerSpec:
    return rng.choice([ReLU(), ReLU(inplace=True), ReLU6(), LeakyReLU(0.2), Sigmoid(), Tanh(),
                       Dropout(rng.choice([0.0, 0.3, 0.5])), Dropout(0.2, inplace=True)])


def random_spec(rng: random.Random, valid: bool = True) -> NetworkSpec:
    """A small random network (1-3 channels, 8-24 px). ``valid``: every layer is one PyTorch accepts and the network
    trains (drawn again until it does, as judged by ``reference`` and ``trains``); otherwise one layer PyTorch refuses
    is kept, and a few after it (the layers before it train)."""
    shape = start = (rng.randint(1, 3), rng.randint(8, 24), rng.randint(8, 24))
    layers: list[LayerSpec] = []
    broken = False
    for _ in range(rng.randint(1, 6)):
        for _attempt in range(30):
            if len(shape) == 1:
                layer = Linear(rng.randint(1, 12), rng.random() < 0.8) if rng.random() < 0.6 else _elementwise(rng)
            elif rng.random() < 0.1 and layers:
                layer = Flatten()
            else:
                layer = _image_layer(rng, shape[0], 0)
            _, y = reference(NetworkSpec(shape, (layer,)))
            if y is not None and not broken and not trains(NetworkSpec(start, (*layers, layer))):
                continue
            if y is not None or (not valid and not broken and rng.random() < 0.3):
                break
        else:
            continue
        layers.append(layer)
        if y is None:
            broken = True
        elif not broken:
            shape = tuple(y.shape[1:])
    return NetworkSpec(start, tuple(layers))


SEEDS = range(90)


def _status(node_errors: list[str]) -> str:
    if node_errors == [NOT_REACHED]:
        return "unreached"
    return "error" if node_errors else "ok"


# --------------------------------------------------------------------------------------------------- tests


@pytest.mark.parametrize("seed", SEEDS)
def test_trace_accepts_exactly_what_pytorch_accepts(seed):
    spec = random_spec(random.Random(seed), valid=seed % 3 != 0)
    refs, y = reference(spec)
    nodes = [n for top in trace(spec) for n in top.flat()]
    assert [n.path for n in nodes] == [p for p, _ in walk(spec.layers)]
    for node in nodes:
        ref = refs[node.path]
        assert _status(node.errors) == ref.status, (node.name, node.errors, spec)
        assert node.out_shape == ref.out_shape, (node.name, spec)
    problems = errors(spec)
    assert bool(problems) == (y is None)
    if y is None:
        with pytest.raises(SpecError) as info:
            build(spec)
        for p in problems:
            assert p in str(info.value)


@pytest.mark.parametrize("seed", SEEDS[::2])
def test_build_computes_what_the_layers_compute(seed):
    spec = random_spec(random.Random(seed))
    torch.manual_seed(seed)
    net = build(spec).eval()
    x = torch.randn(2, *spec.input)
    refs, expected = reference(spec, net, x)
    with torch.no_grad():
        got = net(x)
    assert got.shape == expected.shape == (2, *refs[(len(spec.layers) - 1,)].out_shape)
    torch.testing.assert_close(got, expected)


def test_build_module_types_and_device():
    spec = NetworkSpec((3, 8, 8), (Conv2d(4, 3, padding=1), BatchNorm2d(), ReLU(), MaxPool2d(), Flatten(), Linear(5)))
    net = build(spec, device="cpu")
    assert [type(m) for m in net] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.MaxPool2d, nn.Flatten, nn.Linear]
    assert net.spec == spec and net.input_shape == (3, 8, 8)
    assert net[0].in_channels == 3 and net[5].in_features == 4 * 4 * 4
    assert all(p.device.type == "cpu" and p.requires_grad for p in net.parameters())
    assert build(spec.to_json()).spec == spec  # JSON text and dicts are accepted too
    assert build(spec.to_dict()).spec == spec


def test_in_place_layers_inside_composites_leave_the_shared_input_alone():
    # body(x) + x, and each inception branch fed x: an in-place ReLU first in one path must not change the other
    x = torch.tensor([[[[-1.0, 2.0], [-3.0, 4.0]]]])
    res = build(NetworkSpec((1, 2, 2), (Residual((ReLU(inplace=True),)),)))
    torch.testing.assert_close(res(x.clone()), torch.relu(x) + x)
    inc = build(NetworkSpec((1, 2, 2), (Inception(((ReLU(inplace=True),), (), (Dropout(0.5, inplace=True),))),)))
    torch.testing.assert_close(inc.eval()(x.clone()), torch.cat([torch.relu(x), x, x], dim=1))


def test_batchnorm_on_one_by_one_maps_is_valid():
    # a batch of one 1×1 map cannot be normalised in training mode, but a real batch can: the trace must not refuse
    spec = NetworkSpec((3, 4, 4), (Conv2d(4, 4), BatchNorm2d(), AdaptiveAvgPool2d(1), BatchNorm2d()))
    assert errors(spec) == []
    assert build(spec)(torch.randn(2, 3, 4, 4)).shape == (2, 4, 1, 1)


def test_pytorch_messages_are_one_line():
    problems = errors(NetworkSpec((1, 5, 5), (Conv2d(10**30, 1),)))
    assert len(problems) == 1 and "\n" not in problems[0] and "frame #" not in problems[0]


def test_node_index_and_names():
    spec = NetworkSpec((2, 8, 8), (ReLU(), Residual((Conv2d(2, 3, padding=1), ReLU())),
                                   Inception(((Conv2d(2, 1),), (), (ReLU(), Conv2d(3, 1))))))
    names = [n.name for top in trace(spec) for n in top.flat()]
    assert names == ["relu #1", "residual #2", "conv2d #2.1", "relu #2.2", "inception #3", "conv2d #3.b1.1",
                     "relu #3.b3.1", "conv2d #3.b3.2"]


def test_errors_and_build_agree_on_an_invalid_nested_layer():
    spec = NetworkSpec((2, 8, 8), (Residual((Conv2d(2, 3, padding=1), Conv2d(2, 9))), ReLU()))
    problems = errors(spec)
    assert problems[0] == "residual #1: its body has an invalid layer (marked below)"
    assert problems[1].startswith("conv2d #1.2: kernel 9 is larger than its 8×8 input plus padding 0")
    assert len(problems) == 2  # relu #2 is only "not reached", which is no problem of its own
    with pytest.raises(SpecError, match="conv2d #1.2: kernel 9"):
        build(spec)


# --------------------------------------------------------------------------------------------------- seeded builds


@pytest.mark.parametrize("seed", range(12))
def test_a_seeded_build_equals_torch_s_own_initialisation_and_leaves_the_global_generator_alone(seed):
    spec = random_spec(random.Random(seed))
    torch.manual_seed(seed)
    expected = build(spec).state_dict()
    before = torch.get_rng_state()
    got = build(spec, seed=seed).state_dict()
    assert torch.equal(torch.get_rng_state(), before)
    assert expected.keys() == got.keys()
    for k in expected:
        assert torch.equal(expected[k], got[k]), k


def test_seeded_builds_of_the_presets_with_composites_equal_torch_s():
    spec = get_preset("resnet18")
    torch.manual_seed(3)
    expected = build(spec).state_dict()
    got = build(spec, seed=3).state_dict()
    assert all(torch.equal(expected[k], got[k]) for k in expected)
    assert not torch.equal(got["0.weight"], build(spec, seed=4).state_dict()["0.weight"])


def test_dropout_draws_its_masks_from_the_network_s_generator():
    spec = NetworkSpec((16,), (Dropout(p=0.5),))
    net = build(spec).train()
    x = torch.ones(4, 16)
    a = net.use_generator(torch.Generator().manual_seed(1))(x)
    torch.manual_seed(123)  # the global generator plays no part
    b = net.use_generator(torch.Generator().manual_seed(1))(x)
    c = net.use_generator(torch.Generator().manual_seed(2))(x)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert set(a.unique().tolist()) <= {0.0, 2.0}  # kept values scaled by 1/(1 − p), as nn.Dropout does
    big = net(torch.ones(200, 1000)).eq(0).float().mean()
    assert abs(float(big) - 0.5) < 0.01
    assert torch.equal(net.eval()(x), x)  # evaluation: identity
    inplace = build(NetworkSpec((16,), (Dropout(p=0.25, inplace=True),))).train()
    inplace.use_generator(torch.Generator().manual_seed(1))
    y = torch.ones(4, 16)
    out = inplace(y)
    assert out.data_ptr() == y.data_ptr() and set(out.unique().tolist()) <= {0.0, float(torch.tensor(4 / 3))}
