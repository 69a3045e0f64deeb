"""engine.conv.reference against PyTorch: the reference loop, the vectorised steps, pooling, sizes, coverage and
parameters."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch import nn

from engine.conv import arithmetic, filters, reference

SETTINGS = settings(max_examples=120, deadline=None)
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths:UserWarning")


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(a, dtype=np.float64, order="C"))  # a copy: torch refuses negative strides


def _torch_conv(x, w, b, stride, padding, dilation) -> np.ndarray:
    """F.conv2d on one (C, H, W) sample, float64."""
    tb = None if b is None else _t(b)
    return F.conv2d(_t(x)[None], _t(w), tb, stride=stride, padding=padding, dilation=dilation)[0].numpy()


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


# --------------------------------------------------------------------------------------------------- convolution


@SETTINGS
@given(conv_cases())
def test_reference_and_steps_equal_torch_conv2d(case):
    x, w, b, stride, padding, dilation = case
    expected = _torch_conv(x, w, b, stride, padding, dilation)
    ref = reference.conv2d_reference(x, w, b, stride, padding, dilation)
    steps = reference.conv_steps(x, w, b, stride, padding, dilation)
    assert ref.shape == expected.shape == steps.output.shape
    np.testing.assert_allclose(ref, expected, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(steps.output, expected, rtol=1e-10, atol=1e-10)


@SETTINGS
@given(conv_cases())
def test_flip_is_conv2d_with_the_flipped_kernel(case):
    x, w, b, stride, padding, dilation = case
    expected = _torch_conv(x, w[:, :, ::-1, ::-1], b, stride, padding, dilation)
    np.testing.assert_allclose(
        reference.conv2d_reference(x, w, b, stride, padding, dilation, flip=True), expected, atol=1e-10
    )
    np.testing.assert_allclose(
        reference.conv_steps(x, w, b, stride, padding, dilation, flip=True).output, expected, atol=1e-10
    )


@pytest.mark.parametrize(("mode", "padding"), [("valid", 0), ("full", "full")])
def test_flip_is_signal_processing_convolution(mode, padding):
    signal = pytest.importorskip("scipy.signal")
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
    expected = torch_act(_t(_torch_conv(x, w, b, stride, padding, dilation))).numpy()
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


# --------------------------------------------------------------------------------------------------- sizes


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(1, 40),
    f=st.integers(1, 9),
    p=st.one_of(st.integers(0, 5), st.sampled_from(["valid", "same"])),
    s=st.integers(1, 5),
    d=st.integers(1, 4),
)
def test_output_size_is_torch_output_shape_or_both_refuse(n, f, p, s, d):
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
    x, w = _t(rng.standard_normal((1, 2, 9, 8))), _t(rng.standard_normal((3, 2, f, f)))
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
    torch_out = F.conv2d(_t(x)[None, None], _t(w)[None, None], padding="same")[0, 0].numpy()
    np.testing.assert_array_equal(torch_out, x)
    np.testing.assert_array_equal(reference.conv2d_reference(x, w, padding="same"), x)
    assert arithmetic.same_padding(2) == (0, 1)
    assert arithmetic.same_padding(3) == (1, 1)


# --------------------------------------------------------------------------------------------------- pooling


@SETTINGS
@given(
    c=st.integers(1, 3),
    h=st.integers(1, 9),
    w=st.integers(1, 9),
    f=st.one_of(st.integers(1, 4), st.tuples(st.integers(1, 4), st.integers(1, 4))),
    s=st.one_of(st.none(), st.integers(1, 4), st.tuples(st.integers(1, 4), st.integers(1, 4))),
    pad_frac=st.tuples(st.floats(0, 1), st.floats(0, 1)),
    seed=st.integers(0, 2**31 - 1),
)
def test_pooling_equals_torch(c, h, w, f, s, pad_frac, seed):
    fh, fw = arithmetic._pair("f", f, 1)
    padding = (int(pad_frac[0] * (fh // 2)), int(pad_frac[1] * (fw // 2)))
    try:
        arithmetic.output_size(h, fh, padding[0]), arithmetic.output_size(w, fw, padding[1])
    except ValueError:
        assume(False)
    x = np.random.default_rng(seed).integers(-3, 4, size=(c, h, w)).astype(np.float64)  # small ints: many ties
    kwargs = dict(kernel_size=f, stride=s, padding=padding)
    expected, indices = F.max_pool2d(_t(x)[None], return_indices=True, **kwargs)
    out, where = reference.pool_reference(x, f, s, "max", padding)
    np.testing.assert_array_equal(out, expected[0].numpy())
    np.testing.assert_array_equal(where[..., 0] * w + where[..., 1], indices[0].numpy())  # torch: flat index h·W + w
    rows, cols = where[..., 0], where[..., 1]
    np.testing.assert_array_equal(x[np.arange(c)[:, None, None], rows, cols], out)  # the max really is there
    avg, none = reference.pool_reference(x, f, s, "avg", padding)
    assert none is None
    np.testing.assert_allclose(avg, F.avg_pool2d(_t(x)[None], **kwargs)[0].numpy(), rtol=1e-12)


def test_pooling_two_dimensional_input():
    x = np.arange(16.0).reshape(4, 4)
    out, where = reference.pool_reference(x, 2)
    np.testing.assert_array_equal(out, [[5, 7], [13, 15]])
    np.testing.assert_array_equal(where, [[[1, 1], [1, 3]], [[3, 1], [3, 3]]])
    avg, _ = reference.pool_reference(x, 2, mode="avg")
    np.testing.assert_array_equal(avg, [[2.5, 4.5], [10.5, 12.5]])


# --------------------------------------------------------------------------------------------------- coverage


def _coverage_by_transposed_conv(n: int, f: int, p, s: int, d: int) -> np.ndarray:
    """Scatter a 1 from every output position back through an all-ones filter: the count per padded pixel."""
    n_out = F.conv2d(torch.empty(1, 1, n, n, device="meta"), torch.empty(1, 1, f, f, device="meta"),
                     stride=s, padding=p, dilation=d).shape[-1]  # fmt: skip
    counts = F.conv_transpose2d(torch.ones(1, 1, n_out, n_out), torch.ones(1, 1, f, f), stride=s, dilation=d)[0, 0]
    before = {"valid": 0, "same": d * (f - 1) // 2}[p] if isinstance(p, str) else p  # torch's "same": less before
    full = torch.zeros(n + 2 * d * f + 2 * 5, n + 2 * d * f + 2 * 5)  # room for any padding
    full[: counts.shape[0], : counts.shape[1]] = counts
    return full[before : before + n, before : before + n].numpy().astype(np.int64)


@SETTINGS
@given(
    n=st.integers(1, 16),
    f=st.integers(1, 5),
    p=st.one_of(st.integers(0, 3), st.sampled_from(["valid", "same"])),
    s=st.integers(1, 4),
    d=st.integers(1, 3),
)
def test_coverage_equals_transposed_convolution_of_ones(n, f, p, s, d):
    assume(not (p == "same" and s > 1))
    try:
        arithmetic.output_size(n, f, p, s, d)
    except ValueError:
        assume(False)
    cov = reference.coverage(n, f, p, s, d)
    assert cov.shape == (n, n)
    np.testing.assert_array_equal(cov, _coverage_by_transposed_conv(n, f, p, s, d))


def test_coverage_tells_the_lesson():
    valid = reference.coverage(6, 3)
    assert valid[0, 0] == 1 and valid[2, 2] == 9  # corners are read once, the centre nine times
    assert reference.coverage(6, 3, 1).min() == 4  # padding lets the corners be read more
    skipped = reference.coverage(7, 2, 0, 3)  # stride larger than the filter: rows/columns never read
    assert (skipped[2] == 0).all() and (skipped[:, 2] == 0).all()
    assert (skipped[-1] == 0).all()  # the leftover after the last window


# --------------------------------------------------------------------------------------------------- parameters


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


# --------------------------------------------------------------------------------------------------- filters


@pytest.mark.parametrize("name", list(filters.FILTERS))
def test_named_filters(name):
    entry = filters.FILTERS[name]
    assert entry.about
    for f in range(1, 8):
        if entry.allows(f):
            k = filters.make_filter(name, f)
            assert k.shape == (f, f) and k.dtype == np.float32 and np.isfinite(k).all()
        else:
            with pytest.raises(ValueError, match=f"f={f}|odd|≥"):
                filters.make_filter(name, f)


def test_filter_values():
    np.testing.assert_array_equal(filters.horizontal_edge(), [[1, 1, 1], [0, 0, 0], [-1, -1, -1]])
    np.testing.assert_array_equal(filters.vertical_edge(4), [[1, 1, -1, -1]] * 4)
    np.testing.assert_array_equal(filters.sobel_x(), [[1, 0, -1], [2, 0, -2], [1, 0, -1]])
    np.testing.assert_array_equal(filters.scharr_y(), filters.scharr_x().T)
    assert filters.box_blur(4).sum() == pytest.approx(1)
    assert filters.gaussian_blur(7).sum() == pytest.approx(1) and filters.gaussian_blur(7).argmax() == 24
    assert filters.sharpen().sum() == 1 and filters.laplacian().sum() == 0
    np.testing.assert_array_equal(filters.random_filter(3, seed=4), filters.random_filter(3, seed=4))
    assert not np.array_equal(filters.random_filter(3, seed=4), filters.random_filter(3, seed=5))
    x = np.random.default_rng(0).standard_normal((8, 8))
    np.testing.assert_allclose(reference.conv2d_reference(x, filters.identity(5), padding="same"), x, rtol=1e-6)


# --------------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: arithmetic.output_size(4, 7, 1),
         r"f=7 .*larger than the padded input n \+ 2p = 4 \+ 2 = 6; use f ≤ 6"),
        (lambda: arithmetic.output_size(4, 3, 0, 1, 2), r"dilated by 2: spans 5 pixels"),
        (lambda: arithmetic.output_size(6, 3, "same", 2), r"padding='same' needs stride 1.*got stride 2"),
        (lambda: arithmetic.output_size(6, 3, -1), r"padding must be a non-negative int, 'valid' or 'same', got -1"),
        (lambda: arithmetic.output_size(6, 3, "full"), r"got 'full'"),
        (lambda: arithmetic.output_size(6, 3, 0, 0), r"stride s must be an integer ≥ 1, got 0"),
        (lambda: arithmetic.output_size(6, 0), r"filter size f must be an integer ≥ 1, got 0"),
        (lambda: arithmetic.output_size(0, 1), r"input size n must be an integer ≥ 1, got 0"),
        (lambda: arithmetic.output_size(6, 2.5), r"filter size f must be an integer ≥ 1, got 2.5"),
        (lambda: arithmetic.output_size(6, 3, 0, 1, True), r"dilation d must be an integer ≥ 1, got True"),
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
        (lambda: reference.pool_reference(np.zeros((4, 4)), 2, padding=2), r"at most half the window"),
        (lambda: reference.pool_reference(np.zeros((4, 4)), 2, mode="min"), r"'max' or 'avg', got 'min'"),
        (lambda: reference.pool_reference(np.zeros((4, 4)), 5), r"f=5 is larger"),
        (lambda: reference.coverage(5, 3, "same", 2), r"stride 1"),
        (lambda: arithmetic.layer_params(3, 0, 10), r"input channels n_c must be an integer ≥ 1, got 0"),
        (lambda: filters.make_filter("emboss"), r"unknown filter 'emboss'; choose one of vertical edge"),
        (lambda: filters.make_filter("sobel x", 5), r"only for f=3, got f=5"),
        (lambda: filters.make_filter("identity", 4), r"odd size.*f=4"),
        (lambda: filters.gaussian_blur(5, sigma=0), r"sigma must be > 0"),
    ],
)
def test_errors_are_value_errors_that_say_what_is_wrong(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(("n", "f", "p", "s"), [(4, 7, 1, 1), (3, 5, 0, 1)])
def test_size_errors_agree_with_torch(n, f, p, s):
    with pytest.raises(RuntimeError):
        F.conv2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, f, f), stride=s, padding=p)
    with pytest.raises(ValueError):
        reference.conv2d_reference(np.zeros((n, n)), np.zeros((f, f)), stride=s, padding=p)


def test_pool_padding_error_agrees_with_torch():
    with pytest.raises(RuntimeError, match="pad should be at most half"):
        F.max_pool2d(torch.zeros(1, 1, 4, 4), 2, 2, padding=2)
    with pytest.raises(ValueError):
        reference.pool_reference(np.zeros((4, 4)), 2, 2, padding=2)


# --------------------------------------------------------------------------------------------------- speed


def test_steps_are_quick_at_128():
    import time

    x = np.random.default_rng(0).standard_normal((3, 128, 128))
    w = np.random.default_rng(1).standard_normal((8, 3, 5, 5))
    start = time.perf_counter()
    steps = reference.conv_steps(x, w, padding="same")
    reference.pool_reference(steps.output, 2)
    reference.coverage(128, 5, 2, 2)
    assert time.perf_counter() - start < 1.0
    assert steps.output.shape == (8, 128, 128)
