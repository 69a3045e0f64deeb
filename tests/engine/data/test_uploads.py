"""engine.data uploads: a zip of class folders loads into a stratified, seeded split; every bad zip is refused with a
message naming the problem; nothing is ever extracted to disk. Webcam samples become a data set the same way."""

from __future__ import annotations

import io
import time
import warnings
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile

from engine.data import from_samples, from_zip, load_dataset, uploads


def _png(colour=(255, 0, 0), size=(40, 30), mode="RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, colour).save(buf, "PNG")
    return buf.getvalue()


def _jpeg(colour=(0, 0, 255)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (50, 50), colour).save(buf, "JPEG", quality=95)
    return buf.getvalue()


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _good_files(top: str = "") -> dict[str, bytes]:
    files = {f"{top}cats/{i}.png": _png((200, 30 + i, 30)) for i in range(5)}
    files |= {f"{top}dogs/{i}.jpg": _jpeg((20, 40, 200 + i)) for i in range(5)}
    files |= {f"{top}birds/b{i}.webp": _png((10, 200, 10)) for i in range(2)}
    return files


# ------------------------------------------------------------------------------------------------ good zips


@pytest.mark.parametrize("top", ["", "my_data/"])
def test_a_good_zip_loads(top):
    files = _good_files(top) | {"__MACOSX/cats/._0.png": b"junk", f"{top}cats/.DS_Store": b"junk",
                                f"{top}dogs/Thumbs.db": b"junk"}
    data = from_zip(_zip(files), image_size=32)
    card = data.card
    assert card.classes == ("birds", "cats", "dogs")  # sorted folder names, as ImageFolder
    assert card.image_shape == (3, 32, 32) and card.train_size + card.val_size == 12
    assert len(data.train) == card.train_size and len(data.val) == card.val_size == round(12 * 0.2)
    # 2 of 12 held out, shared in proportion to class sizes (largest remainder): one cat, one dog
    assert data.train.class_counts() == [2, 4, 4] and data.val.class_counts() == [0, 1, 1]
    assert data.train.images.dtype == torch.uint8 and data.train.labels.dtype == torch.int64
    cats = data.train.images[data.train.labels == 1]
    assert (cats[:, 0].float().mean() - 200).abs() < 2 and cats[:, 2].float().mean() < 40  # red stays red


def test_progress_counts_every_image_decoded_and_a_raise_in_it_ends_the_reading(monkeypatch):
    calls: list[tuple[int, int]] = []
    data = from_zip(_zip(_good_files()), image_size=16, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(i, 12) for i in range(13)] and len(data.train) + len(data.val) == 12

    class Cancelled(Exception):
        pass

    at_cancel = []

    def cancel_after_three(done: int, total: int) -> None:
        if done == 3:
            at_cancel.append(len(decoded))
            raise Cancelled

    decoded = _count_decodes(monkeypatch)
    with pytest.raises(Cancelled):
        from_zip(_zip(_good_files()), image_size=16, progress=cancel_after_three)
    assert at_cancel[0] > 0 and len(decoded) == at_cancel[0]  # nothing decoded after the cancel
    with pytest.raises(ValueError, match="only one class folder"):  # refused by the checks: no progress at all
        from_zip(_zip({"cats/1.png": _png(), "cats/2.png": _png()}), progress=lambda *a: calls.append(a))
    assert len(calls) == 13


def test_a_gray_zip_is_stored_with_one_channel_and_split_by_seed(tmp_path):
    files = {f"{c}/{i}.png": _png(40 * i + k, mode="L") for k, c in enumerate("ab") for i in range(6)}
    raw = _zip(files)
    a, b, c = (from_zip(raw, seed=s, image_size=16) for s in (0, 0, 1))
    assert a.card.image_shape == (1, 16, 16)
    assert torch.equal(a.val.images, b.val.images) and not torch.equal(a.val.images, c.val.images)
    path = tmp_path / "letters.zip"
    path.write_bytes(raw)
    by_name = load_dataset(str(path), seed=0, max_train=5)
    assert "letters.zip" in by_name.card.title and len(by_name.train) == by_name.card.train_size == 5


def test_the_zip_is_read_in_memory_never_extracted(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the zip must not be extracted")

    monkeypatch.setattr(zipfile.ZipFile, "extract", refuse)
    monkeypatch.setattr(zipfile.ZipFile, "extractall", refuse)
    assert from_zip(_zip(_good_files()), image_size=16).card.num_classes == 3


# ------------------------------------------------------------------------------------------------ bad zips


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"../evil.png": _png()}, "unsafe path '../evil.png'"),
        ({"cats/../../evil.png": _png()}, "unsafe path 'cats/../../evil.png'"),
        ({"/etc/evil.png": _png()}, "unsafe path '/etc/evil.png'"),
        ({"C:/evil.png": _png()}, "unsafe path 'C:/evil.png'"),
        ({"cats/notes.txt": b"hello"}, "'cats/notes.txt' is not an image file: the zip may hold only .png, .jpg"),
        ({"cats/broken.png": b"\x89PNG not really"}, "'cats/broken.png': this file is not an image that can be read"),
        ({"cats/cut.png": _png()[:60]}, "'cats/cut.png': .*(damaged|could not be read)"),
        ({"loose.png": _png()}, "'loose.png' is not inside a class folder: put each class's images in a folder"),
        ({"cats/empty.png": b""}, "'cats/empty.png': the file is empty"),
    ],
)
def test_bad_members_are_named(extra, message):
    with pytest.raises(ValueError, match=message):
        from_zip(_zip(_good_files() | extra))


