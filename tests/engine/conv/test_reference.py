"""engine.conv.reference against PyTorch: the reference loop, the vectorised steps taken apart value by value, and
convolution compared with cross-correlation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import signal  # installed with scikit-image: never skipped
from torch_oracle import as_tensor, torch_conv

from engine.conv import arithmetic, coverage, filters, pooling, reference

SETTINGS = settings(max_examples=120, deadline=None)
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths:UserWarning")


@st.composite
def conv_cases(draw, max_n: int = 9):
    """A valid convolution: input, filters, bias and hyper-parameters, sizes small enough to be quick."""
    c, k = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, max_n)), draw(st.integers(1, max_n))
    fh = draw(st.integers(1, 5))
    fw = draw(st.one_of(st.just(fh), st.integers(1, 5)))  # mostly square, sometimes not
    kind = draw(st.sampled_from(["int", "pair", "valid", "same"]))
    stride = (
        1 if kind == "same" else draw(st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    )
    dilation = draw(st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    padding = {
        "int": draw(st.integers(0, 3)),
        "pair": draw(st.tuples(st.integers(0, 3), st.integers(0, 3))),
        "valid": "valid",
        "same": "same",
    }[kind]
    dh, dw = arithmetic._pair("d", dilation, 1)
    sh, sw = arithmetic._pair("s", stride, 1)
    ph, pw = padding if isinstance(padding, tuple) else (padding, padding)
    try:
        arithmetic.output_size(h, fh, ph, sh, dh), arithmetic.output_size(w, fw, pw, sw, dw)
    except ValueError:
        assume(False)
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((c, h, w))
    wt = rng.standard_normal((k, c, fh, fw))
    b = rng.standard_normal(k) if draw(st.booleans()) else None
    return x, wt, b, stride, padding, dilation


@SETTINGS
@given(conv_cases())
def test_reference_and_steps_equal_torch_conv2d(case):
    x, w, b, stride, padding, dilation = case
    expected = torch_conv(x, w, b, stride, padding, dilation)
    ref = reference.conv2d_reference(x, w, b, stride, padding, dilation)
    steps = reference.conv_steps(x, w, b, stride, padding, dilation)
    assert ref.shape == expected.shape == steps.output.shape
    np.testing.assert_allclose(ref, expected, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(steps.output, expected, rtol=1e-10, atol=1e-10)


@SETTINGS
@given(conv_cases())
def test_flip_is_conv2d_with_the_flipped_kernel(case):
    x, w, b, stride, padding, dilation = case
    expected = torch_conv(x, w[:, :, ::-1, ::-1], b, stride, padding, dilation)
    np.testing.assert_allclose(
        reference.conv2d_reference(x, w, b, stride, padding, dilation, flip=True), expected, atol=1e-10
    )
    np.testing.assert_allclose(
        reference.conv_steps(x, w, b, stride, padding, dilation, flip=True).output, expected, atol=1e-10
    )


@pytest.mark.parametrize(("mode", "padding"), [("valid", 0), ("full", "full")])
def test_flip_is_signal_processing_convolution(mode, padding):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((7, 9)), rng.standard_normal((3, 4))
    p = (2, 3) if padding == "full" else padding  # "full" = pad f − 1 on every side
    np.testing.assert_allclose(reference.conv2d_reference(x, w, padding=p, flip=True),
                               signal.convolve2d(x, w, mode=mode))
    np.testing.assert_allclose(reference.conv2d_reference(x, w), signal.correlate2d(x, w, mode="valid"))


@SETTINGS
@given(conv_cases(max_n=6), st.sampled_from([None, "relu", "sigmoid", "tanh"]))
def test_every_step_adds_up_to_its_output(case, activation):
    x, w, b, stride, padding, dilation = case
    steps = reference.conv_steps(x, w, b, stride, padding, dilation, activation=activation)
    torch_act = {None: lambda t: t, "relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}[activation]
    expected = torch_act(as_tensor(torch_conv(x, w, b, stride, padding, dilation))).numpy()
    np.testing.assert_allclose(steps.output, expected, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(
        reference.conv2d_reference(x, w, b, stride, padding, dilation, activation=activation), expected
    )
    _, h, wd = x.shape
    n_steps = 0
    for step in steps.steps():
        n_steps += 1
        assert step.value == pytest.approx(steps.output[step.k, step.i, step.j], abs=1e-12)
        assert step.z == pytest.approx(step.total + step.bias)
        np.testing.assert_allclose(step.products, step.window * w[step.k])
        assert step.total == pytest.approx(step.products.sum())
        # the window is the input at the listed coordinates, zeros where they fall on padding
        expected_window = np.zeros_like(step.window)
        for a, r in enumerate(step.rows):
            for c, col in enumerate(step.cols):
                if 0 <= r < h and 0 <= col < wd:
                    expected_window[:, a, c] = x[:, r, col]
                    assert step.in_input[a, c]
                else:
                    assert not step.in_input[a, c]
        np.testing.assert_array_equal(step.window, expected_window)
        np.testing.assert_array_equal(step.window, steps.x_padded[:, step.padded_rows][:, :, step.padded_cols])
    assert n_steps == steps.output.size
    assert steps.in_shape == x.shape


def test_a_step_sums_each_channel_as_torch_convolves_that_channel_alone():
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((3, 7, 6)), rng.standard_normal((2, 3, 3, 3)), rng.standard_normal(2)
    steps = reference.conv_steps(x, w, b, padding=1)
    assert steps.taps == 27 == w[0].size
    alone = [torch_conv(x[c : c + 1], w[1:2, c : c + 1], None, 1, 1, 1)[0] for c in range(3)]  # (H', W') each
    for i, j in [(0, 0), (3, 2), (6, 5)]:
        step = steps.step(1, i, j)
        np.testing.assert_allclose(step.channel_sums, [a[i, j] for a in alone], atol=1e-12)
        assert step.channel_sums.sum() == pytest.approx(step.total)
    corner = steps.step(0, 0, 0)
    assert corner.where() == "input rows -1…1, columns -1…1 (5 of its taps on the zero padding)"
    assert steps.step(0, 3, 2).where() == "input rows 2…4, columns 1…3"


@pytest.mark.parametrize("name", filters.filter_names(3))
def test_flip_comparison_is_torch_with_and_without_the_rotation(name):
    x = np.random.default_rng(4).standard_normal((9, 9))
    kernel = filters.make_filter(name, 3, seed=2)
    compared = reference.compare_flip(x, kernel)
    xcorr = torch_conv(x[None], kernel[None, None], None, 1, "same", 1)[0]
    conv = torch_conv(x[None], kernel[None, None, ::-1, ::-1], None, 1, "same", 1)[0]
    np.testing.assert_allclose(compared.cross_correlation.output[0], xcorr, atol=1e-12)
    np.testing.assert_allclose(compared.difference, conv - xcorr, atol=1e-12)
    assert compared.largest_difference == pytest.approx(np.abs(conv - xcorr).max(), abs=1e-12)
    # no difference exactly for the filters that a 180° turn leaves as they are
    assert (compared.largest_difference == 0) == np.array_equal(kernel, np.rot90(kernel, 2))
    assert compared.centre == (4, 4)


def test_two_dimensional_arguments_and_shapes():
    rng = np.random.default_rng(1)
    x2, x3 = rng.standard_normal((6, 5)), rng.standard_normal((3, 6, 5))
    assert reference.conv2d_reference(x2, rng.standard_normal((3, 3))).shape == (4, 3)  # no filter axis -> (H', W')
    assert reference.conv2d_reference(x3, rng.standard_normal((3, 3, 3))).shape == (4, 3)  # one filter over the volume
    assert reference.conv2d_reference(x3, rng.standard_normal((2, 3, 3, 3))).shape == (2, 4, 3)
    assert reference.conv_steps(x2, rng.standard_normal((3, 3))).output.shape == (1, 4, 3)  # steps always keep K
    assert reference.conv2d_reference(x2, np.ones((2, 3)), padding="same").shape == (6, 5)


def test_course_example_vertical_edge():
    img = filters.example_image()
    assert img.shape == (6, 6) and img.dtype == np.float32
    np.testing.assert_array_equal(img[:, :3], 10)
    np.testing.assert_array_equal(img[:, 3:], 0)
    np.testing.assert_array_equal(filters.vertical_edge(), [[1, 0, -1]] * 3)
    expected = np.array([[0, 30, 30, 0]] * 4)
    np.testing.assert_array_equal(reference.conv2d_reference(img, filters.vertical_edge()), expected)
    steps = reference.conv_steps(img, filters.vertical_edge())
    np.testing.assert_array_equal(steps.output[0], expected)
    step = steps.step(0, 0, 1)
    assert step.value == 30
    assert step.expression().endswith("= 30")
    assert step.expression(max_terms=2) == "10·1 + 10·0 + … = 30"
    # the horizontal edge sees nothing in it
    np.testing.assert_array_equal(reference.conv2d_reference(img, filters.horizontal_edge()), np.zeros((4, 4)))


@pytest.mark.parametrize(("n", "f", "p", "s"), [(4, 7, 1, 1), (3, 5, 0, 1)])
def test_size_errors_agree_with_torch(n, f, p, s):
    with pytest.raises(RuntimeError):
        F.conv2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, f, f), stride=s, padding=p)
    with pytest.raises(ValueError):
        reference.conv2d_reference(np.zeros((n, n)), np.zeros((f, f)), stride=s, padding=p)


def test_steps_are_quick_at_128():
    import time

    x = np.random.default_rng(0).standard_normal((3, 128, 128))
    w = np.random.default_rng(1).standard_normal((8, 3, 5, 5))
    start = time.perf_counter()
    steps = reference.conv_steps(x, w, padding="same")
    pooling.pool_reference(steps.output, 2)
    coverage.coverage(128, 5, 2, 2)
    assert time.perf_counter() - start < 1.0
    assert steps.output.shape == (8, 128, 128)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: reference.conv2d_reference(np.zeros((3, 5, 5)), np.zeros((1, 2, 3, 3))),
         r"2 channels but the input has 3"),
        (
            lambda: reference.conv2d_reference(np.zeros((5, 5)), np.zeros((3, 3)), b=[1, 2]),
            r"bias .*\(1,\), got shape \(2,\)",
        ),
        (lambda: reference.conv2d_reference(np.zeros(5), np.zeros((3, 3))),
         r"input must have shape .*got shape \(5,\)"),
        (lambda: reference.conv2d_reference(np.zeros((5, 5)), np.zeros(3)), r"filters must have shape"),
        (lambda: reference.conv2d_reference(np.zeros((5, 5)), np.zeros((3, 3)), activation="gelu"), r"got 'gelu'"),
        (lambda: reference.conv_steps(np.zeros((5, 5)), np.zeros((3, 3))).step(0, 3, 0),
         r"output row i must be in 0..2"),
        (lambda: reference.conv_steps(np.zeros((5, 5)), np.zeros((3, 3))).step(1, 0, 0), r"filter k must be in 0..0"),
    ],
)
def test_errors_are_value_errors_that_say_what_is_wrong(call, match):
    with pytest.raises(ValueError, match=match):
        call()
