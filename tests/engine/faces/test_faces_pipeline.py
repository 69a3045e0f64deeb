"""The dlib pipeline on real photos (face_recognition's test photos, fetched by make test): the same person's photos
are closer than the threshold, different people's farther; a photo and a mildly augmented copy (torchvision's
brightness, rotation and blur) are "same"; the embedding equals dlib's own full-image computation; the messages for
no face, several faces, a tiny face and an unreadable file."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision.transforms.v2.functional as TF
from faces_photos import photo
from skimage import data

from engine.faces.backend import backend, distance
from engine.faces.pipeline import (
    FaceError,
    ManyFacesError,
    NoFaceError,
    TinyFaceError,
    UnreadableImageError,
    embed_all,
    embed_one,
    read_image,
)
from engine.faces.verify import compare, verify


@pytest.fixture(scope="module")
def dlib_faces():
    return backend("dlib")


@pytest.fixture(scope="module")
def embedded(dlib_faces):
    return {n: embed_one(photo(f"{n}.jpg"), dlib_faces) for n in ("obama", "obama2", "obama3", "biden")}


def test_same_person_below_the_threshold_different_people_above(embedded, dlib_faces):
    assert dlib_faces.threshold == 0.6 and dlib_faces.metric == "euclidean"
    for a, b in [("obama", "obama2"), ("obama", "obama3"), ("obama2", "obama3")]:
        result = compare(embedded[a], embedded[b], dlib_faces)
        assert result.same and result.decision == "same person", (a, b, result.distance)
        assert 0.2 < result.distance < 0.5
    for other in ("obama", "obama2", "obama3"):
        result = compare(embedded[other], embedded["biden"], dlib_faces)
        assert not result.same and result.distance > 0.7, (other, result.distance)
        cosine = compare(embedded[other], embedded["biden"], dlib_faces, metric="cosine")
        assert cosine.threshold == dlib_faces.thresholds["cosine"] and not cosine.same
    assert compare(embedded["obama"], embedded["obama2"], dlib_faces, metric="cosine").same


def test_a_photo_and_a_mildly_augmented_copy_are_the_same(dlib_faces):
    image = photo("obama2.jpg")
    t = torch.from_numpy(image).permute(2, 0, 1)  # (3, H, W) uint8
    t = TF.adjust_brightness(t, 1.15)
    t = TF.rotate(t, 6.0)
    t = TF.gaussian_blur(t, [5, 5], [1.0, 1.0])
    t = TF.resize(t, [int(image.shape[0] * 0.8), int(image.shape[1] * 0.8)], antialias=True)
    copy = t.permute(1, 2, 0).numpy()
    result = verify(image, copy, dlib_faces)
    assert result.same and result.distance < 0.3, result.distance


def test_embedding_matches_dlibs_own_full_image_computation(dlib_faces):
    """The oracle: dlib's ``compute_face_descriptor(image, shape)`` on the whole photo (as face_recognition calls it)
    against this pipeline's detect → align → embed."""
    import dlib
    from torchvision.ops import box_iou

    from engine.faces.dlib_backend import MODEL_FILES, models_dir

    image = photo("obama.jpg")
    ours = embed_one(image, dlib_faces)
    x0, y0, x1, y1 = (round(v) for v in ours.face.box)
    shape = dlib.shape_predictor(str(models_dir() / MODEL_FILES["shape"]))(image, dlib.rectangle(x0, y0, x1, y1))
    assert np.array_equal(ours.face.landmarks, [(p.x, p.y) for p in shape.parts()])
    theirs = np.asarray(dlib.face_recognition_model_v1(str(models_dir() / MODEL_FILES["embed"]))
                        .compute_face_descriptor(image, shape))
    assert ours.vector.shape == (128,) and ours.crop.shape == (150, 150, 3)
    assert float(distance(ours.vector, theirs)) < 1e-5
    # the box: found on a shrunk copy here, on the full photo by dlib itself — the same face, give or take pixels
    rect = max(dlib.get_frontal_face_detector()(image, 1), key=lambda r: r.width())
    iou = box_iou(torch.tensor([ours.face.box]), torch.tensor([[rect.left(), rect.top(), rect.right(), rect.bottom()]],
                                                             dtype=torch.float32))
    assert float(iou) > 0.8


def test_no_face_is_a_clear_message(dlib_faces):
    with pytest.raises(NoFaceError, match="No face was found in the picture"):
        embed_one(data.coffee(), dlib_faces)
    with pytest.raises(NoFaceError, match="picture B"):
        verify(photo("obama.jpg"), data.chelsea(), dlib_faces)


def test_several_faces_say_how_many_and_the_caller_picks_one(dlib_faces, embedded):
    obama, biden = photo("obama.jpg"), photo("biden.jpg")
    h = 600
    left_strip = _height(obama, h)
    row = np.concatenate([left_strip, _height(biden, h)], axis=1)  # Obama left, Biden right
    with pytest.raises(ManyFacesError, match="2 faces were found") as e:
        embed_one(row, dlib_faces)
    assert len(e.value.faces) == 2 and e.value.faces[0].box[0] < e.value.faces[1].box[0]
    left, right = embed_one(row, dlib_faces, pick=1), embed_one(row, dlib_faces, pick=2)
    assert compare(left, embedded["obama"], dlib_faces).same
    assert compare(right, embedded["biden"], dlib_faces).same
    assert not compare(left, right, dlib_faces).same
    with pytest.raises(FaceError, match="face 3 does not exist"):
        embed_one(row, dlib_faces, pick=3)
    assert [f.face.box[0] < left_strip.shape[1] for f in embed_all(row, dlib_faces)] == [True, False]


def test_a_tiny_face_is_refused_with_its_size(dlib_faces):
    with pytest.raises(TinyFaceError, match=r"only \d+ pixels wide; at least 400"):
        embed_one(photo("obama.jpg"), dlib_faces, min_size=400)


def test_an_unreadable_image_says_so(tmp_path):
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a picture")
    with pytest.raises(UnreadableImageError, match="notes.jpg is not a usable picture"):
        read_image(bad)
    with pytest.raises(UnreadableImageError, match="could not be read"):
        read_image(tmp_path / "missing.jpg")


def test_distances_match_torch(embedded):
    a = np.stack([embedded[n].vector for n in ("obama", "obama2")])
    b = np.stack([embedded[n].vector for n in ("obama3", "biden", "obama")])
    ta, tb = torch.from_numpy(a).double(), torch.from_numpy(b).double()
    assert np.allclose(distance(a, b), torch.cdist(ta, tb).numpy(), atol=1e-6)
    cos = 1 - torch.nn.functional.cosine_similarity(ta[:, None], tb[None], dim=-1)
    assert np.allclose(distance(a, b, "cosine"), cos.numpy(), atol=1e-6)
    assert distance(a[0], b).shape == (3,) and np.ndim(distance(a[0], b[0])) == 0
    with pytest.raises(ValueError, match="unknown distance 'manhattan'"):
        distance(a, b, "manhattan")


def test_a_bad_threshold_is_refused(embedded, dlib_faces):
    with pytest.raises(ValueError, match="threshold must be a positive number"):
        compare(embedded["obama"], embedded["biden"], dlib_faces, threshold=-1)


def _height(image: np.ndarray, h: int) -> np.ndarray:
    from PIL import Image

    w = round(image.shape[1] * h / image.shape[0])
    return np.asarray(Image.fromarray(image).resize((w, h), Image.BILINEAR))
