"""engine.nets.analysis: "valid" means trainable. Each case is checked against PyTorch itself: what the engine
accepts runs forward and backward in training mode; what it refuses for training, PyTorch runs forward and then fails
on backward — except the max pool whose window reads only padding, whose backward corrupts memory: that one is
refused before anything builds or runs it, and never run here."""

from __future__ import annotations

import pytest
import torch

from engine.nets.build import build, errors
from engine.nets.meta import meta_trace
from engine.nets.spec import (
    BatchNorm2d,
    Conv2d,
    Dropout,
    Flatten,
    Inception,
    LeakyReLU,
    Linear,
    MaxPool2d,
    NetworkSpec,
    ReLU,
    ReLU6,
    Residual,
    Sigmoid,
    SpecError,
    Tanh,
)

HEAP = {"input": [1, 2, 2], "layers": [{"kind": "conv2d", "out_channels": 1, "kernel_size": 1},
                                       {"kind": "maxpool2d", "kernel_size": 2, "stride": 1, "padding": 1,
                                        "dilation": 3}]}


def _trains(spec: NetworkSpec) -> bool:
    """PyTorch trains the modules ``build`` would make (built here from the meta trace's recipe, on the CPU)."""
    modules = [m.module for m in meta_trace(spec, device="cpu")]
    net = torch.nn.Sequential(*modules).train()
    try:
        net(torch.randn(2, *spec.input)).sum().backward()
    except RuntimeError:
        return False
    return True


def test_a_max_pool_that_reads_only_padding_is_refused_before_anything_runs_it():
    spec = NetworkSpec.from_dict(HEAP)
    problems = errors(spec)
    assert len(problems) == 1 and problems[0].startswith("maxpool2d #2: cannot train: the window of output row 0 "
                                                         "reads only padding (positions -1, 2 of a 2-pixel side)")
    with pytest.raises(SpecError, match="maxpool2d #2"):
        build(spec)
    # PyTorch itself runs it forward without complaint: only the arithmetic sees it
    assert all(m.status == "ok" for m in meta_trace(spec))
    # one step less dilation and a tap lands on the image: accepted, and it trains
    fine = NetworkSpec((1, 2, 2), (Conv2d(1, 1), MaxPool2d(2, 1, 1, dilation=2)))
    assert errors(fine) == [] and _trains(fine)


REFUSED = [
    # (spec, the refused layer, what the message says)
    (NetworkSpec((2, 6, 6), (Conv2d(3), ReLU(), ReLU(inplace=True))), "relu #3", "relu #2 before it"),
    (NetworkSpec((2, 6, 6), (Conv2d(3), Sigmoid(), Dropout(0.3, inplace=True))), "dropout #3", "sigmoid #2"),
    (NetworkSpec((2, 6, 6), (Conv2d(3), Tanh(), Flatten(), ReLU6(inplace=True))), "relu6 #4", "tanh #2"),
    (NetworkSpec((2, 6, 6), (Conv2d(3), ReLU(inplace=True), LeakyReLU(0.1, inplace=True))), "leakyrelu #3",
     "relu #2"),
    (NetworkSpec((2, 6, 6), (Conv2d(3), Sigmoid(), Dropout(0.0), ReLU(inplace=True))), "relu #4", "sigmoid #2"),
    (NetworkSpec((2, 6, 6), (Conv2d(3), LeakyReLU(-0.2, inplace=True))), "leakyrelu #2", "negative slope"),
    (NetworkSpec((2, 6, 6), (Conv2d(3), Residual((Sigmoid(), ReLU(inplace=True))))), "relu #2.2", "sigmoid #2.1"),
]


@pytest.mark.parametrize(("spec", "culprit", "text"), REFUSED)
def test_an_in_place_layer_that_would_break_the_backward_pass_is_refused_on_its_row(spec, culprit, text):
    problems = [p for p in errors(spec) if p.startswith(culprit)]
    assert problems and "cannot train" in problems[0] and text in problems[0], errors(spec)
    assert all(m.status == "ok" for m in meta_trace(spec))  # forward runs...
    assert not _trains(spec)  # ... backward does not


ACCEPTED = [
    NetworkSpec((2, 6, 6), (Conv2d(3), BatchNorm2d(), ReLU(inplace=True), MaxPool2d(), ReLU(inplace=True))),
    NetworkSpec((2, 6, 6), (Conv2d(3), ReLU6(inplace=True), ReLU6(inplace=True))),  # hardtanh reads its input
    NetworkSpec((2, 6, 6), (Conv2d(3), Sigmoid(), Dropout(0.3), ReLU(inplace=True))),  # dropout made a new tensor
    NetworkSpec((2, 6, 6), (Conv2d(3), Sigmoid(), Dropout(0.0, inplace=True))),  # p = 0 writes nothing
    NetworkSpec((2, 6, 6), (Conv2d(3), LeakyReLU(-0.2))),  # a negative slope is fine when not in place
    NetworkSpec((2, 6, 6), (Sigmoid(), LeakyReLU(-0.2, inplace=True), ReLU(inplace=True), Conv2d(3))),  # no grad yet
    # a block's body and branches get a copy of x when they overwrite anything, so they follow nothing before it
    NetworkSpec((2, 6, 6), (Conv2d(3), Sigmoid(), Residual((ReLU(inplace=True), Conv2d(3, padding=1))))),
    NetworkSpec((2, 6, 6), (Conv2d(3), Tanh(), Inception(((ReLU(inplace=True),), (), (Dropout(0.5, inplace=True),))),
                            Flatten(), Linear(2))),
]


@pytest.mark.parametrize("spec", ACCEPTED)
def test_what_is_accepted_trains(spec):
    assert errors(spec) == []
    assert _trains(spec)
    net = build(spec).train()
    net(torch.randn(2, *spec.input)).sum().backward()
