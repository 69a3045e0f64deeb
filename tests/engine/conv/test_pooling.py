"""engine.conv.pooling against torch's max_pool2d (with return_indices) and avg_pool2d."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch_oracle import as_tensor

from engine.conv import arithmetic, pooling

SETTINGS = settings(max_examples=120, deadline=None)


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
    expected, indices = F.max_pool2d(as_tensor(x)[None], return_indices=True, **kwargs)
    out, where = pooling.pool_reference(x, f, s, "max", padding)
    np.testing.assert_array_equal(out, expected[0].numpy())
    np.testing.assert_array_equal(where[..., 0] * w + where[..., 1], indices[0].numpy())  # torch: flat index h·W + w
    rows, cols = where[..., 0], where[..., 1]
    np.testing.assert_array_equal(x[np.arange(c)[:, None, None], rows, cols], out)  # the max really is there
    avg, none = pooling.pool_reference(x, f, s, "avg", padding)
    assert none is None
    np.testing.assert_allclose(avg, F.avg_pool2d(as_tensor(x)[None], **kwargs)[0].numpy(), rtol=1e-12)


@SETTINGS
@given(
    h=st.integers(1, 9),
    w=st.integers(1, 9),
    f=st.integers(1, 4),
    s=st.integers(1, 4),
    pad=st.integers(0, 2),
    mode=st.sampled_from(pooling.MODES),
    seed=st.integers(0, 2**31 - 1),
)
def test_every_pooling_step_is_its_window_in_torch(h, w, f, s, pad, mode, seed):
    assume(2 * pad <= f)
    try:
        arithmetic.output_size(h, f, pad, s), arithmetic.output_size(w, f, pad, s)
    except ValueError:
        assume(False)
    x = np.random.default_rng(seed).integers(-3, 4, size=(h, w)).astype(np.float64)
    t = as_tensor(x)[None, None].requires_grad_(True)
    pool = F.max_pool2d if mode == "max" else F.avg_pool2d
    expected = pool(t, f, s, pad)
    steps = pooling.pool_steps(x, f, s, mode, pad)
    np.testing.assert_allclose(steps.output, expected[0, 0].detach().numpy(), rtol=1e-12)
    # torch's own windows: unfold the input padded as the pooling pads it
    fill = -np.inf if mode == "max" else 0.0
    padded = F.pad(as_tensor(x)[None, None], (pad, pad, pad, pad), value=fill)
    windows = F.unfold(padded, f, stride=s)[0].T.reshape(-1, f, f)  # (H'·W', f, f)
    h_out, w_out = steps.out_shape
    for i in range(h_out):
        for j in range(w_out):
            step = steps.step(i, j)
            np.testing.assert_array_equal(step.window, windows[i * w_out + j].numpy())
            assert step.value == steps.output[i, j]
            if mode == "avg":
                assert step.source is None and step.total / (f * f) == pytest.approx(step.value)
            else:
                assert x[step.source] == step.value and step.window[step.best] == step.value
    # the pixels a maximum came from are the ones the gradient of a max pooling reaches
    expected.sum().backward()
    if mode == "max":
        np.testing.assert_array_equal(steps.sources(), t.grad[0, 0].numpy() != 0)
    else:
        assert not steps.sources().any()


def test_pooling_two_dimensional_input():
    x = np.arange(16.0).reshape(4, 4)
    out, where = pooling.pool_reference(x, 2)
    np.testing.assert_array_equal(out, [[5, 7], [13, 15]])
    np.testing.assert_array_equal(where, [[[1, 1], [1, 3]], [[3, 1], [3, 3]]])
    avg, _ = pooling.pool_reference(x, 2, mode="avg")
    np.testing.assert_array_equal(avg, [[2.5, 4.5], [10.5, 12.5]])


def test_pool_padding_error_agrees_with_torch():
    with pytest.raises(RuntimeError, match="pad should be at most half"):
        F.max_pool2d(torch.zeros(1, 1, 4, 4), 2, 2, padding=2)
    with pytest.raises(ValueError):
        pooling.pool_reference(np.zeros((4, 4)), 2, 2, padding=2)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: pooling.pool_reference(np.zeros((4, 4)), 2, padding=2), r"at most half the window"),
        (lambda: pooling.pool_reference(np.zeros((4, 4)), 2, mode="min"), r"'max' or 'avg', got 'min'"),
        (lambda: pooling.pool_reference(np.zeros((4, 4)), 5), r"f=5 is larger"),
        (lambda: pooling.pool_steps(np.zeros((2, 4, 4)), 2), r"one channel \(H, W\), got shape \(2, 4, 4\)"),
        (lambda: pooling.pool_steps(np.zeros((4, 4)), 2).step(2, 0), r"output row i must be in 0..1, got 2"),
    ],
)
def test_errors_are_value_errors_that_say_what_is_wrong(call, match):
    with pytest.raises(ValueError, match=match):
        call()
