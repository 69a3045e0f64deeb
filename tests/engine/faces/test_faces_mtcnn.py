"""The MTCNN detector and the MTCNN + dlib backend on real photos (face_recognition's test photos, fetched by make
test): the cascade equals facenet-pytorch's own ``detect_face`` (its file from the installed wheel, run on our
networks), its boxes overlap dlib's (IoU > 0.5, torchvision's ``box_iou``), the five landmarks sit where they should,
the alignment is the least-squares similarity, and verification decides same/different right with MTCNN detection."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest
import torch
from faces_photos import photo
from PIL import Image
from torch import nn
from torchvision.ops import box_iou

from engine.faces import mtcnn
from engine.faces.backend import available, backend, distance
from engine.faces.mtcnn_backend import DLIB_TEMPLATE, similarity, warp
from engine.faces.pipeline import embed_one, find_faces
from engine.faces.verify import compare

PHOTOS = ("obama", "obama2", "obama3", "biden")


@pytest.fixture(scope="module")
def net():
    return mtcnn.MTCNN()


@pytest.fixture(scope="module")
def faces():
    return backend("mtcnn")


def _small(name: str, side: int = 400) -> np.ndarray:
    image = photo(f"{name}.jpg")
    h, w = image.shape[:2]
    s = side / max(h, w)
    return np.asarray(Image.fromarray(image).resize((round(w * s), round(h * s)), Image.BILINEAR))


def _facenet_detect_face():
    """facenet-pytorch's ``detect_face`` loaded from its file in the wheel (its package does not import here)."""
    spec = importlib.util.find_spec("facenet_pytorch")
    path = next(iter(spec.submodule_search_locations)) + "/models/utils/detect_face.py"
    module_spec = importlib.util.spec_from_file_location("facenet_detect_face", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.detect_face


class _AsFacenet(nn.Module):
    """Our network with facenet-pytorch's output order (offsets first, both softmax columns)."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        out = self.inner(x)
        p = out[0]
        probs = torch.stack([1 - p, p], dim=1)
        return (*out[1:], probs) if len(out) == 3 else (out[1], probs)


def test_weights_load_strictly_from_the_wheel(net):
    assert mtcnn.missing() is None and available()["mtcnn"] is None
    assert sum(p.numel() for p in net.rnet.parameters()) == 100_178
    assert sum(p.numel() for p in net.onet.parameters()) == 389_040


@pytest.mark.parametrize("name", PHOTOS)
def test_the_cascade_equals_facenet_pytorchs(net, name):
    image = _small(name)
    ours = net.detect(image)
    detect_face = _facenet_detect_face()
    with torch.inference_mode():
        boxes, points = detect_face(image, mtcnn.MIN_FACE, _AsFacenet(net.pnet), _AsFacenet(net.rnet),
                                    _AsFacenet(net.onet), list(mtcnn.THRESHOLDS), mtcnn.FACTOR, "cpu")
    ref_boxes, ref_points = np.asarray(boxes[0], np.float64), np.asarray(points[0], np.float64)
    order = np.argsort(-ref_boxes[:, 4], kind="stable")
    assert len(ours.boxes) == len(ref_boxes) >= 1
    np.testing.assert_allclose(ours.boxes, ref_boxes[order, :4], atol=0.05)
    np.testing.assert_allclose(ours.scores, ref_boxes[order, 4], atol=1e-5)
    np.testing.assert_allclose(ours.points, ref_points[order], atol=0.05)


@pytest.mark.parametrize("name", PHOTOS)
def test_boxes_overlap_dlibs_and_the_landmarks_sit_on_the_face(faces, name):
    image = photo(f"{name}.jpg")
    ours, theirs = find_faces(image, faces), find_faces(image, backend("dlib"))
    assert len(ours) == len(theirs) == 1
    iou = box_iou(torch.tensor([ours[0].box]), torch.tensor([theirs[0].box]))[0, 0].item()
    assert iou > 0.5, iou
    (lx, ly), (rx, ry), (nx, ny), (mlx, mly), (mrx, mry) = ours[0].landmarks
    x0, y0, x1, y1 = ours[0].box
    assert all(x0 <= x <= x1 and y0 <= y <= y1 for x, y in ours[0].landmarks)
    assert lx < nx < rx and mlx < mrx  # left to right as seen
    assert max(ly, ry) < ny < min(mly, mry)  # eyes above the nose above the mouth
    # dlib's eye corners (its points 0-1 one eye, 2-3 the other) bracket MTCNN's eye centres
    d = theirs[0].landmarks
    centres = sorted([d[:2].mean(0)[0], d[2:4].mean(0)[0]])
    assert abs(centres[0] - lx) < 0.1 * (x1 - x0) and abs(centres[1] - rx) < 0.1 * (x1 - x0)


def test_the_alignment_is_the_least_squares_similarity():
    rng = np.random.default_rng(0)
    angle, scale, shift = 0.3, 1.7, np.array([12.0, -5.0])
    rot = scale * np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    src = rng.uniform(0, 100, (5, 2))
    m = similarity(src, src @ rot.T + shift)
    np.testing.assert_allclose(m, np.c_[rot, shift], atol=1e-9)
    # noisy points: the normal equations' solution (numpy's lstsq) is what a brute least-squares fit gives
    dst = src @ rot.T + shift + rng.normal(0, 1, (5, 2))
    m = similarity(src, dst)
    a, b = m[1, 0], m[1, 1]
    assert math.isclose(m[0, 0], m[1, 1]) and math.isclose(m[0, 1], -m[1, 0]) and a != 0 and b != 0
    fitted = ((src @ m[:, :2].T + m[:, 2] - dst) ** 2).sum()
    for delta in (1e-3, -1e-3):
        worse = m.copy()
        worse[0, 0] += delta
        worse[1, 1] += delta
        assert ((src @ worse[:, :2].T + worse[:, 2] - dst) ** 2).sum() > fitted


def test_the_aligned_crop_puts_the_landmarks_on_the_template(faces, net):
    image = photo("obama2.jpg")
    face = find_faces(image, faces)[0]
    crop = faces.align(image, face)
    assert crop.shape == (150, 150, 3) and crop.dtype == np.uint8
    again = net.detect(np.pad(crop, ((40, 40), (40, 40), (0, 0)), mode="edge"))  # a margin to find it again in
    assert len(again.points) >= 1
    forward = similarity(face.landmarks, DLIB_TEMPLATE)
    mapped = face.landmarks @ forward[:, :2].T + forward[:, 2]  # where the warp should have put them
    assert np.linalg.norm(mapped - DLIB_TEMPLATE, axis=1).max() < 10  # a real face is not the template exactly
    error = np.linalg.norm(again.points[0] - 40 - mapped, axis=1)  # found again where the warp put them
    assert error.max() < 4, error
    assert warp(image, face.landmarks, DLIB_TEMPLATE, 150).tobytes() == crop.tobytes()


def test_same_person_below_the_threshold_different_people_above_with_mtcnn(faces):
    assert faces.threshold == 0.6 and faces.metric == "euclidean"
    embedded = {n: embed_one(photo(f"{n}.jpg"), faces) for n in PHOTOS}
    for a, b in [("obama", "obama2"), ("obama", "obama3"), ("obama2", "obama3")]:
        result = compare(embedded[a], embedded[b], faces)
        assert result.same and result.backend == "mtcnn", (a, b, result.distance)
    for other in ("obama", "obama2", "obama3"):
        result = compare(embedded[other], embedded["biden"], faces)
        assert not result.same and result.distance > 0.7, (other, result.distance)
        assert not compare(embedded[other], embedded["biden"], faces, metric="cosine").same
    # the same dlib embedder on differently aligned crops: the same person's vectors from both backends are close
    dlib_vector = embed_one(photo("obama.jpg"), backend("dlib")).vector
    assert distance(embedded["obama"].vector, dlib_vector) < 0.3
