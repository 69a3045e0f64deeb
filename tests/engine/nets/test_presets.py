"""Presets against their oracles: torchvision's own models (parameters, layer hyperparameters, outputs with the same
weights) and torchinfo's multiply-add count."""

from __future__ import annotations

import functools

import pytest
import torch
import torchvision.models as tvm
from torch import nn
from torch.nn.modules.utils import _pair
from torchinfo import summary as torchinfo_summary

from engine.nets.build import build
from engine.nets.presets import PRESETS, Preset, get_preset, preset_names
from engine.nets.spec import NetworkSpec
from engine.nets.summary import Summary, summary

TORCHVISION = {
    "alexnet": lambda: tvm.alexnet(weights=None),
    "vgg16": lambda: tvm.vgg16(weights=None),
    "resnet18": lambda: tvm.resnet18(weights=None),
    "resnet50": lambda: tvm.resnet50(weights=None),
    "googlenet": lambda: tvm.googlenet(weights=None, aux_logits=False, init_weights=False),
    "mobilenet_v2": lambda: tvm.mobilenet_v2(weights=None),
}
IMAGENET_PRESETS = list(TORCHVISION)
FORWARD_PRESETS = ["resnet18", "mobilenet_v2"]  # a real 224-px forward each; cheap enough for two CPU cores


@functools.cache
def torchvision_model(name: str) -> nn.Module:
    """Built once per test session: VGG-16 alone takes seconds to initialise."""
    return TORCHVISION[name]().eval()


@functools.cache
def preset_summary(name: str) -> Summary:
    return summary(get_preset(name))


@functools.cache
def torchinfo_macs(name: str) -> int:
    return torchinfo_summary(torchvision_model(name), input_size=(1, 3, 224, 224), verbose=0).total_mult_adds


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def fingerprint(model: nn.Module) -> list[tuple]:
    """The hyperparameters of every conv, batch norm, max pool, linear and dropout, in definition order."""
    out: list[tuple] = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            out.append(("conv", m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding, m.groups,
                        m.bias is not None))
        elif isinstance(m, nn.BatchNorm2d):
            out.append(("bn", m.num_features, m.eps, m.momentum))
        elif isinstance(m, nn.MaxPool2d):
            out.append(("maxpool", _pair(m.kernel_size), _pair(m.stride), _pair(m.padding), m.ceil_mode))
        elif isinstance(m, nn.Linear):
            out.append(("linear", m.in_features, m.out_features, m.bias is not None))
        elif isinstance(m, nn.Dropout):
            out.append(("dropout", m.p))
    return out


# --------------------------------------------------------------------------------------------------- the menu


def test_menu_order_and_entries():
    assert preset_names() == ["lenet5", "alexnet", "vgg16", "resnet18", "resnet50", "googlenet", "mobilenet_v2",
                              "efficientnet_lite0"]
    assert PRESETS.names(tags=("pretrained",)) == ["efficientnet_lite0"]  # a preset carries its weights' metadata
    assert PRESETS["efficientnet_lite0"].weights.dataset == "ImageNet" and PRESETS["lenet5"].weights is None
    for name, preset in PRESETS.items():
        assert isinstance(preset, Preset) and preset.name == name
        assert preset.title and preset.paper and len(preset.description) > 200
        assert get_preset(name) is preset.spec


def test_unknown_preset_names_it_and_lists_valid_ones():
    with pytest.raises(ValueError, match="'nope'") as info:
        get_preset("nope")
    for name in preset_names():
        assert name in str(info.value)


@pytest.mark.parametrize("name", preset_names())
def test_json_round_trip(name):
    spec = get_preset(name)
    assert NetworkSpec.from_json(spec.to_json()) == spec
    assert NetworkSpec.from_json(spec.to_json(full=True)) == spec
    assert NetworkSpec.from_token(spec.to_token()) == spec


@pytest.mark.parametrize("name", preset_names())
def test_summary_is_valid(name):
    s = preset_summary(name)
    assert s.ok, s.errors
    assert s.output_shape == ((10,) if name == "lenet5" else (1000,))


# --------------------------------------------------------------------------------------------------- LeNet-5


def test_lenet5_params_and_shapes():
    spec = get_preset("lenet5")
    s = summary(spec)
    assert s.total_params == n_params(build(spec)) == 61_706
    shapes = [r.out_shape for r in s.rows if r.depth == 0]
    assert shapes == [(6, 28, 28), (6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 10, 10), (16, 5, 5),
                      (400,), (120,), (120,), (84,), (84,), (10,)]


def test_lenet5_forward():
    spec = get_preset("lenet5")
    assert build(spec)(torch.randn(1, *spec.input)).shape == (1, 10)


# --------------------------------------------------------------------------------------------------- vs torchvision


@pytest.mark.parametrize("name", IMAGENET_PRESETS)
def test_params_equal_torchvision(name):
    spec = get_preset(name)
    ours = n_params(build(spec, device="meta"))  # same modules as a CPU build, without initialising the weights
    assert ours == n_params(torchvision_model(name))
    assert ours == preset_summary(name).total_params


@pytest.mark.parametrize("name", IMAGENET_PRESETS)
def test_layers_equal_torchvision(name):
    """Kernel sizes, strides, padding, groups, biases, BN eps, ceil_mode, dropout: layer by layer, in order."""
    assert fingerprint(build(get_preset(name), device="meta")) == fingerprint(torchvision_model(name))


@pytest.mark.parametrize("name", IMAGENET_PRESETS)
def test_macs_match_torchinfo(name):
    ours = preset_summary(name).total_macs
    assert ours == pytest.approx(torchinfo_macs(name), rel=0.01)


@pytest.mark.parametrize("name", FORWARD_PRESETS)
def test_forward_equals_torchvision_with_its_weights(name):
    """Load torchvision's (random) weights and BN statistics into our build: same output shape, same logits."""
    theirs = torchvision_model(name)
    torch.manual_seed(0)
    for m in theirs.modules():
        if isinstance(m, nn.BatchNorm2d):  # non-trivial statistics, so every BN (and its eps) matters
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    ours = build(get_preset(name)).eval()
    source, target = theirs.state_dict(), ours.state_dict()
    assert [v.shape for v in source.values()] == [v.shape for v in target.values()]
    ours.load_state_dict(dict(zip(target, source.values(), strict=True)))
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        expected, got = theirs(x), ours(x)
    assert got.shape == expected.shape == (1, 1000)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5 * expected.abs().max().item())
