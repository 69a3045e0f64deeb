"""engine.conv.coverage against a transposed convolution of ones: how often each pixel is read."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from engine.conv import arithmetic, coverage

SETTINGS = settings(max_examples=120, deadline=None)
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths:UserWarning")


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
    cov = coverage.coverage(n, f, p, s, d)
    assert cov.shape == (n, n)
    np.testing.assert_array_equal(cov, _coverage_by_transposed_conv(n, f, p, s, d))


def test_coverage_tells_the_lesson():
    valid = coverage.coverage(6, 3)
    assert valid[0, 0] == 1 and valid[2, 2] == 9  # corners are read once, the centre nine times
    assert coverage.coverage(6, 3, 1).min() == 4  # padding lets the corners be read more
    skipped = coverage.coverage(7, 2, 0, 3)  # stride larger than the filter: rows/columns never read
    assert (skipped[2] == 0).all() and (skipped[:, 2] == 0).all()
    assert (skipped[-1] == 0).all()  # the leftover after the last window


@pytest.mark.parametrize(("n", "f", "p", "s"), [(6, 3, 0, 1), (6, 3, 1, 1), (7, 2, 0, 3), (16, 5, 2, 4)])
def test_coverage_facts_count_what_the_transposed_convolution_shows(n, f, p, s):
    counts = _coverage_by_transposed_conv(n, f, p, s, 1)
    facts = coverage.coverage_facts(coverage.coverage(n, f, p, s))
    assert facts.corner == counts[0, 0] and facts.centre == counts[n // 2, n // 2]
    np.testing.assert_array_equal(facts.never, counts == 0)
    assert facts.unread == int((counts == 0).sum()) and facts.pixels == n * n
    assert facts.unread_fraction == pytest.approx(facts.unread / (n * n))


def test_coverage_facts_of_the_course_example():
    facts = coverage.coverage_facts(coverage.coverage(6, 3))
    assert (facts.corner, facts.centre, facts.unread) == (1, 9, 0)
    assert coverage.coverage_facts(coverage.coverage(7, 2, 0, 3)).unread == 49 - 16  # 4 rows × 4 columns are read


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: coverage.coverage(5, 3, "full", 2), r"'valid' or 'same', got 'full'"),
        (lambda: coverage.coverage_facts(np.zeros(3)), r"\(n, n\) grid, got shape \(3,\)"),
    ],
)
def test_errors_are_value_errors_that_say_what_is_wrong(call, match):
    with pytest.raises(ValueError, match=match):
        call()
