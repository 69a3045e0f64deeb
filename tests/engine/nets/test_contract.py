"""The layer-kind contract (docs/layer-kinds.md): every registered kind, checked facet by facet against an oracle.

Networks are drawn by hypothesis from the registry itself — each kind's arguments from what the kind says about them
(``LayerSpec.arguments``: defaults, sample values, else values of the argument's type), composites nested two deep —
so a kind is covered the day it is registered. For each network:

- validity and shapes: the arithmetic trace against PyTorch running the very modules ``build`` makes, on ``meta``
  tensors (``engine.nets.meta``); what PyTorch refuses, the engine refuses; what the engine refuses and PyTorch runs
  must be a layer that cannot train (and then PyTorch's backward must fail — a max pool that reads only padding is
  judged by a slow loop and never run) or one of the spec's own rules, listed in ``POLICY``;
- anything the engine accepts trains: ``build(spec)`` runs forward and backward on a random batch in training mode;
- parameters against the built modules, MACs against ``torch.utils.flop_counter.FlopCounterMode`` (a convolution's or
  linear layer's FLOPs are 2·MACs), per layer;
- generated code against ``build()``: the source run on its own, ``load_state_dict(strict=True)``, equal outputs;
- receptive fields against the input pixels the gradient of the centre output reaches.
"""

from __future__ import annotations

import itertools
import os
import typing
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn.modules.utils import _pair
from torch.utils.flop_counter import FlopCounterMode

from engine.nets.analysis import NOT_REACHED, trace
from engine.nets.build import build
from engine.nets.codegen import codegen
from engine.nets.kinds import KINDS, Argument, LayerSpec, MaxPool2d
from engine.nets.kinds.base import CANNOT_TRAIN, hint_is_branches
from engine.nets.meta import meta_trace
from engine.nets.spec import NetworkSpec, walk
from engine.nets.summary import summary

