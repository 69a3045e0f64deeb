"""``engine.data.windows``: deterministic, balanced, and each crop shows what its label says — checked on the pixels
(each pixel nearer the drawn shape's colour than the background's), boxed with torchvision's masks_to_boxes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision.ops import masks_to_boxes

from engine.data import load_dataset, windows
from engine.data.windows import KINDS


@pytest.fixture(scope="module")
def crops() -> windows.Windows:
    return windows.generate(500, 32, seed=0)


def _measured(w: windows.Windows, i: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The crop's shape pixels (nearer its colour than the background's) and their box (exclusive end), or None."""
    img = w.images[i].float() / 255
    fg = torch.tensor(w.fg[i], dtype=torch.float32)[:, None, None]
    bg = torch.tensor(w.bg[i], dtype=torch.float32)[:, None, None]
    mask = (img - fg).norm(dim=0) < (img - bg).norm(dim=0)
    if mask.sum() < 3:
        return mask, None
    return mask, masks_to_boxes(mask[None])[0] + torch.tensor([0.0, 0.0, 1.0, 1.0])


def test_windows_are_deterministic_and_balanced(crops):
    again = windows.generate(500, 32, seed=0)
    assert torch.equal(crops.images, again.images) and torch.equal(crops.labels, again.labels)
    assert not torch.equal(crops.images, windows.generate(500, 32, seed=0, part=1).images)
    assert crops.images.shape == (500, 3, 32, 32) and crops.classes[0] == "background"
    counts = torch.bincount(crops.labels, minlength=5).tolist()
    assert counts == [200, 75, 75, 75, 75]  # 40 % background, the four shapes in equal shares
    assert np.bincount(crops.kind[crops.labels.numpy() == 0]).tolist() == [0, 50, 50, 50, 50]
    assert (crops.kind[crops.labels.numpy() > 0] == 0).all()


def test_an_object_crop_holds_its_shape_centred_and_whole(crops):
    sides = []
    for i in np.flatnonzero(crops.kind == KINDS.index("object")):
        mask, box = _measured(crops, i)
        assert box is not None, i
        x0, y0, x1, y1 = box.tolist()
        assert x0 > 0 and y0 > 0 and x1 < 32 and y1 < 32, (i, box)  # whole: the crop's edge cuts nothing
        assert np.hypot((x0 + x1) / 2 - 16, (y0 + y1) / 2 - 16) < 0.21 * 32, (i, box)
        sides.append(max(x1 - x0, y1 - y0) / 32)
    assert 0.4 < min(sides) and max(sides) < 0.85
    assert np.mean(sides) == pytest.approx(windows.OBJECT_FILL, abs=0.05)  # the box a detection draws


def test_background_crops_hold_no_framed_shape(crops):
    for i in np.flatnonzero(crops.labels.numpy() == 0):
        mask, box = _measured(crops, i)
        kind = KINDS[crops.kind[i]]
        if kind == "plain":
            assert box is None, i
            continue
        assert box is not None, (i, kind)
        x0, y0, x1, y1 = box.tolist()
        cut = x0 == 0 or y0 == 0 or x1 == 32 or y1 == 32
        off = float(np.hypot((x0 + x1) / 2 - 16, (y0 + y1) / 2 - 16))
        if kind == "off-centre":  # cut by the edge, or whole but well beside the centre (unlike any object's)
            assert cut or off > 0.21 * 32, i
        elif kind == "large":
            assert cut and mask.float().mean() > 0.35, i
        else:  # small
            assert max(x1 - x0, y1 - y0) < 0.42 * 32 and not cut, i  # smaller than any object (≥ 0.44)


def test_the_named_set_and_bad_arguments():
    data = load_dataset("windows", seed=0, max_train=100)
    assert len(data.train) == 100 and len(data.val) == 1000 and data.card.classes == windows.CLASSES
    assert torch.equal(data.train.images, windows.generate(100, 32, 0, 0).images)
    with pytest.raises(ValueError, match="background must be a fraction"):
        windows.generate(10, background=1.0)
    with pytest.raises(ValueError, match="size must be an integer of at least 16"):
        windows.generate(10, size=8)
