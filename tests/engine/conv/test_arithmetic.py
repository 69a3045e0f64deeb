"""engine.conv.arithmetic against PyTorch: output sizes (or both refusing), "same" padding's split, the formula text,
and a layer's parameters against nn.Conv2d."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch_oracle import as_tensor

from engine.conv import arithmetic, reference

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths:UserWarning")


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(1, 40),
    f=st.integers(1, 9),
    p=st.one_of(st.integers(0, 5), st.sampled_from(["valid", "same"])),
    s=st.integers(1, 5),
    d=st.integers(1, 4),
)
def test_output_size_is_torch_output_shape_or_both_refuse(n, f, p, s, d):
    if p == "same" and s > 1:  # PyTorch refuses it; the lab follows the course and TensorFlow (tested below)
        assert arithmetic.output_size(n, f, p, s, d) == _tensorflow_same(n, f, s, d)[0]
        return
    x, w = torch.empty(1, 1, n, n, device="meta"), torch.empty(1, 1, f, f, device="meta")
    try:
        expected = F.conv2d(x, w, stride=s, padding=p, dilation=d).shape[-1]
    except RuntimeError:
        expected = None
    if expected is None:
        with pytest.raises(ValueError):
            arithmetic.output_size(n, f, p, s, d)
    else:
        assert arithmetic.output_size(n, f, p, s, d) == expected
        text = arithmetic.output_size_formula(n, f, p, s, d)
        assert text.endswith(f"= {expected}") and text.startswith(f"⌊({n} + ")


def test_output_size_formula_text():
    assert arithmetic.output_size_formula(6, 3) == "⌊(6 + 2·0 − 3)/1⌋ + 1 = 4"
    assert arithmetic.output_size_formula(7, 3, 1, 2) == "⌊(7 + 2·1 − 3)/2⌋ + 1 = 4"
    assert arithmetic.output_size_formula(6, 4, "same") == "⌊(6 + (1 + 2) − 4)/1⌋ + 1 = 6"
    assert arithmetic.output_size_formula(9, 3, 0, 1, 2) == "⌊(9 + 2·0 − 2·(3 − 1) − 1)/1⌋ + 1 = 5"


def test_course_padding_example():
    assert arithmetic.output_size(6, 3, 1) == 6  # "same" with p = (f − 1)/2
    assert arithmetic.output_size(6, 3, "same") == 6
    assert arithmetic.output_size(6, 3, "valid") == 4


@pytest.mark.parametrize("f", [2, 4, 6])
@pytest.mark.parametrize("d", [1, 2, 3])
def test_same_padding_puts_the_extra_pixel_right_and_bottom_like_torch(f, d):
    left, right = arithmetic.same_padding(f, d)
    assert left + right == d * (f - 1) and right - left in (0, 1)
    rng = np.random.default_rng(f * 10 + d)
    x, w = as_tensor(rng.standard_normal((1, 2, 9, 8))), as_tensor(rng.standard_normal((3, 2, f, f)))
    same = F.conv2d(x, w, padding="same", dilation=d)
    explicit = F.conv2d(F.pad(x, (left, right, left, right)), w, dilation=d)  # (left, right, top, bottom)
    torch.testing.assert_close(same, explicit)
    np.testing.assert_allclose(reference.conv2d_reference(x[0].numpy(), w.numpy(), padding="same", dilation=d), same[0])
    text = arithmetic.explain_same_padding(f, d)
    assert (f"{left} on the left/top and {right} on the right/bottom" in text) == (left != right)


def test_same_padding_demonstrated_with_a_single_pixel():
    """A 2×2 filter with its weight top-left: 'same' output equals the input, so nothing was padded top/left."""
    x = np.zeros((5, 5))
    x[2, 2] = 1
    w = np.zeros((2, 2))
    w[0, 0] = 1
    torch_out = F.conv2d(as_tensor(x)[None, None], as_tensor(w)[None, None], padding="same")[0, 0].numpy()
    np.testing.assert_array_equal(torch_out, x)
    np.testing.assert_array_equal(reference.conv2d_reference(x, w, padding="same"), x)
    assert arithmetic.same_padding(2) == (0, 1)
    assert arithmetic.same_padding(3) == (1, 1)


@pytest.mark.parametrize(("f", "n_c", "k", "bias"), [(3, 3, 10, True), (5, 1, 6, True), ((1, 7), 16, 32, False)])
def test_layer_params_equal_nn_conv2d(f, n_c, k, bias):
    expected = sum(p.numel() for p in nn.Conv2d(n_c, k, f, bias=bias).parameters())
    assert arithmetic.layer_params(f, n_c, k, bias) == expected
    assert arithmetic.layer_params_formula(f, n_c, k, bias).endswith(f"= {expected}")


def test_layer_params_course_example():
    assert arithmetic.layer_params(3, 3, 10) == 280
    assert arithmetic.layer_params_formula(3, 3, 10) == "(3·3·3 + 1)·10 = 280"
    # independent of the input's size: the same layer on a 32×32 and a 224×224 image
    layer = nn.Conv2d(3, 10, 3)
    assert layer(torch.zeros(1, 3, 32, 32)).shape[1] == layer(torch.zeros(1, 3, 224, 224)).shape[1] == 10


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: arithmetic.output_size(4, 7, 1),
         r"f=7 .*larger than the padded input n \+ 2p = 4 \+ 2 = 6; use f ≤ 6"),
        (lambda: arithmetic.output_size(4, 3, 0, 1, 2), r"dilated by 2: spans 5 pixels"),
        (lambda: arithmetic.same_padding(3, 1, None, 2), r"depends on the input size n: give n"),
        (lambda: arithmetic.output_size(6, 3, -1), r"padding must be a non-negative int, 'valid' or 'same', got -1"),
        (lambda: arithmetic.output_size(6, 3, "full"), r"got 'full'"),
        (lambda: arithmetic.output_size(6, 3, 0, 0), r"stride s must be an integer ≥ 1, got 0"),
        (lambda: arithmetic.output_size(6, 0), r"filter size f must be an integer ≥ 1, got 0"),
        (lambda: arithmetic.output_size(0, 1), r"input size n must be an integer ≥ 1, got 0"),
        (lambda: arithmetic.output_size(6, 2.5), r"filter size f must be an integer ≥ 1, got 2.5"),
        (lambda: arithmetic.output_size(6, 3, 0, 1, True), r"dilation d must be an integer ≥ 1, got True"),
        (lambda: arithmetic.layer_params(3, 0, 10), r"input channels n_c must be an integer ≥ 1, got 0"),
        (lambda: arithmetic.output_size_rule(0), r"dilation d must be an integer ≥ 1, got 0"),
    ],
)
def test_errors_are_value_errors_that_say_what_is_wrong(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def _tensorflow_same(n: int, f: int, s: int, d: int = 1) -> tuple[int, int, int]:
    """TensorFlow's 'SAME' rule as its documentation states it (tf.nn.convolution): the output has ⌈n/s⌉ cells; the
    padding needed in all is max((out − 1)·s + effective f − n, 0), the smaller half before."""
    out = math.ceil(n / s)
    total = max((out - 1) * s + (d * (f - 1) + 1) - n, 0)
    return out, total // 2, total - total // 2


@pytest.mark.parametrize("n", [5, 6, 7, 8, 13])
@pytest.mark.parametrize("f", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("s", [1, 2, 3])
def test_same_with_a_stride_follows_tensorflow_and_convolves_like_torch(n, f, s):
    out, before, after = _tensorflow_same(n, f, s)
    assert arithmetic.output_size(n, f, "same", s) == out
    assert arithmetic.same_padding(f, 1, n, s) == (before, after) == arithmetic.paddings(n, f, "same", s)
    assert arithmetic.output_size_formula(n, f, "same", s).endswith(f"= {out}")
    # the padding it says, applied explicitly, gives torch's convolution of that size
    x, w = torch.randn(1, 1, n, n), torch.randn(1, 1, f, f)
    padded = torch.nn.functional.pad(x, (before, after, before, after))
    assert torch.nn.functional.conv2d(padded, w, stride=s).shape[-1] == out


def test_same_with_a_stride_is_explained_with_the_user_s_numbers():
    text = arithmetic.explain_same_padding(3, 1, 7, 2)
    assert "⌈7/2⌉ = 4" in text and "(4 − 1)·2 + 3 − 7 = 2" in text and "p = 1 on every side" in text
    assert "PyTorch's padding='same' accepts stride 1 only" in text
    odd = arithmetic.explain_same_padding(3, 1, 6, 2)  # ⌈6/2⌉ = 3: (3 − 1)·2 + 3 − 6 = 1 pixel, after
    assert "0 on the left/top and 1 on the right/bottom" in odd
