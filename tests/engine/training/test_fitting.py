"""``engine.training.fitting``: what is adapted on the input side, what the task needs of the output, and the
one-click fix (checked by the summary of what it returns)."""

from __future__ import annotations

import pytest

from engine.data import DatasetCard, LoadedData, load_dataset
from engine.nets.presets import get_preset
from engine.nets.spec import NetworkSpec
from engine.training.fitting import check_fit, fit_output, fit_problems
from engine.training.tasks.classify import fit_head

SMALL_CNN = NetworkSpec.from_dict({"input": [1, 8, 8], "layers": [
    {"kind": "conv2d", "out_channels": 16, "padding": 1}, {"kind": "relu"}, {"kind": "maxpool2d"},
    {"kind": "flatten"}, {"kind": "linear", "out_features": 10},
]})


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def test_check_fit_reports_the_adaptation_and_the_head(digits: LoadedData) -> None:
    card = digits.card
    assert check_fit(SMALL_CNN, card) == []
    lenet = check_fit(get_preset("lenet5"), card)
    assert lenet == ["input: Handwritten digits 8×8 images are 8×8; they are resized to 32×32 for the network's "
                     "input"]
    alexnet = check_fit(get_preset("alexnet"), card)
    assert any("resized to 224×224" in m for m in alexnet)
    assert any("the network takes 3: gray repeated to 3 channels" in m for m in alexnet)
    assert alexnet[-1] == ("output: the network gives 1000 scores but Handwritten digits 8×8 has 10 classes; set the "
                           "last linear layer's out_features to 10 (the one-click fix does this)")
    fitted = fit_head(get_preset("alexnet"), 10)
    assert fit_problems(fitted, card) == [] and fitted.layers[-1].out_features == 10
    assert len(fitted.layers) == len(get_preset("alexnet").layers)


def test_a_network_without_a_classifier_gets_one() -> None:
    card = DatasetCard("x", "Two classes", ("a", "b"), (1, 8, 8), 4, 2, "", "", "")
    conv_only = NetworkSpec.from_dict({"input": [1, 8, 8], "layers": [{"kind": "conv2d", "out_channels": 4}]})
    assert fit_problems(conv_only, card) == [
        "output: the network ends with a 4×6×6 volume, not one score per class; end it with a flatten and a linear "
        "layer of 2 outputs (the one-click fix does this)"]
    fitted = fit_head(conv_only, 2)
    assert [layer.kind for layer in fitted.layers] == ["conv2d", "flatten", "linear"]
    assert fit_problems(fitted, card) == []
    with pytest.raises(ValueError, match="num_classes"):
        fit_head(conv_only, 0)


def test_fit_output_is_the_data_tasks_fix(digits) -> None:
    fixed = fit_output(get_preset("alexnet"), digits.card)
    assert fixed == fit_head(get_preset("alexnet"), 10) and fit_problems(fixed, digits.card) == []


def test_an_input_of_neither_1_nor_3_channels_is_a_problem_before_training():
    from engine.data import dataset_card
    from engine.nets.spec import Conv2d, Flatten, Linear, NetworkSpec

    spec = NetworkSpec((2, 8, 8), (Conv2d(4, 3), Flatten(), Linear(10)))
    problems = fit_problems(spec, dataset_card("digits"))
    assert problems and "takes 2 channels" in problems[0] and "set the builder's input channels to 1" in problems[0]