def test_one_class_only():
    with pytest.raises(ValueError, match=r"only one class folder \('cats'\); at least two classes are needed"):
        from_zip(_zip({f"data/cats/{i}.png": _png() for i in range(4)}))


def test_a_class_with_one_image():
    with pytest.raises(ValueError, match="class 'dogs' has only 1 image; each class needs at least 2"):
        from_zip(_zip({"cats/1.png": _png(), "cats/2.png": _png(), "dogs/1.png": _png()}))


def test_too_many_images():
    with pytest.raises(ValueError, match="the zip holds 12 images; the limit is 10"):
        from_zip(_zip(_good_files()), max_images=10)


def test_too_big(tmp_path):
    raw = _zip(_good_files())
    with pytest.raises(ValueError, match=rf"the zip is {len(raw)} bytes; the limit is 1000 bytes"):
        from_zip(raw, max_bytes=1000)
    path = tmp_path / "big.zip"
    path.write_bytes(raw)
    with pytest.raises(ValueError, match="the limit is 1000 bytes"):
        from_zip(path, max_bytes=1000)


def test_too_big_once_uncompressed():
    buf = io.BytesIO()
    Image.new("RGB", (1000, 1000)).save(buf, "BMP")  # 3 MB of zeros deflate to a few KB
    files = {f"{c}/{i}.bmp": buf.getvalue() for c in "ab" for i in range(2)}
    with pytest.raises(ValueError, match="the images add up to 11.4 MiB uncompressed; the limit is"):
        from_zip(_zip(files), max_bytes=2 * 1024 * 1024)


def test_a_zip_bomb_is_refused_by_its_ratio():
    buf = io.BytesIO()
    Image.new("RGB", (1000, 1000)).save(buf, "BMP")  # 3 MB of zeros deflate to about 3 KB each
    files = {f"{c}/{i}.bmp": buf.getvalue() for c in "ab" for i in range(2)}
    with pytest.raises(ValueError, match=r"the images inflate from .* to 11.4 MiB, \d+ times their compressed size; "
                                         r"the limit is 100 times"):
        from_zip(_zip(files))


def test_duplicate_member_names_are_refused():
    buf = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buf, "w") as zf:
        warnings.simplefilter("ignore")  # zipfile warns, and writes both
        for name, data in _good_files().items():
            zf.writestr(name, data)
        zf.writestr("cats/0.png", _png((0, 255, 0)))
    assert [i.filename for i in zipfile.ZipFile(buf).infolist()].count("cats/0.png") == 2
    with pytest.raises(ValueError, match="'cats/0.png' appears twice in the zip; each file may appear only once"):
        from_zip(buf.getvalue())


def test_a_symbolic_link_is_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in _good_files().items():
            zf.writestr(name, data)
        link = zipfile.ZipInfo("cats/passwd.png")
        link.external_attr = 0o120777 << 16  # what `zip -y` stores for a symlink; its data is the target
        zf.writestr(link, "/etc/passwd")
    with pytest.raises(ValueError, match="'cats/passwd.png' is a link; the zip may hold only the image files"):
        from_zip(buf.getvalue())


