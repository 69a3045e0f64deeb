"""``engine.data.scenes`` and ``engine.data.landmarks``: deterministic, balanced, and labelled by what was
actually drawn (oracles: the pixels themselves, and an independent box measured with torchvision's masks_to_boxes)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision.ops import masks_to_boxes

from engine.data import landmarks, scenes, shapes


def test_scenes_are_deterministic_and_parts_differ():
    a, b = scenes.generate(20, 48, seed=3), scenes.generate(20, 48, seed=3)
    assert torch.equal(a.images, b.images) and torch.equal(a.boxes, b.boxes) and torch.equal(a.labels, b.labels)
    c = scenes.generate(20, 48, seed=3, part=1)
    assert not torch.equal(a.images, c.images)
    assert a.images.shape == (20, 3, 48, 48) and a.images.dtype == torch.uint8 and a.classes == shapes.CLASSES


def test_boxes_hold_the_drawn_object_and_empty_scenes_hold_none():
    s = scenes.generate(200, 64, seed=0)
    assert 0.1 < (~s.present).float().mean() < 0.3  # about EMPTY_FRACTION
    assert (s.labels[~s.present] == -1).all() and (s.boxes[~s.present] == 0).all()
    assert set(s.labels[s.present].tolist()) == set(range(len(shapes.CLASSES)))
    # An independent oracle: the object's pixels are far from the background colour (the scene's median colour);
    # a 3×3 median of that distance removes isolated noise pixels.
    for i in torch.nonzero(s.present).flatten()[:40].tolist():
        img = s.images[i].float()
        bg = img.flatten(1).median(dim=1).values[:, None, None]
        dist = (img - bg).norm(dim=0)[None, None]  # (1, 1, H, W)
        smooth = torch.nn.functional.unfold(dist, 3, padding=1).median(dim=1).values.reshape(dist.shape[-2:])
        ys, xs = torch.nonzero(smooth > 90, as_tuple=True)
        x0, y0, x1, y1 = s.boxes[i].tolist()
        assert len(xs) > 0, i
        seen = (xs.min().item(), ys.min().item(), xs.max().item() + 1, ys.max().item() + 1)
        assert seen == pytest.approx((x0, y0, x1, y1), abs=2), i
        assert x1 - x0 >= 4 and y1 - y0 >= 4


def test_mask_boxes_agree_with_torchvision():
    rng = np.random.default_rng(0)
    masks = rng.random((30, 17, 23)) > 0.97
    masks[0] = False
    ours = scenes.mask_boxes(masks)
    has = masks.reshape(30, -1).any(1)
    theirs = masks_to_boxes(torch.from_numpy(masks[has]))  # inclusive end: the last pixel's index
    assert np.array_equal(ours[has], (theirs + torch.tensor([0, 0, 1, 1])).numpy())
    assert (ours[~has] == 0).all()


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"n": 0}, "n must be a positive integer"),
    ({"n": 2, "size": 8}, "size must be an integer of at least 16"),
    ({"n": 2, "empty": 1.0}, r"empty must be a fraction in \[0, 1\)"),
    ({"n": 2, "classes": ("circle", "hexagon")}, "classes must be distinct names among circle"),
])
def test_bad_arguments_say_what_is_valid(kwargs, match):
    with pytest.raises(ValueError, match=match):
        scenes.generate(**kwargs)


def test_subsets_of_classes_are_balanced():
    s = scenes.generate(60, 32, seed=1, empty=0.0, classes=("circle", "cross"))
    assert s.present.all() and sorted(set(s.labels.tolist())) == [0, 1] and (s.labels == 0).sum() == 30


def test_faces_put_each_landmark_on_its_feature():
    f = landmarks.generate(64, 48, seed=2)
    assert f.images.shape == (64, 3, 48, 48) and f.points.shape == (64, 5, 2)
    assert torch.equal(f.images, landmarks.generate(64, 48, seed=2).images)
    p = f.points
    assert (p[:, 0, 0] < p[:, 1, 0]).all() and (p[:, 3, 0] < p[:, 4, 0]).all()  # left before right, as seen
    assert ((p >= 0) & (p <= 48)).all()
    # Oracle: the eyes and the nose are dark ink drawn on the lighter skin: the pixel under each of those points is
    # darker than the face around it.
    img = f.images.float().mean(1)  # (N, H, W)
    for i in range(64):
        for k in (0, 1, 2):
            x, y = (int(v) for v in p[i, k])
            ring = img[i, max(0, y - 6):y + 7, max(0, x - 6):x + 7]
            assert img[i, y, x] < ring.median(), (i, landmarks.NAMES[k])


def test_the_named_sets_carry_typed_targets_with_their_frame():
    from engine.data import dataset_card, load_dataset
    from engine.data.targets import Boxes, Points

    data = load_dataset("scenes", seed=1, max_train=50)
    card = dataset_card("scenes")
    assert card.targets == "boxes" and data.card.train_size == 50 and len(data.val) == card.val_size
    assert isinstance(data.train.targets, Boxes) and data.train.targets.frame == (48, 48)
    boxes = data.train.targets.boxes
    assert all(len(b) in (0, 1) for b in boxes) and any(len(b) == 0 for b in data.val.targets.boxes)
    assert torch.equal(data.train.images, load_dataset("scenes", seed=1, max_train=50).train.images)
    halved = data.train.targets.resized((48, 48), (24, 24))
    assert halved.frame == (24, 24) and torch.allclose(halved.boxes[0], boxes[0] / 2)
    faces = load_dataset("faces", seed=0, max_train=20)
    assert isinstance(faces.train.targets, Points) and faces.train.targets.names == landmarks.NAMES
    assert faces.train.targets.batch([0, 1]).frame == (48, 48)


# --------------------------------------------------------------------------------------------------- many objects


def test_many_object_scenes_are_deterministic_and_within_their_settings():
    kw = {"count": (1, 4), "radius": (0.08, 0.15), "classes": ("circle", "cross")}
    a, b = scenes.generate_many(30, 96, seed=2, **kw), scenes.generate_many(30, 96, seed=2, **kw)
    assert torch.equal(a.images, b.images) and all(torch.equal(x, y) for x, y in zip(a.boxes, b.boxes, strict=True))
    assert not torch.equal(a.images, scenes.generate_many(30, 96, seed=2, part=1, **kw).images)
    counts = [len(x) for x in a.boxes]
    assert min(counts) >= 1 and max(counts) == 4 and len(set(counts)) >= 3
    labels = torch.cat(a.labels)
    assert set(labels.tolist()) == {0, 1} and a.classes == ("circle", "cross")
    boxes = torch.cat(a.boxes)
    sides = (boxes[:, 2:] - boxes[:, :2]).max(dim=1).values
    assert (boxes >= 0).all() and (boxes <= 96).all() and sides.max() <= 2 * 0.15 * 96 + 1
    targets = a.targets()
    assert targets.kind == "boxes" and len(targets) == 30 and targets.frame == (96, 96)


@pytest.mark.parametrize("aspect", [(1.0, 1.0), (0.5, 2.0)])
def test_each_box_is_measured_on_its_drawn_pixels(aspect):
    """Oracle: with shapes apart (overlap 0), find each shape in the pixels — connected components (scipy) of the
    pixels far from the background colour (the scene's median), its colour their median — then take every pixel
    near its component that is nearer its colour than the background's (covered at least half, noise aside), and box
    those with torchvision's masks_to_boxes."""
    from scipy import ndimage

    s = scenes.generate_many(12, 128, seed=5, count=(3, 5), overlap=0.0, aspect=aspect)
    for i in range(len(s)):
        img = s.images[i].float()  # (3, H, W)
        bg = img.flatten(1).median(dim=1).values[:, None, None]
        far = ((img - bg).norm(dim=0) > 80).numpy()
        parts, n = ndimage.label(far)
        seen = []
        for k in range(1, n + 1):
            part = torch.from_numpy(parts == k)
            if part.sum() < 5:  # a few noisy pixels
                continue
            fg = img[:, part].median(dim=1).values[:, None, None]
            near = torch.from_numpy(ndimage.binary_dilation(part.numpy(), iterations=2))
            mask = near & ((img - fg).norm(dim=0) < (img - bg).norm(dim=0))
            seen.append((masks_to_boxes(mask[None])[0] + torch.tensor([0.0, 0.0, 1.0, 1.0])).tolist())
        truth = sorted(s.boxes[i].tolist())
        assert len(seen) == len(truth), i
        assert np.allclose(sorted(seen), truth, atol=1), (i, sorted(seen), truth)


def test_overlapping_shapes_keep_the_box_of_what_is_seen():
    s = scenes.generate_many(60, 128, seed=1, count=(4, 6), radius=(0.1, 0.2), overlap=0.4)
    from torchvision.ops import box_iou

    overlapping = 0
    for boxes in s.boxes:
        iou = box_iou(boxes, boxes).fill_diagonal_(0)
        overlapping += int((iou > 0).any())
        assert ((boxes[:, 2:] - boxes[:, :2]) >= 2).all()  # every shape painted is still seen
    assert overlapping >= 10
    with pytest.raises(ValueError, match="count must be two integers"):
        scenes.generate_many(2, count=(3, 1))
    with pytest.raises(ValueError, match="radius must be"):
        scenes.generate_many(2, radius=(0.3, 0.9))


def test_stretched_shapes_give_boxes_of_many_aspect_ratios_and_the_named_set_holds_them():
    from engine.data import load_dataset
    from engine.data.registry import MULTI_SIZE

    kw = {"radius": (0.1, 0.18), "classes": ("square",), "overlap": 0.0}  # apart: no box cut by another shape
    plain = torch.cat(scenes.generate_many(100, 96, seed=0, **kw).boxes)
    stretched = torch.cat(scenes.generate_many(100, 96, seed=0, aspect=(0.5, 2.0), **kw).boxes)
    ratio = lambda b: (b[:, 2] - b[:, 0]) / (b[:, 3] - b[:, 1])  # noqa: E731 - width over height
    assert ratio(plain).min() > 0.85 and ratio(plain).max() < 1.18  # rotated squares' boxes are square (± a pixel)
    assert ratio(stretched).min() < 0.7 and ratio(stretched).max() > 1.4
    data = load_dataset("multi_scenes", seed=1, max_train=40)
    assert data.card.targets == "boxes" and data.train.images.shape == (40, 3, MULTI_SIZE, MULTI_SIZE)
    counts = [len(b) for b in data.train.targets.boxes]
    assert min(counts) >= 1 and max(counts) >= 4 and len({int(y) for y in torch.cat(data.train.targets.labels)}) == 4
    again = load_dataset("multi_scenes", seed=1, max_train=40)
    assert torch.equal(data.val.images, again.val.images) and not torch.equal(data.train.images[:5],
                                                                               data.val.images[:5])
    with pytest.raises(ValueError, match="aspect must be"):
        scenes.generate_many(2, aspect=(0.1, 2.0))
