"""engine.nets.summary against a real CPU forward pass of ``build(spec)``.

Every row is checked against the built module at that row's place (forward hooks): output shape, parameters, MACs
(counted from the real forward's output sizes), memory, and the number each output-size and parameter formula ends
with. Receptive fields are checked empirically: with positive weights, the input pixels that get a nonzero gradient
from one output pixel are exactly the pixels it sees.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import fields

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_build import random_spec  # tests/engine/nets/test_build.py: seeded random networks PyTorch accepts
from torch import nn

from engine.nets.build import NOT_REACHED, build, errors
from engine.nets.spec import (
    AdaptiveAvgPool2d,
    AvgPool2d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Flatten,
    Inception,
    LayerSpec,
    Linear,
    MaxPool2d,
    NetworkSpec,
    Path,
    ReLU,
    Residual,
    SpecError,
    Tanh,
    ZeroPad2d,
    walk,
)
from engine.nets.summary import BYTES_PER_VALUE, summary


def module_at(net: nn.Module, path: Path) -> nn.Module:
    """The built module at a spec path: ``(3, "body", 1)`` -> ``net[3].body[1]``."""
    m = net
    for step in path:
        m = getattr(m, step) if isinstance(step, str) else m[step]
    return m


def real_pass(spec: NetworkSpec):
    """Build ``spec``, run a batch of 2 through it and return the net, the output and, per path, the real module
    with its output shape and the MACs counted from what its convolutions and linear layers really produced."""
    torch.manual_seed(0)
    net = build(spec).eval()
    shapes, macs = {}, {}
    handles = []
    for path, _ in walk(spec.layers):
        m = module_at(net, path)
        handles.append(m.register_forward_hook(lambda mod, i, o, path=path: shapes.__setitem__(path, tuple(o.shape))))
    for m in net.modules():
        if isinstance(m, nn.Conv2d):  # every output value: in_channels/groups · kh · kw multiply-adds
            handles.append(m.register_forward_hook(lambda mod, i, o: macs.__setitem__(
                mod, o[0].numel() * mod.in_channels // mod.groups * mod.kernel_size[0] * mod.kernel_size[1])))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(lambda mod, i, o: macs.__setitem__(
                mod, mod.in_features * mod.out_features)))
    with torch.no_grad():
        y = net(torch.randn(2, *spec.input))
    for h in handles:
        h.remove()
    return net, y, shapes, macs


SIZE = re.compile(r"^out (H, W|H|W): .* = (\d+)$")
STATED = re.compile(r"(?:= |^params )([\d,]+)(?: \(.*)?$")  # "params (3·3·1 + 1)·8 = 80", "params 0 (affine off)..."


@pytest.mark.parametrize("seed", range(0, 180, 3))
def test_rows_match_a_real_forward_pass(seed):
    spec = random_spec(random.Random(seed))
    s = summary(spec)
    assert s.ok and s.errors == ()
    net, y, shapes, macs = real_pass(spec)
    paths = [p for p, _ in walk(spec.layers)]
    assert len(s.rows) == len(paths)
    for path, row in zip(paths, s.rows, strict=True):
        m = module_at(net, path)
        real = shapes[path][1:]
        assert row.out_shape == real, (row.name, spec)
        assert row.depth == sum(isinstance(p, str) for p in path)
        assert row.params == sum(p.numel() for p in m.parameters()) and row.frozen_params == 0, row.name
        assert row.macs == sum(macs.get(sub, 0) for sub in m.modules()), (row.name, spec)
        assert row.memory == math.prod(real) * BYTES_PER_VALUE
        if len(real) == 3:
            assert row.receptive_field is not None
        for line in row.formulas:
            size = SIZE.match(line)
            if size:  # "out H, W: ⌊(n + 2·p − k)/s⌋ + 1 = N": N is the real height and/or width
                axes = {"H, W": (1, 2), "H": (1,), "W": (2,)}[size.group(1)]
                assert all(int(size.group(2)) == real[a] for a in axes), (line, real, spec)
            elif line.startswith("params"):
                assert int(STATED.search(line).group(1).replace(",", "")) == row.params, line
            elif line.startswith("MACs"):
                assert int(STATED.search(line).group(1).replace(",", "")) == row.macs, line
    real_params = sum(p.numel() for p in net.parameters())
    assert s.total_params == s.trainable_params == real_params
    assert s.param_memory == real_params * BYTES_PER_VALUE
    assert s.total_macs == sum(macs.values())
    assert s.output_shape == tuple(y.shape[1:])


# pools and convolutions at the edges of the output-size rule: dilation, ceil_mode (a last window that starts in the
# right padding is dropped; one that starts inside the input but sticks out is kept), 'same' with even kernels
SIZE_CASES = [
    (5, MaxPool2d(2, 2, 1, ceil_mode=True)),
    (6, MaxPool2d(2, 2, 1, ceil_mode=True)),
    (3, MaxPool2d(4, 3, ceil_mode=True)),
    (7, MaxPool2d(3, 2, 1, dilation=2, ceil_mode=True)),
    (8, MaxPool2d(3, 3, 1, dilation=3)),
    (9, AvgPool2d(4, 3, 2, ceil_mode=True)),
    (10, AvgPool2d(3, 4, 1, ceil_mode=True, count_include_pad=False)),
    (4, AvgPool2d(3, 2, 0, ceil_mode=True)),
    (11, Conv2d(2, 3, stride=2, padding=1, dilation=3)),
    (8, Conv2d(2, 2, padding="same")),
    (8, Conv2d(2, (4, 3), padding="same", dilation=(1, 2))),
    (1, Conv2d(2, 2, padding="same")),
    (8, Conv2d(2, 3, stride=(2, 3), padding=(0, 2), dilation=(2, 1))),
]


@pytest.mark.parametrize(("n", "layer"), SIZE_CASES)
def test_output_size_formula_ends_with_the_real_size(n, layer):
    spec = NetworkSpec((2, n, n + 1), (layer,))
    s = summary(spec)
    assert s.ok, s.errors
    real = build(spec)(torch.randn(1, 2, n, n + 1)).shape[2:]
    sizes = {m.group(1): int(m.group(2)) for m in map(SIZE.match, s.rows[0].formulas) if m}
    assert sizes  # a formula for H and one for W (or one for both)
    assert sizes.get("H", sizes.get("H, W")) == real[0]
    assert sizes.get("W", sizes.get("H, W")) == real[1]


def test_dropped_last_window_is_explained():
    (line, *_) = summary(NetworkSpec((1, 5, 5), (MaxPool2d(2, 2, 1, ceil_mode=True),))).rows[0].formulas
    assert line == "out H, W: ⌈(5 + 2·1 − 2)/2⌉ + 1 − 1 (the last window would start in the right padding) = 3"


def test_same_padding_note_says_where_the_extra_pixel_goes():
    notes = [[f for f in summary(NetworkSpec((1, 8, 8), (conv,))).rows[0].formulas if f.startswith("'same'")][0]
             for conv in (Conv2d(1, 3, padding="same"), Conv2d(1, 2, padding="same"),
                          Conv2d(1, 2, padding="same", dilation=2))]
    assert notes[0] == "'same' padding: 1 each side"
    assert notes[1] == "'same' padding: 0 top/left, 1 bottom/right (PyTorch puts the odd one on the bottom/right)"
    assert notes[2] == "'same' padding: 1 each side"  # dilation 2: the kernel spans 3 pixels, an odd number


# --------------------------------------------------------------------------------------------------- receptive field


def _extent(mask: torch.Tensor) -> tuple[int, int]:
    rows = mask.any(dim=1).nonzero()
    cols = mask.any(dim=0).nonzero()
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


def measured_fields(spec: NetworkSpec) -> dict[Path, tuple[int, int]]:
    """Per layer: how many input rows and columns the gradient of its centre output pixel reaches, with every
    parameter set to one (so nothing cancels) and no layer that zeroes gradients (conv and average pooling only)."""
    net = build(spec).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.fill_(1.0)
    outs = {}
    for path, _ in walk(spec.layers):
        module_at(net, path).register_forward_hook(lambda m, i, o, path=path: outs.__setitem__(path, o))
    x = torch.ones(1, *spec.input, requires_grad=True)
    net(x)
    fields = {}
    for path, out in outs.items():
        h, w = out.shape[2:]
        (grad,) = torch.autograd.grad(out[0, :, h // 2, w // 2].sum(), x, retain_graph=True)
        mask = grad[0].abs().sum(dim=0) > 0
        assert not (mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any()), "input too small"
        fields[path] = _extent(mask)
    return fields


def _rf_layer(rng: random.Random) -> LayerSpec:
    """A conv, an average pool or a composite of convs, all one channel wide."""
    roll = rng.random()
    if roll < 0.5:
        padding = rng.choice([0, 1, 2, "same", (1, 0)])
        stride = 1 if padding == "same" else (rng.randint(1, 2), rng.randint(1, 3))
        kernel, dilation = (rng.randint(1, 4), rng.randint(1, 4)), (rng.randint(1, 3), rng.randint(1, 2))
        return Conv2d(1, kernel, stride, padding, dilation)
    if roll < 0.75:
        kernel = rng.randint(1, 3)
        return AvgPool2d(kernel, rng.choice([None, 1, 2, 3]), rng.randint(0, kernel // 2), rng.random() < 0.5)
    if roll < 0.88:
        if rng.random() < 0.5:
            return Residual((Conv2d(1, 3, padding=1), Conv2d(1, rng.choice([2, 3]), padding="same")), "identity")
        return Residual((Conv2d(2, 3, 2, 1), Conv2d(1, 2, padding="same")), "projection")
    k = rng.choice([2, 4])
    return Inception(((Conv2d(1, k, padding="same"), Conv2d(1, k, padding="same")), (Conv2d(1, 3, padding=1),),
                      (), (AvgPool2d(3, 1, 1),)))


@pytest.mark.parametrize("seed", range(18))
def test_receptive_field_is_what_the_gradient_reaches(seed):
    rng = random.Random(seed)
    layers = tuple(_rf_layer(rng) for _ in range(rng.randint(1, 4)))
    probe = summary(NetworkSpec((1, 64, 64), layers))
    assert probe.ok, probe.errors
    # a field does not depend on the input size: pick one wide enough that the centre pixel's field stays inside
    n = min(3 * max(max(r.receptive_field) for r in probe.rows) + 32, 480)
    spec = NetworkSpec((1, n, n), layers)
    s = summary(spec)
    fields = measured_fields(spec)
    for (path, _), row in zip(walk(spec.layers), s.rows, strict=True):
        assert row.receptive_field == fields[path], (row.name, spec)


@pytest.mark.parametrize(("spec", "expected"), [
    # inception branches padded differently see shifted windows: the union is wider than the widest branch
    (NetworkSpec((1, 32, 32), (Inception(((Conv2d(1, 2, padding="same"), Conv2d(1, 2, padding="same")),
                                          (Conv2d(1, 3, padding=1),))),)), (4, 4)),
    # a projection shortcut of a strided body: body field 3, the shortcut's 1×1 window lies inside it
    (NetworkSpec((1, 32, 32), (Conv2d(1, 3), Residual((Conv2d(2, 3, 2, 1),), "projection"))), (5, 5)),
    (NetworkSpec((1, 32, 32), (Residual((Conv2d(1, 1, 2),), "projection"), Conv2d(1, 3))), (5, 5)),
    # adaptive pooling when the sizes divide: 24 -> 4 is a 6×6 window with stride 6
    (NetworkSpec((1, 24, 24), (AdaptiveAvgPool2d(4),)), (6, 6)),
    (NetworkSpec((1, 40, 40), (Conv2d(1, 3, padding=1), AdaptiveAvgPool2d(8), Conv2d(1, 3))), (17, 17)),
    (NetworkSpec((1, 30, 30), (Conv2d(1, (3, 5), dilation=(4, 2), padding=(4, 4)), AvgPool2d(2, 3))), (10, 10)),
])
def test_receptive_field_special_cases(spec, expected):
    s = summary(spec)
    assert [r for r in s.rows if r.depth == 0][-1].receptive_field == expected
    measured = measured_fields(spec)
    for (path, _), row in zip(walk(spec.layers), s.rows, strict=True):
        assert row.receptive_field == measured[path], row.name


def test_adaptive_pooling_that_does_not_divide_is_exact():
    # 5 -> 3 pools [0, 2), [1, 4), [3, 5): the middle output sees 3 pixels
    assert summary(NetworkSpec((1, 5, 5), (AdaptiveAvgPool2d(3),))).rows[0].receptive_field == (3, 3)
    # upsampling 2 -> 5, then a 3×3 convolution: the centre output sees both input pixels, no more
    rows = summary(NetworkSpec((1, 2, 2), (AdaptiveAvgPool2d(5), Conv2d(1, 3)))).rows
    assert rows[0].receptive_field == (2, 2) and rows[1].receptive_field == (2, 2)
    assert rows[1].notes  # the field depends on the output: the page says so


@pytest.mark.parametrize(("n", "m", "k"), [(7, 5, 3), (9, 4, 2), (31, 6, 3), (12, 5, 1), (3, 8, 3), (40, 7, 2)])
def test_receptive_field_after_adaptive_pooling_is_what_the_gradient_reaches(n, m, k):
    """Windows of ⌊i·n/m⌋ … ⌈(i+1)·n/m⌉ are no stride; the centre output's field is still exact: compare it with
    the input pixels the gradient of that output reaches (conv and pool weights one, so nothing cancels; no padding,
    which the field counts as Araujo et al. do but the gradient cannot see)."""
    spec = NetworkSpec((1, 3 * n, n), (Conv2d(1, 3), AdaptiveAvgPool2d(m), Conv2d(1, k), AvgPool2d(2, 1)))
    net = build(spec).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.fill_(1.0)
    x = torch.ones(1, *spec.input, requires_grad=True)
    y = net(x)
    h, w = y.shape[2:]
    (grad,) = torch.autograd.grad(y[0, 0, h // 2, w // 2], x)
    rows, cols = (grad[0, 0].abs() > 0).any(dim=1).nonzero(), (grad[0, 0].abs() > 0).any(dim=0).nonzero()
    measured = (int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1))
    assert summary(spec).rows[-1].receptive_field == measured


# --------------------------------------------------------------------------------------------------- invalid specs


INVALID = [
    # (spec, name of the causing row, text in its message)
    (NetworkSpec((1, 5, 5), (Conv2d(4, 3), ReLU(), Conv2d(4, 7), Tanh())), "conv2d #3",
     "kernel 7 is larger than its 3×3 input plus padding 0"),
    (NetworkSpec((1, 8, 8), (Conv2d(4, 3), Linear(10), ReLU())), "linear #2",
     "add a flatten layer before it (it would then get 144 features)"),
    (NetworkSpec((2, 8, 8), (ReLU(), Conv2d(4, 3, groups=3), ReLU())), "conv2d #2",
     "groups 3 must divide both the input channels (2) and out_channels (4)"),
    (NetworkSpec((2, 8, 8), (Conv2d(4, 3, stride=2, padding="same"), ReLU())), "conv2d #1",
     "padding 'same' needs stride 1"),
    (NetworkSpec((2, 8, 8), (ReLU(), MaxPool2d(2, padding=2), ReLU())), "maxpool2d #2",
     "padding 2 must be at most half the kernel size 2"),
    (NetworkSpec((1, 8, 8), (ReLU(), Conv2d(4, "abc"), ReLU())), "conv2d #2", "kernel_size must be an integer"),
    (NetworkSpec((1, 8, 8), (Conv2d(-4), ReLU())), "conv2d #1", "out_channels must be an integer ≥ 1, got -4"),
    (NetworkSpec((1, 8, 8), (Conv2d(2), Dropout(1.5), ReLU())), "dropout #2",
     "p must be a probability between 0 and 1, got 1.5"),
    (NetworkSpec((1, 8, 8), (ReLU(), Residual((Conv2d(8, 3),)), ReLU())), "residual #2",
     "the body turns 1×8×8 into 8×6×6, so it cannot be added to the identity shortcut"),
    (NetworkSpec((1, 8, 8), (Inception(((Conv2d(2, 3),), (Conv2d(2, 1),))), Flatten())), "inception #1",
     "branches end at different sizes (branch 1: 6×6, branch 2: 8×8)"),
    (NetworkSpec((1, 8, 8), (Conv2d(2), Flatten(0), Linear(3))), "flatten #2",
     "start_dim 0 would flatten the batch dimension"),
    (NetworkSpec((1, 8, 8), (Residual((Conv2d(2), Conv2d(2, 9))), ReLU())), "conv2d #1.2",
     "kernel 9 is larger than its 6×6 input plus padding 0"),
    (NetworkSpec((1, 8, 8), (Inception(((Conv2d(2),), (ReLU(), Conv2d(2, 1, stride=0)))), ReLU())), "conv2d #1.b2.2",
     "stride must be an integer or a (height, width) pair of integers ≥ 1, got 0"),
    (NetworkSpec((1, 8, 8), (Conv2d(2), AvgPool2d((2, 3, 4)))), "avgpool2d #2",
     "kernel_size must be one integer or two"),
    (NetworkSpec((1, 4, 4), (Conv2d(2, 3, padding=9, padding_mode="reflect"),)), "conv2d #1",
     "padding_mode 'reflect' needs padding less than the input's side: padding 9 on a side of 4"),
    (NetworkSpec((4,), (Conv2d(2),)), "conv2d #1", "needs an image-shaped input C×H×W, but gets a flat vector of 4"),
    (NetworkSpec((1, 8, 8), (Residual((Conv2d(2, 1, padding=1),), "projection"), ReLU())), "residual #1",
     "the body shrinks 8×8 to 10×10, which no 1×1 strided projection reproduces"),
    (NetworkSpec((1, 8, 8), (Residual((ReLU(),), "dense"), ReLU())), "residual #1",
     "shortcut must be 'identity' or 'projection', got 'dense'"),
    (NetworkSpec((1, 8, 8), (Inception(()), ReLU())), "inception #1", "needs at least one branch"),
    (NetworkSpec((1, 8, 8), (Inception(((Flatten(),), ())), ReLU())), "inception #1",
     "every branch must end image-shaped"),
    (NetworkSpec((1, 8, 8), (Flatten(2, 1), ReLU())), "flatten #1", "start_dim 2 comes after end_dim 1"),
    (NetworkSpec((1, 8, 8), (Flatten(), BatchNorm2d(), ReLU())), "batchnorm2d #2", "gets a flat vector of 64"),
    (NetworkSpec((1, 8, 8), (MaxPool2d(3, 1, dilation=4), ReLU())), "maxpool2d #1",
     "kernel 3 (dilated to 9×9) is larger than its 8×8 input plus padding 0"),
]


@pytest.mark.parametrize(("spec", "culprit", "text"), INVALID)
def test_invalid_layer_is_reported_on_its_row(spec, culprit, text):
    s = summary(spec)  # never raises
    names = [r.name for r in s.rows]
    at = names.index(culprit)
    row = s.rows[at]
    assert any(text in e for e in row.errors), row.errors
    assert row.out_shape is None and row.macs == 0 and row.memory == 0 and row.formulas == ()
    assert not s.ok and s.output_shape is None
    assert f"{culprit}: {next(e for e in row.errors if text in e)}" in s.errors
    assert s.errors == tuple(errors(spec))
    # the layers before it were summarised; the ones after it (at its depth or above) were not reached
    culprit_path = [p for p, _ in walk(spec.layers)][at]
    for (path, _), r in zip(walk(spec.layers), s.rows, strict=True):
        if path < culprit_path[: len(path)] or (len(path) >= len(culprit_path) and path < culprit_path):
            assert r.ok and r.out_shape is not None, r.name
        elif path[:1] > culprit_path[:1]:
            assert r.errors == (NOT_REACHED,) and r.out_shape is None, r.name
    with pytest.raises(SpecError) as info:
        build(spec)
    assert culprit in str(info.value) and text in str(info.value)


@pytest.mark.parametrize("value", ["abc", -1, 0, 1.5, True, None, (2,), (1, 2, 3), ((1, 2), 3), 10**30, "same"])
@pytest.mark.parametrize("field", ["out_channels", "kernel_size", "stride", "padding", "dilation", "groups"])
def test_bad_argument_values_never_raise_from_summary(field, value):
    conv = Conv2d(**{field: value})
    spec = NetworkSpec((2, 8, 8), (conv, MaxPool2d(), Residual((Conv2d(**{field: value}),), "projection")))
    s = summary(spec)
    if s.ok:  # then PyTorch must agree: it builds and runs
        assert build(spec)(torch.randn(2, 2, 8, 8)).shape[1:] == s.output_shape
    else:
        assert s.rows[0].errors and s.rows[1].errors == (NOT_REACHED,)
        with pytest.raises(SpecError):
            build(spec)


def _garbage(draw_value):
    """Layers whose every argument may be anything JSON can hold."""
    return st.one_of([st.builds(cls, **{f.name: draw_value for f in fields(cls)})
                      for cls in (Conv2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, BatchNorm2d, Dropout, Flatten,
                                  Linear, ReLU, Tanh)])


ARGUMENT = st.one_of(st.integers(-2, 5), st.sampled_from([None, True, 1.5, "abc", "same", "valid", "zeros", (2,),
                                                          (1, 2), (0, 1), (3, 1, 1), 10**30]))
GARBAGE_LAYERS = st.recursive(_garbage(ARGUMENT), lambda inner: st.one_of(
    st.builds(Residual, st.lists(inner, max_size=3).map(tuple), st.sampled_from(["identity", "projection", 3])),
    st.builds(Inception, st.lists(st.lists(inner, max_size=2).map(tuple), max_size=3).map(tuple))), max_leaves=6)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.tuples(st.integers(1, 3), st.integers(1, 9), st.integers(1, 9)), st.lists(GARBAGE_LAYERS, max_size=4))
def test_any_arguments_are_summarised_never_raised(shape, layers):
    spec = NetworkSpec(shape, tuple(layers))
    s = summary(spec)
    assert len(s.rows) == len(list(walk(spec.layers)))
    assert s.errors == tuple(errors(spec))
    if not s.ok:
        with pytest.raises(SpecError):
            build(spec)
    elif s.total_params < 10**6:  # what the summary accepts, PyTorch builds and runs to the summarised shape
        out = build(spec).eval()(torch.randn(2, *shape))
        assert tuple(out.shape[1:]) == s.output_shape


def test_totals():
    spec = NetworkSpec((3, 8, 8), (Conv2d(4, 3, padding=1, bias=False), BatchNorm2d(), ReLU(), Flatten(), Linear(5)))
    s = summary(spec)
    assert s.total_params == 3 * 3 * 3 * 4 + 2 * 4 + 256 * 5 + 5
    assert s.total_macs == 8 * 8 * 4 * 27 + 256 * 5
    assert s.activation_memory == (4 * 64 * 3 + 256 + 5) * 4
    d = s.to_dict()
    assert d["totals"]["params"] == s.total_params and d["output_shape"] == [5]
    assert d["rows"][0]["out_shape"] == [4, 8, 8] and d["rows"][0]["receptive_field"] == [3, 3]
    assert summary(NetworkSpec((3, 8, 8), ())).output_shape == (3, 8, 8)


# --------------------------------------------------------------------------------------------------- fixed in issue 7


def test_zero_padding_says_how_it_changes_the_shape():
    rows = summary(NetworkSpec((3, 8, 10), (ZeroPad2d((0, 1, 2, 3)), ZeroPad2d(1)))).rows
    assert rows[0].out_shape == (3, 13, 11) and rows[1].out_shape == (3, 15, 13)
    assert rows[0].formulas == ("out H: 8 + 2 + 3 = 13", "out W: 10 + 0 + 1 = 11",
                                "channels stay 3; params 0 (the padding is zeros, nothing to learn)")
    assert rows[1].formulas[0] == "out H: 13 + 2·1 = 15"


def test_zero_padding_shifts_the_receptive_field():
    # each branch pads one side, so their 2×2 windows sit one pixel apart: together they see 3×3
    block = Inception(((ZeroPad2d((1, 0, 1, 0)), Conv2d(1, 2)), (ZeroPad2d((0, 1, 0, 1)), Conv2d(1, 2))))
    spec = NetworkSpec((1, 32, 32), (block,))
    assert summary(spec).rows[0].receptive_field == (3, 3)
    assert measured_fields(spec)[(0,)] == (3, 3)


def test_a_flatten_that_keeps_the_image_keeps_the_receptive_field():
    spec = NetworkSpec((1, 32, 32), (Conv2d(1, 3), Flatten(start_dim=-1), Conv2d(1, 3)))
    rows = summary(spec).rows
    assert rows[1].out_shape == (1, 30, 30) and rows[1].receptive_field == (3, 3)
    assert rows[2].receptive_field == (5, 5) == measured_fields(spec)[(2,)]
