"""engine.data named sets: cards agree with what loads; seeds reproduce; every loader is checked against an independent
reader of the same source (scikit-learn, pandas, scikit-image, a plain IDX read, torchvision, a PIL drawing).
Nothing here touches the network: downloads are exercised from file:// URLs in a temp folder."""

from __future__ import annotations

import gzip
import hashlib
import math
import struct
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from engine.data import (
    DatasetUnavailableError,
    availability,
    bundled,
    dataset_card,
    dataset_names,
    load_dataset,
    shapes,
    vision_sets,
)
from engine.data.idx import read_idx
from engine.data.types import stratified_split

BUNDLED = ["shapes", "digits", "mnist5k", "lfw_faces"]
DEBIAN = Path("/usr/share/datasets/fashion-mnist")
needs_debian_fashion = pytest.mark.skipif(
    not (DEBIAN / "train-images-idx3-ubyte.gz").is_file(),
    reason="Debian's dataset-fashion-mnist is not installed (apt-get install dataset-fashion-mnist)",
)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """Any attempt to reach a non-file URL fails the test."""
    real = urllib.request.urlopen

    def guarded(url, *args, **kwargs):
        target = url if isinstance(url, str) else url.full_url
        assert target.startswith("file:"), f"a test tried to reach the network: {target}"
        return real(url, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", guarded)


@pytest.fixture(scope="module")
def loaded() -> dict:
    names = BUNDLED + (["fashion_mnist"] if availability("fashion_mnist")[0] else [])
    return {name: load_dataset(name) for name in names}


# ------------------------------------------------------------------------------------------------ cards


def test_the_named_sets_and_their_cards():
    assert dataset_names() == ["shapes", "digits", "mnist5k", "fashion_mnist", "lfw_faces", "mnist", "cifar10",
                               "scenes", "multi_scenes", "faces", "windows", "faces_shuffled"]
    for name in dataset_names():
        card = dataset_card(name)
        assert card.name == name and card.title and card.source and card.licence and card.description
        assert card.num_classes == len(card.classes) == len(set(card.classes)) >= 2
        assert len(card.image_shape) == 3 and card.image_shape[0] in (1, 3)
        assert card.train_size > card.val_size > 0
    assert dataset_card("cifar10").image_shape == (3, 32, 32) and dataset_card("mnist").num_classes == 10
    with pytest.raises(ValueError, match="unknown data set 'imagenet'; choose one of shapes, digits"):
        dataset_card("imagenet")


@pytest.mark.parametrize("name", [*BUNDLED, "fashion_mnist"])
def test_card_matches_the_loaded_data(name, loaded):
    if name not in loaded:
        pytest.skip(availability(name)[1])
    data = loaded[name]
    card = dataset_card(name)
    assert data.card == card
    assert len(data.train) == card.train_size and len(data.val) == card.val_size
    for part in (data.train, data.val):
        assert part.images.dtype == torch.uint8 and part.labels.dtype == torch.int64
        assert part.image_shape == card.image_shape and part.classes == card.classes
        assert min(part.class_counts()) > 0  # every class in both halves


def test_the_split_is_stratified_and_sized_as_the_card_says():
    labels = bundled.load_digits().labels.numpy()
    train, val = stratified_split(labels, 0.2, seed=0)
    assert len(val) == round(0.2 * len(labels)) == dataset_card("digits").val_size
    assert np.intersect1d(train, val).size == 0 and len(train) + len(val) == len(labels)
    per_class = np.bincount(labels[val]) / np.bincount(labels)
    assert np.all(np.abs(per_class - 0.2) < 0.02)


def test_availability_of_the_bundled_sets():
    for name in BUNDLED:
        ok, why = availability(name)
        assert ok, why


# ------------------------------------------------------------------------------------------------ seeds


def test_shapes_are_reproducible_by_seed():
    a, b, c = (load_dataset("shapes", seed=s, max_train=300) for s in (0, 0, 1))
    assert torch.equal(a.train.images, b.train.images) and torch.equal(a.train.labels, b.train.labels)
    assert torch.equal(a.val.images, b.val.images)
    assert not torch.equal(a.train.images, c.train.images)
    assert not torch.equal(a.val.images, c.val.images)
    assert a.card.train_size == len(a.train) == 300 and len(a.val) == dataset_card("shapes").val_size


def test_split_and_max_train_are_reproducible_by_seed():
    a, b, c = (load_dataset("digits", seed=s) for s in (0, 0, 1))
    assert torch.equal(a.val.images, b.val.images) and torch.equal(a.train.labels, b.train.labels)
    assert not torch.equal(a.val.images, c.val.images)
    small = load_dataset("digits", seed=3, max_train=100)
    assert len(small.train) == small.card.train_size == 100 and len(small.val) == 359
    assert torch.equal(small.train.images, load_dataset("digits", seed=3, max_train=100).train.images)
    with pytest.raises(ValueError, match="max_train must be a positive integer"):
        load_dataset("digits", max_train=0)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        load_dataset("digits", seed=-1)


def test_progress_is_reported():
    seen = []
    load_dataset("lfw_faces", progress=lambda f, msg: seen.append((f, msg)))
    assert seen[0][0] == 0.0 and seen[-1][0] == 1.0 and "160 training and 40 validation" in seen[-1][1]


# ------------------------------------------------------------------------------------------------ shapes oracle


def _reference_mask(k: int, cx: float, cy: float, r: float, angle: float, size: int, scale: int = 8) -> np.ndarray:
    """Shape ``k`` drawn by PIL at ``scale``× and box-filtered down: the fraction of each pixel it covers."""
    name = shapes.CLASSES[k]
    im = Image.new("L", (size * scale, size * scale), 0)
    draw = ImageDraw.Draw(im)

    def disc(radius, fill):
        draw.ellipse([(cx - radius) * scale, (cy - radius) * scale, (cx + radius) * scale, (cy + radius) * scale],
                     fill=fill)

    if name == "circle":
        disc(shapes.CIRCLE_RADIUS * r, 255)
    elif name == "ring":
        disc(r, 255)
        disc(shapes.RING_INNER * r, 0)
    else:
        if name == "square":
            h = shapes.SQUARE_HALF_SIDE
            local = [(-h, -h), (h, -h), (h, h), (-h, h)]
        elif name == "triangle":
            local = [(math.cos(t), math.sin(t)) for t in (-math.pi / 2, math.pi / 6, 5 * math.pi / 6)]
        elif name == "cross":
            w, ln = shapes.CROSS_HALF_WIDTH, shapes.CROSS_HALF_LENGTH
            local = [(w, -ln), (w, -w), (ln, -w), (ln, w), (w, w), (w, ln),
                     (-w, ln), (-w, w), (-ln, w), (-ln, -w), (-w, -w), (-w, -ln)]
        else:  # star: tips at radius 1, notches between them
            step = 2 * math.pi / shapes.STAR_POINTS
            local = []
            for j in range(shapes.STAR_POINTS):
                notch = (j + 0.5) * step
                local += [(math.cos(j * step), math.sin(j * step)),
                          (shapes.STAR_INNER * math.cos(notch), shapes.STAR_INNER * math.sin(notch))]
        c, s = math.cos(angle), math.sin(angle)
        draw.polygon([((cx + r * (c * a - s * b)) * scale, (cy + r * (s * a + c * b)) * scale) for a, b in local],
                     fill=255)
    return np.asarray(im.resize((size, size), Image.Resampling.BOX), dtype=np.float64) / 255.0


def test_each_shape_image_shows_the_shape_its_label_names():
    """Recover the shape from the pixels (nearer the shape's colour than the background's) and compare it with PIL
    drawings of every class at the same place, size and angle: the labelled class must match best, and well."""
    size = 32
    images, labels, p = shapes.generate(60, size, seed=7)
    assert torch.equal(labels, torch.as_tensor(p.labels)) and np.bincount(p.labels).tolist() == [10] * 6
    x = images.numpy().astype(np.float64) / 255.0  # (N, 3, H, W)
    for i in range(len(labels)):
        d = p.fg[i] - p.bg[i]
        shown = np.tensordot(d, x[i] - p.bg[i][:, None, None], axes=(0, 0)) / d.dot(d) > 0.5  # (H, W)
        ious = []
        for k in range(len(shapes.CLASSES)):
            ref = _reference_mask(k, p.cx[i], p.cy[i], p.radius[i], p.angle[i], size) > 0.5
            ious.append((shown & ref).sum() / (shown | ref).sum())
        assert int(np.argmax(ious)) == labels[i], (i, shapes.CLASSES[labels[i]], np.round(ious, 2))
        assert ious[labels[i]] > 0.8, (i, shapes.CLASSES[labels[i]], ious[labels[i]])


def test_shape_coverage_is_antialiased_like_a_fine_drawing():
    rng = np.random.default_rng(0)
    p = shapes.sample_params(30, 32, rng)
    cover = shapes.coverage(p, 32)
    assert cover.dtype == np.float32 and cover.min() >= 0 and cover.max() <= 1
    errors = [np.abs(cover[i] - _reference_mask(p.labels[i], p.cx[i], p.cy[i], p.radius[i], p.angle[i], 32)).mean()
              for i in range(30)]
    assert max(errors) < 0.03, np.round(errors, 3)


def test_shapes_differ_the_way_their_geometry_says():
    """An oracle that needs no drawing: mean coverage relative to radius² follows each shape's area formula."""
    rng = np.random.default_rng(1)
    p = shapes.sample_params(600, 32, rng)
    ratio = shapes.coverage(p, 32).sum(axis=(1, 2)) / p.radius**2
    w, ln = shapes.CROSS_HALF_WIDTH, shapes.CROSS_HALF_LENGTH
    area = {
        "circle": math.pi * shapes.CIRCLE_RADIUS**2,
        "square": (2 * shapes.SQUARE_HALF_SIDE) ** 2,
        "triangle": 3 * math.sqrt(3) / 4,
        "cross": 2 * (2 * w) * (2 * ln) - (2 * w) ** 2,
        "ring": math.pi * (1 - shapes.RING_INNER**2),
        "star": shapes.STAR_POINTS * shapes.STAR_INNER * math.sin(math.pi / shapes.STAR_POINTS),
    }
    for k, name in enumerate(shapes.CLASSES):
        assert ratio[p.labels == k].mean() == pytest.approx(area[name], rel=0.03), name


# ------------------------------------------------------------------------------------------------ bundled sets


def test_digits_match_scikit_learn():
    from sklearn.datasets import load_digits

    ref = load_digits()
    full = bundled.load_digits()
    assert torch.equal(full.labels, torch.as_tensor(ref.target, dtype=torch.int64))
    assert np.array_equal(full.images[:, 0].numpy(), np.rint(ref.images * 255 / 16).astype(np.uint8))
    data = load_dataset("digits", seed=5)
    train_idx, val_idx = stratified_split(full.labels.numpy(), 0.2, 5)
    assert torch.equal(data.train.images, full.images[train_idx]) and torch.equal(data.val.labels, full.labels[val_idx])


def test_mnist5k_matches_the_csv_read_by_pandas():
    import pandas as pd

    table = pd.read_csv(bundled.package_file("mnist5k"), header=None).to_numpy()
    full = bundled.load_mnist5k()
    assert full.images.shape == (5000, 1, 28, 28) and full.class_counts() == [500] * 10
    assert np.array_equal(full.images.reshape(5000, -1).numpy(), table[:, :784])
    assert np.array_equal(full.labels.numpy(), table[:, 784])


def test_lfw_faces_match_scikit_image():
    from skimage import data as skdata

    ref = skdata.lfw_subset()
    full = bundled.load_lfw_faces()
    assert np.abs(full.images[:, 0].numpy() / 255.0 - ref).max() <= 0.5 / 255 + 1e-9
    assert full.classes[full.labels[0]] == "face" and full.classes[full.labels[-1]] == "not a face"
    assert full.class_counts() == [100, 100]


@needs_debian_fashion
def test_fashion_mnist_matches_the_debian_files_read_independently(loaded):
    def plain(name, offset, shape):
        with gzip.open(DEBIAN / name) as f:
            return np.frombuffer(f.read(), np.uint8, offset=offset).reshape(shape)

    data = loaded["fashion_mnist"]
    assert np.array_equal(data.train.images[:, 0].numpy(), plain("train-images-idx3-ubyte.gz", 16, (60000, 28, 28)))
    assert np.array_equal(data.train.labels.numpy(), plain("train-labels-idx1-ubyte.gz", 8, (60000,)))
    assert np.array_equal(data.val.images[:, 0].numpy(), plain("t10k-images-idx3-ubyte.gz", 16, (10000, 28, 28)))
    assert np.array_equal(data.val.labels.numpy(), plain("t10k-labels-idx1-ubyte.gz", 8, (10000,)))
    assert data.card.classes[9] == "Ankle boot"


# ------------------------------------------------------------------------------------------------ IDX sets in a root


def _idx_bytes(a: np.ndarray) -> bytes:
    return bytes([0, 0, 8, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape) + a.astype(np.uint8).tobytes()


def _write_idx_set(folder: Path, n_train: int, n_test: int, seed: int, gz: bool) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        arrays[f"{split}-images-idx3-ubyte"] = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        arrays[f"{split}-labels-idx1-ubyte"] = np.arange(n, dtype=np.uint8) % 10
    for name, a in arrays.items():
        if gz:
            with gzip.open(folder / f"{name}.gz", "wb") as f:
                f.write(_idx_bytes(a))
        else:
            (folder / name).write_bytes(_idx_bytes(a))
    return arrays


def test_mnist_loads_from_torchvisions_layout_and_agrees_with_torchvision(tmp_path):
    from torchvision.datasets import MNIST

    arrays = _write_idx_set(tmp_path / "MNIST" / "raw", 50, 20, seed=0, gz=False)
    ok, why = availability("mnist", root=tmp_path)
    assert ok and str(tmp_path) in why
    data = load_dataset("mnist", root=tmp_path)
    assert data.card.train_size == len(data.train) == 50 and data.card.val_size == len(data.val) == 20
    assert np.array_equal(data.train.images[:, 0].numpy(), arrays["train-images-idx3-ubyte"])
    for train, part in ((True, data.train), (False, data.val)):
        ref = MNIST(str(tmp_path), train=train, download=False)  # torchvision reading the same files
        assert torch.equal(part.images[:, 0], ref.data) and torch.equal(part.labels, ref.targets)


def test_fashion_mnist_prefers_the_data_root_and_reads_gzip(tmp_path):
    arrays = _write_idx_set(tmp_path / "FashionMNIST" / "raw", 30, 10, seed=1, gz=True)
    data = load_dataset("fashion_mnist", root=tmp_path)
    assert len(data.train) == 30 and np.array_equal(data.val.labels.numpy(), arrays["t10k-labels-idx1-ubyte"])


def test_missing_sets_say_why_and_how(tmp_path, monkeypatch):
    monkeypatch.setattr(vision_sets, "DEBIAN_FASHION_MNIST", tmp_path / "nothing")
    for name, hint in (("mnist", "download it when you ask"), ("cifar10", "download it when you ask"),
                       ("fashion_mnist", "apt-get install dataset-fashion-mnist")):
        ok, why = availability(name, root=tmp_path)
        assert not ok and hint in why and str(tmp_path) in why
        with pytest.raises(DatasetUnavailableError, match="not on this machine") as err:
            load_dataset(name, root=tmp_path)
        assert isinstance(err.value, ValueError)


def test_the_data_root_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNPG_DATA_DIR", str(tmp_path))
    assert vision_sets.data_root() == tmp_path and vision_sets.data_root("/x") == Path("/x")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x01\x00\x08\x03" + b"\x00" * 12, "is not an IDX file"),
        (b"\x00\x00\x0d\x03" + b"\x00" * 12, "only unsigned bytes"),
        (bytes([0, 0, 8, 3]) + struct.pack(">3I", 2, 28, 28) + b"\x00" * 100, "declares shape"),
        (bytes([0, 0, 8, 3]) + b"\x00\x00", "header is incomplete"),
    ],
)
def test_bad_idx_files_are_refused_by_name(tmp_path, content, message):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as err:
        read_idx(path, 3)
    assert str(path) in str(err.value)


