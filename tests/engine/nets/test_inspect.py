"""``engine.nets.inspect`` against a manual, layer-by-layer forward pass through the same modules."""

from __future__ import annotations

import threading

import pytest
import torch
from torch import nn

from engine.nets.build import build
from engine.nets.inspect import (
    feature_maps,
    filter_images,
    first_layer_filters,
    layer_modules,
    spread,
    strongest_channels,
)
from engine.nets.spec import NetworkSpec

# conv, in-place relu, a residual block with a projection shortcut, an inception block, a head
SPEC = NetworkSpec.from_dict({"input": [3, 12, 12], "layers": [
    {"kind": "conv2d", "out_channels": 4, "padding": 1},
    {"kind": "relu", "inplace": True},
    {"kind": "residual", "shortcut": "projection", "body": [
        {"kind": "conv2d", "out_channels": 6, "stride": 2, "padding": 1},
        {"kind": "batchnorm2d"},
        {"kind": "relu", "inplace": True},
        {"kind": "conv2d", "out_channels": 6, "padding": 1},
    ]},
    {"kind": "inception", "branches": [
        [{"kind": "conv2d", "out_channels": 2, "kernel_size": 1}],
        [{"kind": "conv2d", "out_channels": 3, "kernel_size": 1}, {"kind": "relu"},
         {"kind": "conv2d", "out_channels": 3, "padding": 1}],
    ]},
    {"kind": "adaptiveavgpool2d"},
    {"kind": "flatten"},
    {"kind": "linear", "out_features": 5},
]})


def _model(spec: NetworkSpec = SPEC) -> nn.Module:
    torch.manual_seed(0)
    model = build(spec)
    for m in model.modules():  # batch norm with non-trivial statistics, so eval mode matters
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    return model