def test_the_set_in_memory_is_capped_before_decoding(monkeypatch):
    decoded = _count_decodes(monkeypatch)
    files = {f"{c}/{i}.png": _png(size=(4, 4)) for c in "ab" for i in range(200)}
    with pytest.raises(ValueError, match=r"400 images of 512×512 would take 300.0 MiB of memory; the limit is "
                                         r"256.0 MiB \(341 images at this size\)"):
        from_zip(_zip(files), image_size=512)
    assert decoded == []
    assert from_zip(_zip(files), image_size=16).card.train_size == 320  # the same images at a small size load


def _count_decodes(monkeypatch) -> list[str]:
    """Every image PIL decodes (``ImageFile.load``) is recorded: the bombs below must be refused from headers alone."""
    decoded: list[str] = []
    load = ImageFile.ImageFile.load

    def counting(self):
        decoded.append(f"{self.format} {self.size}")
        return load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", counting)
    return decoded


def test_a_zip_of_small_files_declaring_huge_images_is_refused_from_the_headers(monkeypatch):
    """The finding of issue 9: a 19.8 MB zip of 4,800 1-bit PNGs declaring 4000×4000 passed every cap and took hours
    to decode. Here 300 of them (16 Mpx each, within the per-image cap): refused from the headers, nothing decoded."""
    buf = io.BytesIO()
    Image.new("1", (4000, 4000)).save(buf, "PNG", optimize=True)
    bomb = buf.getvalue()
    assert len(bomb) < 4000  # 16 megapixels in a few kilobytes
    raw = _zip({f"{c}/{i}.png": bomb for c in ("black", "white") for i in range(150)})
    assert len(raw) < 2_000_000
    decoded = _count_decodes(monkeypatch)
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"the 300 images declare 4,800 megapixels in all, 24.0 times the limit of 200 "
                                         r"megapixels \(fewer or smaller images; nothing was decoded\)"):
        from_zip(raw)
    assert decoded == []  # not one image decoded (one would take about two seconds)
    assert time.perf_counter() - start < 20
    small = _zip({f"{c}/{i}.png": bomb for c in ("black", "white") for i in range(2)})
    with pytest.raises(ValueError, match="4 images declare 64 megapixels in all, 1.3 times the limit of 50 megapixels"):
        from_zip(small, max_pixels=50_000_000)
    assert decoded == []
    assert uploads.MAX_ZIP_PIXELS == 200_000_000 and uploads.MAX_IMAGE_PIXELS == 16_000_000


def test_not_a_zip_and_an_empty_zip():
    with pytest.raises(ValueError, match="this file is not a zip archive"):
        from_zip(b"just some bytes")
    with pytest.raises(ValueError, match="the zip holds no images"):
        from_zip(_zip({"cats/": b"", "dogs/.hidden": b""}))
    with pytest.raises(ValueError, match="no such zip file"):
        from_zip("/nonexistent/data.zip")


# ------------------------------------------------------------------------------------------------ webcam samples


def test_webcam_samples_become_a_data_set():
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(10)]
    frames[0] = np.zeros((48, 64, 4), np.uint8)  # RGBA frame
    frames[1] = rng.random((30, 30)).astype(np.float32)  # a gray float frame
    labels = [0] * 5 + [1] * 5
    data = from_samples(frames, labels, ["me", "not me"], image_size=24, seed=0)
    assert data.card.classes == ("me", "not me") and data.card.image_shape == (3, 24, 24)
    assert len(data.train) + len(data.val) == 10 and data.val.class_counts() == [1, 1]
    again = from_samples(frames, labels, ["me", "not me"], image_size=24, seed=0)
    assert torch.equal(data.train.images, again.train.images)
    # a frame that already has the target size is kept exactly (centre crop of a square = itself)
    square = rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
    one = from_samples([square, square, square, square], [0, 0, 1, 1], ["a", "b"], image_size=24)
    assert torch.equal(one.train.images[0], torch.from_numpy(square).permute(2, 0, 1))


@pytest.mark.parametrize(
    ("labels", "classes", "message"),
    [
        ([0, 0, 0, 1], ["a", "b"], "class 'b' has 1 sample; record at least 2"),
        ([0, 0, 1, 2], ["a", "b"], "label 3 is 2; labels are class indices 0..1"),
        ([0, 0, 0, 0], ["a"], "at least two classes are needed"),
        ([0, 0, 1], ["a", "b"], "got 4 images but 3 labels"),
        ([0, 0, 1, 1], ["a", "a"], "class names must be different"),
    ],
)
def test_bad_samples_are_refused(labels, classes, message):
    frames = [np.zeros((10, 10, 3), np.uint8)] * 4
    with pytest.raises(ValueError, match=message):
        from_samples(frames, labels, classes)