# The spec's own rules: refusals of networks PyTorch would run (docs/layer-kinds.md, "Refused by design").
POLICY = (
    "needs a flat input",  # a linear layer on an image: torch would apply it to the last axis only
    "needs an image-shaped input",  # a 2-D layer on a flat or 2-D tensor: torch would read it as an unbatched image
    "start_dim 0 would flatten the batch dimension",
    "cannot be added to the identity shortcut",  # torch would broadcast a 1-channel body over the input
    "every branch must end image-shaped",  # torch would concatenate flat branches
    "shortcut must be 'identity' or 'projection'",
    "must be a number > 0", "must be a probability between 0 and 1",  # batch norm's eps and momentum
    "too large to build and train here", "must be at most 2,147,483,647",
)
COMPOSITE = "has an invalid layer (marked below)"
SETTINGS = settings(max_examples=int(os.environ.get("CNNPG_CONTRACT_EXAMPLES", 18)), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Thousands of tiny networks: one thread each is faster than two that wait for each other on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --------------------------------------------------------------------------------------------------- strategies


def _by_type(a: Argument) -> st.SearchStrategy:
    """Values of an argument's type, for a kind that gives no samples."""
    out = []
    for t in typing.get_args(a.hint) or (a.hint,):
        if t is bool:
            out.append(st.booleans())
        elif t is int:
            out.append(st.integers(-1, 5))
        elif t is float:
            out.append(st.floats(-1, 2, allow_nan=False))
        elif t is str:
            out.append(st.sampled_from(a.choices) if a.choices else st.text(max_size=3))
        elif t is type(None):
            out.append(st.none())
        elif typing.get_origin(t) is tuple:
            out.append(st.tuples(*[st.integers(0, 4) for _ in typing.get_args(t)]))
    return st.one_of(out) if out else st.just(a.default)


def _value(a: Argument, depth: int, odd: int = 3) -> st.SearchStrategy:
    if a.layers:
        seq = st.lists(layers(depth + 1), max_size=3).map(tuple)
        return st.lists(seq, min_size=1, max_size=3).map(tuple) if hint_is_branches(a.hint) else seq
    samples = (*a.examples, *a.choices)
    if samples:  # by default, one time in ``odd`` a sample: a layer with every argument odd is rarely valid
        return st.integers(1, odd).flatmap(lambda roll: st.sampled_from(samples) if roll == 1 else st.just(a.default))
    return _by_type(a)


def kind_layers(cls: type[LayerSpec], depth: int, odd: int = 3) -> st.SearchStrategy:
    return st.fixed_dictionaries({a.name: _value(a, depth, odd) for a in cls.arguments()}).map(lambda kw: cls(**kw))


def layers(depth: int = 0) -> st.SearchStrategy:
    """Any registered kind; composites only at depths 0 and 1 (so nested two deep)."""
    kinds = [cls for cls in KINDS.values() if depth < 2 or not cls().sequences()]
    return st.deferred(lambda: st.one_of([kind_layers(cls, depth) for cls in kinds]))


IMAGES = st.tuples(st.integers(1, 4), st.integers(1, 16), st.integers(1, 16))
OTHER_SHAPES = st.one_of(st.tuples(st.integers(1, 24)), st.tuples(st.integers(1, 4), st.integers(2, 14)))
SHAPES = st.integers(0, 9).flatmap(lambda roll: IMAGES if roll < 8 else OTHER_SHAPES)  # images mostly
COMPOSITES = [cls for cls in KINDS.values() if cls().sequences()]


def _fits(shape: tuple, *new: LayerSpec) -> tuple | None:
    """The shape after ``new`` if the engine accepts them on ``shape`` (steers the drawing towards valid networks;
    what is checked is checked against PyTorch)."""
    nodes = trace(NetworkSpec(shape, new))
    return nodes[-1].out_shape if nodes and all(n.ok for n in nodes) else shape if not nodes else None


@st.composite
def specs(draw, kind: str) -> NetworkSpec:
    """A network with a layer of ``kind`` among up to four others (now and then inside a block, or after one
    default layer of another kind that makes it fit, such as a flatten before a linear layer). The others are drawn
    again a few times while they do not fit, so most networks are valid and some are not."""
    start = shape = draw(SHAPES)
    out: list[LayerSpec] = []

    def add(layer: LayerSpec) -> None:
        nonlocal shape
        out.append(layer)
        shape = _fits(shape, layer) if shape is not None else None

    for _ in range(draw(st.integers(0, 2))):
        for attempt in range(4):
            layer = draw(layers())
            if shape is None or _fits(shape, layer) is not None or attempt == 3:
                break
        add(layer)
    layer = draw(kind_layers(KINDS[kind], 0))
    if draw(st.booleans()) and not layer.sequences():
        block = draw(st.sampled_from(COMPOSITES)).example()
        inner = [seq for _, _, seq in block.sequences()]
        inner[0] = (*draw(st.lists(layers(1), max_size=1)), layer)
        layer = block.with_sequences(tuple(inner))
    if shape is not None and _fits(shape, layer) is None and draw(st.integers(0, 3)):
        fixes = [cls.example() for cls in KINDS.values() if _fits(shape, cls.example(), layer) is not None]
        if fixes:
            add(draw(st.sampled_from(fixes)))
    add(layer)
    for _ in range(draw(st.integers(0, 2))):
        for attempt in range(4):
            layer = draw(layers())
            if shape is None or _fits(shape, layer) is not None or attempt == 3:
                break
        add(layer)
    return NetworkSpec(start, tuple(out))


# --------------------------------------------------------------------------------------------------- oracles


def _status(errors: list[str]) -> str:
    return "unreached" if errors == [NOT_REACHED] else "error" if errors else "ok"


def reads_only_padding(layer: MaxPool2d, in_shape: tuple, out_shape: tuple) -> bool:
    """Slow reference: some window of this max pool lies entirely in the padding (every output position of each
    axis, every tap, as torch's pooling loop visits them)."""
    for axis in (0, 1):
        k, s, p, d = (_pair(v)[axis] for v in (layer.kernel_size, layer.stride or layer.kernel_size, layer.padding,
                                                  layer.dilation))
        if any(not any(0 <= u * s - p + i * d < in_shape[1 + axis] for i in range(k))
               for u in range(out_shape[1 + axis])):
            return True
    return False


def _untrainable_in_torch(spec: NetworkSpec, top: int) -> bool:
    """Whether PyTorch fails to train the first ``top + 1`` layers (modules as ``build`` makes them, random batch,
    training mode). A max pool that reads only padding counts as failing without being run."""
    prefix = NetworkSpec(spec.input, spec.layers[: top + 1])
    real = meta_trace(prefix, device="cpu")
    if any(m.status != "ok" for m in real):
        return True  # PyTorch refuses the block the layer is in
    for m in (m for t in real for m in t.flat()):
        if isinstance(m.layer, MaxPool2d) and m.status == "ok" and reads_only_padding(m.layer, m.in_shape,
                                                                                        m.out_shape):
            return True
    net = nn.Sequential(*[m.module for m in real]).train()
    try:
        out = net(torch.randn(2, *spec.input))
        out.sum().backward()
    except RuntimeError:
        return True
    return False


def _agree_with_pytorch(spec: NetworkSpec) -> None:
    """Validity, shapes and parameters, layer by layer, against the meta trace."""
    nodes = [n for top in trace(spec) for n in top.flat()]
    metas = [m for top in meta_trace(spec) for m in top.flat()]
    assert [n.path for n in nodes] == [m.path for m in metas] == [p for p, _ in walk(spec.layers)]
    for n, m in zip(nodes, metas, strict=True):
        engine = _status(n.errors)
        if engine == "ok":
            assert m.status == "ok", (n.name, m.message, spec)
            assert n.out_shape == m.out_shape, (n.name, spec)
            assert n.params == m.params, (n.name, spec)
        elif engine == "error" and m.status == "ok":  # the engine refuses what PyTorch runs forward: say why
            for e in n.errors:
                assert e.startswith(CANNOT_TRAIN) or COMPOSITE in e or any(p in e for p in POLICY), (n.name, e, spec)
                if e.startswith(CANNOT_TRAIN):
                    assert _untrainable_in_torch(spec, n.path[0]), (n.name, e, spec)
        elif m.status == "error":
            assert engine != "ok", (n.name, m.message, spec)


def _module_at(net: nn.Module, path: tuple) -> nn.Module:
    m = net
    for step in path:
        m = getattr(m, step) if isinstance(step, str) else m[step]
    return m


def _trains_and_costs_agree(spec: NetworkSpec) -> None:
    """An accepted spec builds, runs forward and backward, and its parameters and MACs are the modules'."""
    s = summary(spec)
    torch.manual_seed(0)
    net = build(spec).train()
    for path, layer in walk(spec.layers):  # guard: never run what would corrupt memory
        if isinstance(layer, MaxPool2d):
            row = s.rows[[p for p, _ in walk(spec.layers)].index(path)]
            assert not reads_only_padding(layer, row.in_shape, row.out_shape), spec
    x = torch.randn(2, *spec.input)
    with FlopCounterMode(display=False) as counter:
        out = net(x)
    assert tuple(out.shape[1:]) == s.output_shape
    if out.requires_grad:
        out.sum().backward()  # valid means trainable
    flops = counter.get_flop_counts()
    assert s.total_params == sum(p.numel() for p in net.parameters())
    for (path, _), row in zip(walk(spec.layers), s.rows, strict=True):
        module = _module_at(net, path)
        assert row.params == sum(p.numel() for p in module.parameters()), (row.name, spec)
        counted = sum(flops.get("Network." + ".".join(map(str, path)), {}).values())
        assert 2 * 2 * row.macs == counted, (row.name, spec)  # batch of 2, one MAC = 2 FLOPs


def _code_is_the_network(spec: NetworkSpec) -> None:
    torch.manual_seed(0)
    built = build(spec).eval()
    namespace: dict[str, Any] = {"__name__": "generated"}
    exec(compile(codegen(spec), "<generated>", "exec"), namespace)
    generated = namespace["Net"]().eval()
    generated.load_state_dict(built.state_dict(), strict=True)
    x = torch.randn(2, *spec.input)
    with torch.no_grad():
        torch.testing.assert_close(generated(x.clone()), built(x.clone()))


@pytest.mark.parametrize("kind", KINDS.names())
def test_every_kind_agrees_with_pytorch(kind):
    @SETTINGS
    @given(specs(kind))
    def check(spec: NetworkSpec) -> None:
        _agree_with_pytorch(spec)
        if not summary(spec).ok:
            return
        _trains_and_costs_agree(spec)
        _code_is_the_network(spec)

    check()


@pytest.mark.parametrize("kind", KINDS.names())
def test_every_kind_on_tiny_images(kind):
    """Sides of one to three pixels, odd arguments half the time: where windows read only padding, outputs are
    empty, and a dilated max pool can step over the whole image."""
    @SETTINGS
    @given(st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)), kind_layers(KINDS[kind], 0, odd=2),
           st.lists(layers(), max_size=1))
    def check(shape, layer, after) -> None:
        spec = NetworkSpec(shape, (layer, *after))
        _agree_with_pytorch(spec)
        if summary(spec).ok:
            _trains_and_costs_agree(spec)

    check()