def _manual(model: nn.Module, x: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
    """The convolutions' outputs, computed by calling each module by hand in eval mode."""
    model.eval()
    out = []
    with torch.no_grad():
        y = model[0](x)
        out.append(("conv2d #1", y.clone()))
        y = torch.relu(y)
        block = model[2]
        b = block.body[0](y)
        out.append(("conv2d #3.1", b.clone()))
        b = block.body[3](torch.relu(block.body[1](b)))
        out.append(("conv2d #3.4", b.clone()))
        s = block.shortcut[0](y)
        out.append(("conv2d #3.shortcut", s.clone()))
        y = b + block.shortcut[1](s)
        inc = model[3]
        a = inc.branches[0][0](y)
        out.append(("conv2d #4.b1.1", a))
        c = inc.branches[1][0](y)
        out.append(("conv2d #4.b2.1", c))
        out.append(("conv2d #4.b2.3", inc.branches[1][2](torch.relu(c))))
    return out


def test_feature_maps_match_a_manual_forward():
    model = _model()
    x = torch.randn(2, 3, 12, 12, generator=torch.Generator().manual_seed(1))
    got = feature_maps(model, x)
    want = _manual(model, x)
    assert [n for n, _ in got] == [n for n, _ in want]
    for (name, g), (_, w) in zip(got, want, strict=True):
        assert g.shape == w.shape, name
        torch.testing.assert_close(g, w, msg=name)


def test_inplace_activation_does_not_overwrite_the_recorded_maps():
    model = _model()
    x = torch.randn(1, 3, 12, 12)
    first = feature_maps(model, x)[0][1]
    assert (first < 0).any()  # the in-place relu after it would have zeroed these
    torch.testing.assert_close(first, model[0](x).detach())


def test_feature_maps_leave_the_model_as_it_was():
    model = _model().train()
    feature_maps(model, torch.randn(1, 3, 12, 12))
    assert model.training
    assert all(not m._forward_hooks for m in model.modules())


def test_a_model_shared_between_threads_gives_each_call_its_own_maps():
    """Look inside shares one read-only model between sessions (playground/cache.py): while one call's hooks are on,
    another thread's forward pass through the same model must not land in its maps."""
    model = _model().eval()
    inputs = [torch.randn(1, 3, 12, 12, generator=torch.Generator().manual_seed(i)) for i in range(4)]
    want = [feature_maps(model, x) for x in inputs]
    got: dict[int, list] = {}
    start = threading.Barrier(len(inputs))

    def look(i: int) -> None:
        start.wait()
        got[i] = [feature_maps(model, inputs[i]) for _ in range(20)]

    threads = [threading.Thread(target=look, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, runs in got.items():
        for maps in runs:
            assert [n for n, _ in maps] == [n for n, _ in want[i]]
            for (name, g), (_, w) in zip(maps, want[i], strict=True):
                torch.testing.assert_close(g, w, msg=name)
    assert all(not m._forward_hooks for m in model.modules())


def test_every_leaf_layer_with_kinds_none():
    model = _model()
    got = feature_maps(model, torch.randn(1, 3, 12, 12), kinds=None)
    names = [n for n, _ in got]
    assert names[:2] == ["conv2d #1", "relu #2"]
    assert "batchnorm2d #3.2" in names and "adaptiveavgpool2d #5" in names
    assert "linear #7" not in names  # (B, 5): not a stack of maps
    relu = dict(got)["relu #2"]
    assert (relu >= 0).all()


def test_layer_modules_are_the_models_own_modules():
    model = _model()
    layers = dict(layer_modules(model))
    assert layers["conv2d #1"] is model[0]
    assert layers["conv2d #3.shortcut"] is model[2].shortcut[0]
    assert layers["conv2d #4.b2.3"] is model[3].branches[1][2]


def test_a_plain_module_without_a_spec():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Conv2d(2, 3, 3))
    x = torch.randn(1, 1, 8, 8)
    got = feature_maps(model, x)
    assert [n for n, _ in got] == ["0", "2"]
    torch.testing.assert_close(got[1][1], model(x).detach())


def test_first_layer_filters_are_the_first_convolution():
    model = _model()
    f = first_layer_filters(model)
    assert f.name == "conv2d #1" and f.rgb
    torch.testing.assert_close(f.weight, model[0].weight.detach())
    f.weight.zero_()  # a copy
    assert model[0].weight.abs().sum() > 0


def test_no_convolution_is_a_clear_error():
    spec = NetworkSpec.from_dict({"input": [1, 4, 4], "layers": [{"kind": "flatten"},
                                                                   {"kind": "linear", "out_features": 2}]})
    with pytest.raises(ValueError, match="no convolutional layer"):
        first_layer_filters(build(spec))
    assert feature_maps(build(spec), torch.randn(1, 1, 4, 4)) == []


def test_filter_images_scale_each_filter_to_0_1():
    w = torch.randn(5, 3, 3, 3)
    w[4] = 0.7  # constant
    img = filter_images(w)
    for k in range(4):
        assert img[k].min() == pytest.approx(0.0) and img[k].max() == pytest.approx(1.0)
        torch.testing.assert_close(img[k], (w[k] - w[k].min()) / (w[k].max() - w[k].min()))
    assert torch.all(img[4] == 0.5)
    together = filter_images(w, per_filter=False)
    assert together.min() == pytest.approx(0.0) and together.max() == pytest.approx(1.0)


def test_strongest_channels():
    maps = torch.zeros(4, 2, 2)
    maps[2] += 3
    maps[0] += 1
    maps[3] += 1
    assert strongest_channels(maps, 3) == [2, 0, 3]


@pytest.mark.parametrize(("n", "k"), [(0, 12), (5, 12), (12, 12), (13, 12), (40, 12), (100, 7), (9, 1), (2, 2)])
def test_spread_picks_evenly_from_first_to_last(n, k):
    picks = spread(n, k)
    assert len(picks) == min(n, k) and picks == sorted(set(picks)) and all(0 <= p < n for p in picks)
    if n > 1 and k > 1:
        assert picks[0] == 0 and picks[-1] == n - 1
        gaps = [b - a for a, b in zip(picks, picks[1:], strict=False)]
        assert max(gaps) - min(gaps) <= 1  # evenly: the gaps differ by at most one
    with pytest.raises(ValueError, match="k ≥ 1"):
        spread(3, 0)
