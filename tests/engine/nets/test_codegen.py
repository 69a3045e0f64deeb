"""engine.nets.codegen: the generated source, executed on its own, must be ``build(spec)`` in disguise.

The oracle is the built network itself: the generated class must have the same state_dict keys and shapes, accept
its weights with ``strict=True``, and then compute the same outputs.
"""

from __future__ import annotations

import ast
import contextlib
import io
import random

import pytest
import torch
from torch import nn

from engine.nets.build import build, trace
from engine.nets.codegen import codegen
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
    ReLU,
    ReLU6,
    Residual,
    Shape,
    Sigmoid,
    SpecError,
    Tanh,
)

SPECS = {
    "plain": NetworkSpec((3, 12, 12), (
        Conv2d(8, kernel_size=4, padding="same"),  # even kernel: torch pads one more on the bottom/right
        BatchNorm2d(), ReLU(inplace=True),
        MaxPool2d(3, stride=2, ceil_mode=True),
        Dropout(0.3), Flatten(), Linear(5),
    )),
    "residual": NetworkSpec((4, 10, 10), (
        Conv2d(8, padding=1, bias=False), BatchNorm2d(), ReLU(),
        Residual(body=(Conv2d(16, stride=2, padding=1), BatchNorm2d(), ReLU(), Conv2d(16, padding=1)),
                 shortcut="projection"),
        Residual(body=(Conv2d(16, padding=1), BatchNorm2d()), shortcut="identity"),
        Residual(),  # empty body, identity shortcut: 2·x
        AdaptiveAvgPool2d(1), Flatten(), Linear(3),
    )),
    "inception": NetworkSpec((6, 9, 9), (
        Inception(branches=(
            (Conv2d(4, kernel_size=1),),
            (Conv2d(3, kernel_size=1), ReLU(), Conv2d(5, kernel_size=3, padding=1)),
            (MaxPool2d(3, stride=1, padding=1), Conv2d(2, kernel_size=1)),
            (),  # passes the input through
            (Residual(body=(Conv2d(6, padding="same"),)),),  # a composite inside a composite
        )),
        AvgPool2d(2, ceil_mode=True), Flatten(), Linear(4),
    )),
    "depthwise": NetworkSpec((8, 16, 16), (
        Conv2d(8, kernel_size=3, padding=1, groups=8, bias=False), BatchNorm2d(), ReLU6(),  # depthwise
        Conv2d(12, kernel_size=1, bias=False), BatchNorm2d(),  # pointwise
        AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False, divisor_override=7),
        Conv2d(12, kernel_size=3, groups=3, dilation=2, padding_mode="reflect", padding=2),
    )),
    "odd arguments": NetworkSpec((2, 9, 7), (
        Conv2d(6, kernel_size=(3, 1), stride=(2, 1), padding=(1, 0), padding_mode="circular"),
        BatchNorm2d(eps=1e-3, momentum=0.3, affine=False), LeakyReLU(0.2),
        BatchNorm2d(track_running_stats=False), Tanh(),
        MaxPool2d((2, 3), stride=(1, 2), padding=(1, 1), dilation=(1, 2)),
        Flatten(end_dim=3), Linear(3, bias=False), Sigmoid(),  # end_dim 3 = -1 for a (B, C, H, W) input
    )),
    "flat input": NetworkSpec((20,), (Linear(16), ReLU(), Dropout(), Linear(2))),
    "no layers": NetworkSpec((3, 4, 4), ()),
}

PRESETS = ("lenet5", "resnet18", "googlenet", "mobilenet_v2")

# torch's note that an even kernel with 'same' padding pads asymmetrically (the "plain" spec does it on purpose)
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")


# --------------------------------------------------------------------------------------------------- helpers


def _load(source: str, class_name: str = "Net") -> type[nn.Module]:
    """Execute the generated file in a fresh namespace (so it can use nothing but what it imports)."""
    namespace: dict = {"__name__": "generated"}
    exec(compile(source, "<generated>", "exec"), namespace)
    return namespace[class_name]