# --------------------------------------------------------------------------------------------------- in place


IMAGE = (3, 6, 6)
KEEPERS = [cls for cls in KINDS.values() if _fits(IMAGE, cls.example()) == IMAGE]  # kinds that keep an image's shape
LEARNERS = [cls for cls in KINDS.values() if summary(NetworkSpec(IMAGE, (cls.example(),))).total_params]


@st.composite
def chains(draw) -> NetworkSpec:
    """A layer with parameters (so gradients flow), then two to four shape-keeping layers of any kind, in place or
    not — where an in-place layer may overwrite what an earlier one's backward needs — now and then inside a block."""
    chain = tuple(draw(st.lists(st.sampled_from(KEEPERS).flatmap(lambda cls: kind_layers(cls, 1, odd=2)),
                                min_size=2, max_size=4)))
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(chain)))
        block = draw(st.sampled_from(COMPOSITES)).example()
        seqs = [seq for _, _, seq in block.sequences()]
        block = block.with_sequences(((*chain[cut:],), *seqs[1:]) if len(seqs) > 1 else (chain[cut:],))
        chain = (*chain[:cut], block)
    return NetworkSpec(IMAGE, (draw(st.sampled_from(LEARNERS)).example(), *chain))


@settings(SETTINGS, max_examples=4 * SETTINGS.max_examples)
@given(chains())
def test_in_place_layers_are_refused_exactly_when_training_would_fail(spec):
    _agree_with_pytorch(spec)  # a "cannot train" refusal: PyTorch's backward fails
    if summary(spec).ok:
        _trains_and_costs_agree(spec)  # accepted: it trains
        _code_is_the_network(spec)


