"""engine.conv.filters: the named filters' sizes and values, the registry's messages, and what they do to an image."""

from __future__ import annotations

import numpy as np
import pytest

from engine.conv import filters, reference


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


@pytest.mark.parametrize("f", range(1, 8))
def test_the_menu_at_size_f_is_the_filters_that_can_be_made_at_f(f):
    def makes(name: str) -> bool:
        try:
            filters.make_filter(name, f)
        except ValueError:
            return False
        return True

    assert filters.filter_names(f) == [n for n in filters.FILTERS if makes(n)]
    assert filters.filter_names() == list(filters.FILTERS)  # the registry's order is the menu's
    assert len(filters.filter_names()) == 12


def test_the_random_filter_is_drawn_from_the_seed_and_the_others_ignore_it():
    np.testing.assert_array_equal(filters.make_filter("random", 4, seed=7), filters.random_filter(4, seed=7))
    assert not np.array_equal(filters.make_filter("random", 4, seed=7), filters.make_filter("random", 4, seed=8))
    np.testing.assert_array_equal(filters.make_filter("sobel x", 3, seed=7), filters.make_filter("sobel x", 3))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: filters.make_filter("emboss"), r"unknown filter 'emboss'; choose one of vertical edge"),
        (lambda: filters.make_filter("sobel x", 5), r"only for f=3, got f=5"),
        (lambda: filters.make_filter("identity", 4), r"odd size.*f=4"),
        (lambda: filters.gaussian_blur(5, sigma=0), r"sigma must be > 0"),
    ],
)
def test_errors_are_value_errors_that_say_what_is_wrong(call, match):
    with pytest.raises(ValueError, match=match):
        call()