def _imported_modules(source: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            found.add(node.module.split(".")[0])
    return found


def _assert_same_network(spec: NetworkSpec, x: torch.Tensor) -> None:
    torch.manual_seed(0)
    built = build(spec)
    source = codegen(spec)
    assert _imported_modules(source) <= {"torch"}
    generated = _load(source)()

    assert sum(p.numel() for p in generated.parameters()) == sum(p.numel() for p in built.parameters())
    shapes = {k: tuple(v.shape) for k, v in generated.state_dict().items()}
    assert shapes == {k: tuple(v.shape) for k, v in built.state_dict().items()}
    generated.load_state_dict(built.state_dict(), strict=True)

    built.eval(), generated.eval()
    with torch.no_grad():
        torch.testing.assert_close(generated(x), built(x))


# --------------------------------------------------------------------------------------------------- oracles


@pytest.mark.parametrize("name", SPECS)
def test_generated_module_is_the_built_network(name: str) -> None:
    spec = SPECS[name]
    _assert_same_network(spec, torch.randn(2, *spec.input))


@pytest.mark.parametrize("name", PRESETS)
def test_generated_preset_is_the_built_network(name: str) -> None:
    spec = get_preset(name)
    # the ImageNet presets end in adaptive pooling, so a 32×32 input runs every layer in a fraction of the time
    size = spec.input if name == "lenet5" else (3, 32, 32)
    _assert_same_network(spec, torch.randn(2, *size))


def _random_layer(rng: random.Random, shape: Shape) -> LayerSpec:
    """A leaf layer with a random mix of non-default arguments (it may not fit ``shape``; the caller checks)."""
    c = shape[0]
    kind = rng.choice(["conv", "conv", "maxpool", "avgpool", "bn", "act", "dropout"])
    if kind == "conv":
        stride = rng.choice([1, 1, 2, (2, 1)])
        padding = rng.choice([0, 1, (1, 0), "valid"] + (["same"] if stride == 1 else []))
        groups = rng.choice([g for g in (1, 2, c) if c % g == 0])
        return Conv2d(groups * rng.randint(1, 3), kernel_size=rng.choice([1, 2, 3, (3, 2)]), stride=stride,
                      padding=padding, dilation=rng.choice([1, 1, 2]), groups=groups, bias=rng.random() < 0.5,
                      padding_mode=rng.choice(["zeros", "zeros", "reflect", "replicate"]))
    if kind == "maxpool":
        return MaxPool2d(rng.choice([2, 3]), stride=rng.choice([None, 1, 2]), padding=rng.choice([0, 1]),
                         ceil_mode=rng.random() < 0.5)
    if kind == "avgpool":
        return AvgPool2d(rng.choice([2, 3]), stride=rng.choice([None, 2]), ceil_mode=rng.random() < 0.5,
                         count_include_pad=rng.random() < 0.5)
    if kind == "bn":
        return BatchNorm2d(momentum=rng.choice([0.1, 0.5]), affine=rng.random() < 0.7,
                           track_running_stats=rng.random() < 0.7)
    if kind == "act":
        return rng.choice([ReLU(), ReLU6(inplace=True), LeakyReLU(0.3), Sigmoid(), Tanh()])
    return Dropout(rng.choice([0.1, 0.5]))


@pytest.mark.parametrize("seed", range(12))
def test_random_specs(seed: int) -> None:
    rng = random.Random(seed)
    shape: Shape = (rng.choice([1, 2, 4]), rng.randint(6, 14), rng.randint(6, 14))
    spec_input, layers = shape, []
    while len(layers) < 6:
        layer = _random_layer(rng, shape)
        (node,) = trace(NetworkSpec(shape, (layer,)))
        if node.ok:  # keep the layers that fit; the rest are the trace's business, tested elsewhere
            layers.append(layer)
            shape = node.out_shape
    spec = NetworkSpec(spec_input, (*layers, Flatten(), Linear(rng.randint(1, 4))))
    _assert_same_network(spec, torch.randn(2, *spec_input))


# --------------------------------------------------------------------------------------------------- the file


def test_file_reads_like_pytorch() -> None:
    source = codegen(SPECS["residual"])
    assert source.startswith("# Net:")
    assert "# Input:  (B, 4, 10, 10)" in source and "# Parameters: " in source
    assert source.count("class ResidualBlock(nn.Module)") == 1 and "InceptionBlock" not in source
    # inferred in-channels filled in, torch's argument names, defaults left out
    assert "nn.Conv2d(4, 8, kernel_size=3, padding=1, bias=False)," in source
    assert "nn.BatchNorm2d(8)," in source and "nn.ReLU()," in source
    assert "nn.Conv2d(8, 16, kernel_size=1, stride=2, bias=False)" in source  # the projection shortcut
    assert "nn.Linear(16, 3)" in source


def test_main_block_prints_the_output_shape() -> None:
    source = codegen(SPECS["inception"], class_name="TinyInception")
    namespace: dict = {"__name__": "__main__"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, "<generated>", "exec"), namespace)
    assert "-> output (2, 4)" in out.getvalue()
    assert isinstance(namespace["model"], nn.Sequential)
    assert source.count("class InceptionBlock(nn.Module)") == 1


def test_invalid_spec_raises_spec_error() -> None:
    spec = NetworkSpec((3, 4, 4), (Conv2d(8, kernel_size=7), ReLU()))
    with pytest.raises(SpecError, match=r"conv2d #1: kernel 7 is larger than its 4×4 input"):
        codegen(spec)


def test_invalid_layer_inside_a_block_raises_spec_error() -> None:
    spec = NetworkSpec((3, 8, 8), (Residual(body=(Conv2d(8, groups=2),)),))
    with pytest.raises(SpecError, match=r"conv2d #1\.1: groups 2"):
        codegen(spec)


@pytest.mark.parametrize("bad", ["", "3Net", "class", "nn", "ResidualBlock", "my net", "sum", "model"])
def test_bad_class_name(bad: str) -> None:
    with pytest.raises(ValueError, match="class_name"):
        codegen(SPECS["plain"], class_name=bad)


@pytest.mark.parametrize("spec", [
    NetworkSpec((2, 6, 6), (Conv2d(2, 1), Residual((ReLU(inplace=True), Conv2d(2, 3, padding=1))))),
    NetworkSpec((2, 6, 6), (Conv2d(2, 1), Inception(((ReLU(inplace=True),), (), (LeakyReLU(0.1, inplace=True),))))),
    NetworkSpec((2, 6, 6), (Residual((Inception(((ReLU6(inplace=True),), ())), Conv2d(2, 1))),)),
])
def test_blocks_whose_body_works_in_place_give_their_input_a_copy_as_build_does(spec) -> None:
    # the shortcut adds x, and every branch reads x: an in-place first layer must not overwrite it
    _assert_same_network(spec, torch.randn(2, *spec.input))
