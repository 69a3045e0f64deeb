"""engine.conv.bank: a bank's arrays are one convolution layer — checked channel by channel against torch's conv2d of
each named filter alone, and its size against nn.Conv2d."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch_oracle import as_tensor

from engine.conv import arithmetic, bank, filters

ROWS = [bank.BankRow("vertical edge", "all", 0.5), bank.BankRow("sobel x", "R", -1.0),
        bank.BankRow("laplacian", "B", 0.0), bank.BankRow("random", "G", 2.0), bank.BankRow("random", "all")]


def _alone(x_channel: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """torch's conv2d of one (H, W) channel with one (f, f) filter."""
    return F.conv2d(as_tensor(x_channel)[None, None], as_tensor(kernel)[None, None])[0, 0].numpy()


def test_each_filter_reads_its_channels_and_adds_its_bias():
    x = np.random.default_rng(0).standard_normal((3, 9, 8))
    weights, biases = bank.bank_weights(ROWS, 3, seed=5)
    assert weights.shape == (5, 3, 3, 3) and biases.shape == (5,)
    out = F.conv2d(as_tensor(x)[None], as_tensor(weights), as_tensor(biases))[0].numpy()  # (K, H', W')
    for k, row in enumerate(ROWS):
        kernel = filters.make_filter(row.filter, 3, seed=5 + k)  # row k's random filter: seed + k
        channels = range(3) if row.channels == "all" else ["RGB".index(row.channels)]
        expected = sum(_alone(x[c], kernel) for c in channels) + row.bias
        np.testing.assert_allclose(out[k], expected, atol=1e-6, err_msg=row.title(k))
    assert not np.array_equal(weights[3, 1], weights[4, 1])  # two random rows differ


def test_a_bank_is_as_big_as_the_conv_layer_it_stands_for():
    weights, biases = bank.bank_weights(bank.DEFAULT_BANK, 3)
    layer = nn.Conv2d(3, len(bank.DEFAULT_BANK), 3)
    assert weights.shape == layer.weight.shape and biases.shape == layer.bias.shape
    assert weights.size + biases.size == arithmetic.layer_params(3, 3, len(bank.DEFAULT_BANK)) == 280


def test_one_filter_on_every_channel_is_the_sum_over_channels():
    x = np.random.default_rng(1).standard_normal((3, 6, 6))
    kernel = filters.sobel_y()
    w = bank.on_every_channel(kernel, 3)
    assert w.shape == (1, 3, 3, 3) and w.dtype == np.float64
    out = F.conv2d(as_tensor(x)[None], as_tensor(w))[0, 0].numpy()
    np.testing.assert_allclose(out, sum(_alone(x[c], kernel) for c in range(3)), atol=1e-6)
    torch.testing.assert_close(torch.from_numpy(bank.on_every_channel(kernel, 1)[0, 0]), as_tensor(kernel))


def test_rows_grow_with_new_rows_and_shrink_to_k():
    assert bank.bank_rows(ROWS, 2) == ROWS[:2]
    assert bank.bank_rows(ROWS, 7) == [*ROWS, bank.NEW_ROW, bank.NEW_ROW]
    assert ROWS[1].title(1) == "2: sobel x (R)" and ROWS[0].title(0) == "1: vertical edge"


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: bank.BankRow("emboss"), r"unknown filter 'emboss'; choose one of vertical edge"),
        (lambda: bank.BankRow("sobel x", "alpha"), r"channels must be one of all, R, G, B, got 'alpha'"),
        (lambda: bank.BankRow("sobel x", "R", float("nan")), r"bias must be a finite number"),
        (lambda: bank.bank_weights(ROWS, 5), r"filter 2: the sobel x filter is defined only for f=3, got f=5"),
        (lambda: bank.bank_weights(ROWS[:2], 3, n_c=1), r"filter 2 reads channel R, but the input has 1 channel"),
        (lambda: bank.bank_weights([], 3), r"at least one filter"),
        (lambda: bank.bank_rows(ROWS, 0), r"number of filters K must be an integer ≥ 1, got 0"),
        (lambda: bank.on_every_channel(np.zeros(3), 3), r"non-empty \(fh, fw\) grid, got shape \(3,\)"),
    ],
)
def test_errors_name_the_filter_and_what_is_valid(call, match):
    with pytest.raises(ValueError, match=match):
        call()