def _variants(cls: type[LayerSpec], limit: int = 10) -> list[LayerSpec]:
    """Layers of ``cls`` with every combination of its arguments' samples (at most ``limit``, picked evenly)."""
    options = []
    for a in cls.arguments():
        samples = (a.default, *a.examples, *a.choices)
        options.append([(a.name, v) for v in (samples if len(samples) > 1 else (False, True) if a.hint is bool
                                              else samples)])
    every = list(dict.fromkeys(cls(**dict(combo)) for combo in itertools.product(*options)))
    return every[:: -(-len(every) // limit)]


SHAPE_KEEPING = [v for cls in KINDS.values() for v in _variants(cls) if _fits(IMAGE, v) == IMAGE]
# and each composite with every path one in-place layer (one per kind): does a block's body follow what precedes it?
_FIRST_WRITERS = {v.kind: v for v in SHAPE_KEEPING if getattr(v, "inplace", False) is True and not v.sequences()}
SHAPE_KEEPING += [cls().with_sequences(((w,),) * len(cls().sequences())) for cls in COMPOSITES
                  for w in _FIRST_WRITERS.values()]


def _hands_on_unchanged(layer: LayerSpec) -> bool:
    """Whether PyTorch hands the layer's input on untouched as its output, or a view of it (training mode)."""
    x = torch.randn(2, *IMAGE)
    before = x.clone()
    y = build(NetworkSpec(IMAGE, (layer,))).train()(x)
    return y.untyped_storage().data_ptr() == x.untyped_storage().data_ptr() and torch.equal(x, before)


def test_every_pair_and_viewed_triple_of_shape_keeping_layers_trains_exactly_when_accepted():
    """After a layer with parameters, every ordered pair of shape-keeping layers (every kind, every combination of
    its sample arguments, up to ten), and every triple whose middle layer hands its input on unchanged (a view,
    dropout with p = 0): the engine accepts exactly what PyTorch trains."""
    learner = LEARNERS[0].example()
    views = [v for v in SHAPE_KEEPING if summary(NetworkSpec(IMAGE, (v,))).ok and _hands_on_unchanged(v)]
    writers = [v for v in SHAPE_KEEPING if getattr(v, "inplace", False) is True]
    cases = [(a, b) for a in SHAPE_KEEPING for b in SHAPE_KEEPING]
    cases += [(a, m, b) for a in SHAPE_KEEPING for m in views for b in writers]
    checked = 0
    for chain in cases:
        spec = NetworkSpec(IMAGE, (learner, *chain))
        errors = [e for top in trace(spec) for n in top.flat() for e in n.errors if e != NOT_REACHED]
        if any(not e.startswith(CANNOT_TRAIN) and COMPOSITE not in e for e in errors):
            continue  # refused for its arguments: the main contract test covers those
        assert bool(errors) == _untrainable_in_torch(spec, len(chain)), (errors, spec)
        checked += 1
    assert checked > len(cases) // 2


# --------------------------------------------------------------------------------------------------- receptive fields


class _WindowSum(nn.Module):
    """A max pool's windows summed instead of maxed (ones, padded with zeros; ceil_mode's last window kept as torch
    keeps it), so that the gradient reaches every pixel a window reads — not only its maximum."""

    def __init__(self, pool: nn.MaxPool2d):
        super().__init__()
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.pool
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = (_pair(p.kernel_size), _pair(p.stride), _pair(p.padding),
                                                  _pair(p.dilation))
        out = p(x.detach()).shape[2:]
        padded = F.pad(x, (pw, pw + sw, ph, ph + sh))
        ones = torch.ones(x.shape[1], 1, kh, kw)
        return F.conv2d(padded, ones, stride=(sh, sw), dilation=(dh, dw), groups=x.shape[1])[:, :, :out[0], :out[1]]


def _linearised(net: nn.Module) -> nn.Module:
    """Every weight one and every bias zero; activations, dropout and batch norm (pointwise in evaluation) as the
    identity; max pools as window sums; so every output is a positive sum of the inputs it reads."""
    with torch.no_grad():
        for p in net.parameters():
            p.fill_(1.0)
        for m in net.modules():
            if isinstance(m, nn.Conv2d | nn.Linear) and m.bias is not None:
                m.bias.zero_()
            if isinstance(m, nn.AvgPool2d) and m.divisor_override:
                m.divisor_override = abs(m.divisor_override)
    for name, m in list(net.named_modules()):
        swap = (nn.Identity() if isinstance(m, nn.BatchNorm2d | nn.ReLU | nn.ReLU6 | nn.LeakyReLU | nn.Sigmoid
                                            | nn.Tanh | nn.Dropout)
                else _WindowSum(m) if isinstance(m, nn.MaxPool2d) else None)
        if swap is not None:
            parent, _, child = name.rpartition(".")
            setattr(net.get_submodule(parent) if parent else net, child, swap)
    return net.eval()


@SETTINGS
@given(st.lists(layers(), min_size=1, max_size=4), st.integers(1, 3), st.integers(24, 56), st.integers(24, 56))
def test_receptive_fields_are_what_the_gradient_reaches(layers_, c, h, w):
    spec = NetworkSpec((c, h, w), tuple(layers_))
    nodes = [n for top in trace(spec) for n in top.flat()]
    if any(not n.ok for n in nodes):
        return
    net = _linearised(build(spec))
    outputs = {}
    for path, _ in walk(spec.layers):
        _module_at(net, path).register_forward_hook(lambda m, i, o, path=path: outputs.__setitem__(path, o))
    x = torch.ones(1, c, h, w, requires_grad=True)
    net(x)
    reflects = any(getattr(layer, "padding_mode", "zeros") != "zeros" for _, layer in walk(spec.layers))
    for node in nodes:
        out = outputs[node.path]
        if node.field is None or out.dim() != 4:
            continue
        oh, ow = out.shape[2:]
        (grad,) = torch.autograd.grad(out[0, :, oh // 2, ow // 2].sum(), x, retain_graph=True)
        seen = grad[0].abs().sum(dim=0) > 0
        for axis, size in ((0, h), (1, w)):
            expected = node.field.interval(axis, (oh, ow)[axis] // 2)
            hits = seen.any(dim=1 - axis).nonzero().flatten()
            if expected is None:
                assert not len(hits), (node.name, spec)
            elif 0 <= expected[0] and expected[1] < size:  # inside the image: exactly what the gradient reaches
                assert (int(hits.min()), int(hits.max())) == expected, (node.name, axis, spec)
            elif len(hits) and not reflects:  # partly padding, which the gradient cannot see: not more than the field
                assert expected[0] <= int(hits.min()) and int(hits.max()) <= expected[1], (node.name, axis, spec)
