"""``engine.data.targets``: typed targets check their values, subset and batch with their images, scale with a
resize (oracle: the coordinates scaled by hand, and the drawn square found where the scaled point says), and
augmentations that move pixels refuse the targets they cannot move yet."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.data import (
    AugmentConfig,
    BoxBatch,
    Boxes,
    ClassIds,
    DatasetCard,
    Identities,
    ImageSet,
    LoadedData,
    PointBatch,
    Points,
    check_targets,
    make_loader,
)
from engine.data.types import split_set


def _boxes() -> Boxes:
    return Boxes((torch.tensor([[0.0, 0.0, 4.0, 2.0], [1.0, 1.0, 3.0, 3.0]]), torch.zeros(0, 4),
                  torch.tensor([[2.0, 4.0, 6.0, 8.0]])),
                 (torch.tensor([0, 1]), torch.zeros(0, dtype=torch.int64), torch.tensor([1])), ("cat", "dog"))


@pytest.mark.parametrize(("make", "message"), [
    (lambda: ClassIds(torch.tensor([0, 3]), ("a", "b")), r"labels must lie in \[0, 2\), got \[0, 3\]"),
    (lambda: ClassIds(torch.tensor([0.0, 1.0]), ("a", "b")), "labels must be an int64 tensor"),
    (lambda: ClassIds(torch.tensor([0, 1]), ("a", "a")), "class names must be different"),
    (lambda: Boxes((torch.tensor([[3.0, 0.0, 1.0, 2.0]]),), (torch.tensor([0]),), ("a",)),
     r"image 0: boxes are \(x1, y1, x2, y2\) with x1 ≤ x2 and y1 ≤ y2, got \[3.0, 0.0, 1.0, 2.0\]"),
    (lambda: Boxes((torch.zeros(1, 4),), (torch.tensor([0, 0]),), ("a",)),
     r"image 0: box labels must be an int64 tensor of shape \(1,\)"),
    (lambda: Boxes((torch.zeros(1, 3),), (torch.tensor([0]),), ("a",)), r"boxes must be a float32 tensor \(M, 4\)"),
    (lambda: Boxes((torch.full((1, 4), float("nan")),), (torch.tensor([0]),), ("a",)), "must be finite"),
    (lambda: Points(torch.zeros(2, 3, 2), ("eye", "nose")), r"points must be a float32 tensor \(N, 2, 2\)"),
    (lambda: Points(torch.zeros(2, 1, 2), ("eye",), torch.ones(2, 2, dtype=torch.bool)), "visible must be a bool"),
    (lambda: Identities(torch.tensor([2]), ("ann", "bob")), r"identities must lie in \[0, 2\)"),
])
def test_bad_targets_are_refused_by_name(make, message) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_invisible_points_may_be_anything() -> None:
    points = torch.tensor([[[1.0, 2.0], [float("nan"), 0.0]]])
    p = Points(points, ("eye", "ear"), torch.tensor([[True, False]]))
    assert p.classes == ("eye", "ear") and len(p) == 1


def test_subset_and_batch_follow_the_images() -> None:
    boxes = _boxes()
    part = boxes.subset([2, 0])
    assert len(part) == 2 and torch.equal(part.boxes[0], boxes.boxes[2]) and torch.equal(part.labels[1],
                                                                                            boxes.labels[0])
    batch = boxes.batch(torch.tensor([1, 2]))
    assert isinstance(batch, BoxBatch) and batch.boxes[0].shape == (0, 4) and batch.labels[1].tolist() == [1]
    points = Points(torch.arange(12.0).reshape(3, 2, 2), ("a", "b"))
    pb = points.batch([2])
    assert isinstance(pb, PointBatch) and torch.equal(pb.points, points.points[2:]) and bool(pb.visible.all())
    ids = Identities(torch.tensor([0, 1, 1]), ("ann", "bob"))
    assert ids.batch([1, 2]).tolist() == [1, 1] and ids.classes == ("ann", "bob")


def test_resizing_scales_positions_only() -> None:
    boxes = _boxes().resized((8, 8), (16, 4))  # (H, W): y doubled, x halved
    assert boxes.boxes[0].tolist() == [[0.0, 0.0, 2.0, 4.0], [0.5, 2.0, 1.5, 6.0]]
    points = Points(torch.tensor([[[4.0, 2.0]]]), ("p",)).resized((8, 8), (4, 16))
    assert points.points.tolist() == [[[8.0, 1.0]]]
    ids = ClassIds(torch.tensor([0]), ("a",))
    assert ids.resized((8, 8), (2, 2)) is ids


def test_the_loader_hands_over_points_where_the_resized_image_shows_them() -> None:
    """A 2×2 white square at a known place in 16×16 images; at 32×32 the scaled point is the square's centre."""
    images = torch.zeros(4, 1, 16, 16, dtype=torch.uint8)
    corners = [(2, 3), (10, 1), (5, 12), (13, 13)]  # (x, y)
    for i, (x, y) in enumerate(corners):
        images[i, 0, y:y + 2, x:x + 2] = 255
    points = Points(torch.tensor([[[x + 1.0, y + 1.0]] for x, y in corners]), ("centre",))
    data = ImageSet(images, points)
    x, batch = next(iter(make_loader(data, (1, 32, 32), batch_size=4, shuffle=False, seed=0)))
    for img, (px, py) in zip(x[:, 0], batch.points[:, 0].tolist(), strict=True):
        ys, xs = torch.nonzero(img > 0.5, as_tuple=True)
        assert (float(xs.float().mean()) + 0.5, float(ys.float().mean()) + 0.5) == pytest.approx((px, py), abs=0.01)