# ------------------------------------------------------------------------------------------------ downloads, offline


def test_download_reports_progress_and_checks_the_md5(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"x" * 3_000_000)
    md5 = hashlib.md5(src.read_bytes()).hexdigest()
    seen = []
    out = vision_sets.download([src.as_uri()], tmp_path / "out" / "f.bin", md5, lambda f, m: seen.append((f, m)))
    assert out.read_bytes() == src.read_bytes() and seen[-1][0] == 1.0 and "3.0 of 3.0 MB" in seen[-1][1]
    with pytest.raises(DatasetUnavailableError, match="expected 0000") as err:
        vision_sets.download([(tmp_path / "missing").as_uri(), src.as_uri()], tmp_path / "g.bin", "0000")
    assert "missing" in str(err.value) and "Is this machine online?" in str(err.value)
    assert not (tmp_path / "g.bin").exists() and not (tmp_path / "g.bin.part").exists()


def test_mnist_download_path_end_to_end_from_a_local_mirror(tmp_path, monkeypatch):
    """load_dataset(download=True) with torchvision's MNIST mirrors pointed at a file:// folder: the real download,
    MD5 check and unpacking code, no network."""
    from torchvision.datasets import MNIST

    mirror = tmp_path / "mirror"
    arrays = _write_idx_set(mirror, 40, 10, seed=2, gz=True)
    resources = [(f"{name}.gz", hashlib.md5((mirror / f"{name}.gz").read_bytes()).hexdigest()) for name in arrays]
    monkeypatch.setattr(MNIST, "mirrors", [mirror.as_uri() + "/"])
    monkeypatch.setattr(MNIST, "resources", resources)
    root = tmp_path / "root"
    assert not availability("mnist", root=root)[0]
    seen = []
    data = load_dataset("mnist", root=root, download=True, progress=lambda f, m: seen.append(f))
    assert availability("mnist", root=root)[0] and len(data.train) == 40 and len(data.val) == 10
    assert (root / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file()  # unpacked as torchvision does
    assert seen == sorted(seen) and seen[-1] == 1.0
    assert torch.equal(MNIST(str(root), train=True).data, data.train.images[:, 0])
