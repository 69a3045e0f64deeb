"""``engine.data.normalization``: one type for the statistics, checked, converted between gray and RGB like the
loader converts the images, and exactly inverted."""

from __future__ import annotations

import pytest
import torch

from engine.data import Normalization, adapt_batch


def test_it_is_read_from_every_form_a_run_or_bundle_stores():
    n = Normalization((0.5,), (0.25,))
    assert Normalization.coerce(((0.5,), (0.25,))) == n == Normalization.coerce({"mean": [0.5], "std": [0.25]})
    assert Normalization.coerce(n) is n and Normalization.coerce(None) is None
    assert Normalization.coerce(n.to_dict()) == n and n.to_dict() == {"mean": [0.5], "std": [0.25]}
    assert Normalization(0.5, 0.25) == n and n.channels == 1


@pytest.mark.parametrize(("mean", "std", "match"), [
    ((0.1, 0.2), (0.1, 0.2), "1 \\(gray\\) or 3 \\(RGB\\)"),
    ((0.1,), (0.0,), "every std must be positive"),
    ((float("nan"),), (1.0,), "finite"),
    (("a",), (1.0,), "list of numbers"),
])
def test_bad_statistics_say_what_is_wrong(mean, std, match):
    with pytest.raises(ValueError, match=match):
        Normalization(mean, std)


def test_channel_conversion_matches_converting_the_pixels():
    rgb = torch.rand(4, 3, 5, 5)
    luma = (rgb * torch.tensor([0.299, 0.587, 0.114])[None, :, None, None]).sum(1, keepdim=True)
    stats = Normalization((0.4, 0.5, 0.6), (0.2, 0.2, 0.2))  # equal stds: the gray std is exact
    gray = stats.for_channels(1)
    assert gray.mean[0] == pytest.approx(0.299 * 0.4 + 0.587 * 0.5 + 0.114 * 0.6) and gray.std[0] == pytest.approx(0.2)
    assert torch.allclose(adapt_batch(rgb, (1, 5, 5), stats), (luma - gray.mean[0]) / gray.std[0], atol=1e-6)
    assert Normalization((0.3,), (0.1,)).for_channels(3) == Normalization((0.3,) * 3, (0.1,) * 3)


def test_denormalize_inverts_normalize():
    x = torch.rand(2, 3, 4, 4)
    stats = Normalization((0.1, 0.2, 0.3), (0.5, 0.6, 0.7))
    assert torch.allclose(stats.denormalize(stats.normalize(x)), x, atol=1e-6)
    assert torch.allclose(stats.normalize(x)[:, 1], (x[:, 1] - 0.2) / 0.6)
    assert stats.describe() == "mean (0.100, 0.200, 0.300), std (0.500, 0.600, 0.700)"