def test_augmentations_that_move_pixels_say_which_targets_they_refuse() -> None:
    moving = AugmentConfig(hflip=True, crop_padding=2)
    colour = AugmentConfig(color_jitter=0.2, pca_color=0.1)
    check_targets(moving, ClassIds(torch.tensor([0]), ("a",)))  # class ids stay what they are
    check_targets(moving, Identities(torch.tensor([0]), ("a",)))
    check_targets(colour, _boxes())
    with pytest.raises(ValueError, match="horizontal flip, random crop move pixels, and this data's boxes are "
                                         "positions in the image .* turn them off"):
        check_targets(moving, _boxes())
    images = torch.zeros(3, 1, 8, 8, dtype=torch.uint8)
    with pytest.raises(ValueError, match="rotation moves pixels"):
        make_loader(ImageSet(images, _boxes()), (1, 8, 8), batch_size=2, shuffle=False, seed=0,
                    augment=AugmentConfig(rotation=10.0))


def test_image_sets_and_splits_for_any_target() -> None:
    images = torch.zeros(10, 1, 4, 4, dtype=torch.uint8)
    points = Points(torch.rand(10, 1, 2, generator=torch.Generator().manual_seed(0)), ("p",))
    full = ImageSet(images, points)
    assert full.classes == ("p",) and full.targets.kind == "points"
    with pytest.raises(ValueError, match="targets are points, not one class per image"):
        _ = full.labels
    train, val = split_set(full, 0.3, seed=1)
    assert (len(train), len(val)) == (7, 3)
    assert torch.equal(torch.cat([train.targets.points, val.targets.points]).sort(0).values,
                       points.points.sort(0).values)  # every image once
    assert split_set(full, 0.3, seed=1)[1].targets.points.tolist() == val.targets.points.tolist()  # by seed
    with pytest.raises(ValueError, match="one target per image: 10 images, 3 targets"):
        ImageSet(images, points.subset([0, 1, 2]))
    card = DatasetCard("p", "Points", ("p",), (1, 4, 4), 7, 3, "", "", "")  # says class ids
    with pytest.raises(ValueError, match="card says its targets are class ids, but its training set has points"):
        LoadedData(card, train, val)
    labels = ImageSet(images, torch.tensor([0, 1] * 5), ("a", "b"))
    assert labels.class_counts() == [5, 5] and isinstance(labels.targets, ClassIds)
    assert np.array_equal(labels.subset([1, 3]).labels.numpy(), [1, 1])
