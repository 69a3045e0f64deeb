"""The user's own data: a zip of class folders (torchvision's ImageFolder layout), or samples captured from the
webcam, Teachable Machine style. Both become a LoadedData with a stratified, seeded train/validation split.

A zip is untrusted: it is read in memory, member by member — nothing is ever extracted to a path taken from the zip
(so a "zip-slip" name such as ``../../etc/passwd`` can do no harm; it is refused anyway, with the other problems).
Before anything is decoded, the zip's size, its number of images, their total uncompressed size and its compression
ratio are capped; duplicate names, links and unsafe paths are refused; the memory the set would take is capped; and
every image's header is read (``engine.media.images.upload_size``) to cap each image's pixels and the *total* pixels
of the set — a 20 MB zip of thousands of tiny PNGs that each declare 4000×4000 passes every other cap and would take
hours to decode. Only then is each image decoded, by ``decode_upload`` (format whitelist, pixel cap; shrunk on its
8-bit pixels to twice ``image_size`` before it becomes floats). Every problem is a ``ValueError`` naming the file,
class or limit and saying what would be valid. The caps and their defaults are listed in docs/architecture.md
("Limits").
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import numpy as np
import torch

from engine.data.types import DatasetCard, ImageSet, LoadedData, split_set
from engine.media.images import decode_upload, resize_square, upload_size

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
MAX_ZIP_BYTES = 50 * 1024 * 1024
MAX_ZIP_IMAGES = 20_000
MAX_IMAGE_PIXELS = 16_000_000  # per image in a zip; a phone photo is 12 Mpx
MAX_ZIP_PIXELS = 200_000_000  # all images of a zip, from their headers: a few seconds of decoding, shrunk
INFLATE_FACTOR = 4  # the images' total uncompressed size may be 4 × the zip's size cap (200 MiB by default)
MAX_ZIP_RATIO = 100  # uncompressed / compressed, for zips that inflate past RATIO_FLOOR_BYTES
RATIO_FLOOR_BYTES = 1024 * 1024
MAX_SET_BYTES = 256 * 1024 * 1024  # the set as stored (N × 3 × size × size bytes)
MIN_PER_CLASS = 2  # one to train on, one to validate on
_JUNK_NAMES = {"thumbs.db", "desktop.ini"}
_LAYOUT_HINT = "put each class's images in a folder named after the class, e.g. cats/001.jpg and dogs/001.jpg"


def from_zip(data: bytes | Path | str, *, val_fraction: float = 0.2, seed: int = 0, max_bytes: int = MAX_ZIP_BYTES,
             max_images: int = MAX_ZIP_IMAGES, max_pixels: int = MAX_ZIP_PIXELS, image_size: int = 64,
             title: str | None = None, progress: Callable[[int, int], None] | None = None) -> LoadedData:
    """A data set from a zip of class folders (``cats/001.jpg``, ``dogs/a.png``; one top folder around them is
    allowed). Images are centre-cropped to squares and resized to ``image_size``; stored gray ``(N, 1, s, s)`` when
    every image is gray, else RGB ``(N, 3, s, s)``, uint8. Classes are the folder names, sorted (as ImageFolder).
    Hidden files, ``__MACOSX/`` and ``Thumbs.db`` are skipped. ValueError for every problem, naming it; the caps
    (``max_bytes``, ``max_images``, ``max_pixels`` in all and the module's other ``MAX_*``) are checked before any
    image is decoded. ``progress(decoded, total)`` is called once every cap has passed (0 of the images) and after
    each image; an exception it raises (a cancel) ends the reading there and goes to the caller."""
    _check_size(image_size)
    name = title
    if isinstance(data, str | Path):
        path = Path(data)
        if not path.is_file():
            raise ValueError(f"no such zip file: {path}")
        if path.stat().st_size > max_bytes:
            raise ValueError(f"the zip is {_mib(path.stat().st_size)}; the limit is {_mib(max_bytes)}")
        name = name or path.name
        data = path.read_bytes()
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"from_zip needs the zip's bytes or its path, got {type(data).__name__}")
    if len(data) > max_bytes:
        raise ValueError(f"the zip is {_mib(len(data))}; the limit is {_mib(max_bytes)}")
    try:
        zf = zipfile.ZipFile(io.BytesIO(bytes(data)))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise ValueError("this file is not a zip archive (make one from your class folders, e.g. "
                         "'zip -r data.zip cats dogs')") from None
    with zf:
        members = _image_members(zf, max_images, INFLATE_FACTOR * max_bytes)
        by_class = _classes_of(members)
        _check_set_memory(len(members), image_size)
        _check_pixels(zf, members, max_pixels)
        arrays, labels = [], []
        if progress is not None:
            progress(0, len(members))
        for k, (_cls, infos) in enumerate(by_class.items()):
            for info in infos:
                arrays.append(_to_square_uint8(_decode_member(zf, info, image_size), image_size))
                labels.append(k)
                if progress is not None:
                    progress(len(arrays), len(members))
    classes = tuple(by_class)
    return _loaded(arrays, labels, classes, val_fraction, seed, name="upload",
                   title=f"Your images ({name})" if name else "Your images",
                   source=f"your zip file{f' {name}' if name else ''}", image_size=image_size)


def from_samples(images: list[np.ndarray], labels: list[int], classes: list[str], *, val_fraction: float = 0.2,
                 seed: int = 0, image_size: int = 64) -> LoadedData:
    """A data set from captured samples (webcam frames): each image ``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)``, uint8
    or float in [0, 1], labelled by an index into ``classes``. Centre-cropped and resized like ``from_zip``; every
    class needs at least two samples."""
    _check_size(image_size)
    classes = tuple(str(c) for c in classes)
    if len(images) != len(labels):
        raise ValueError(f"got {len(images)} images but {len(labels)} labels; there must be one label per image")
    if len(classes) < 2:
        raise ValueError(f"at least two classes are needed, got {len(classes)}: {list(classes)}")
    if len(set(classes)) != len(classes):
        raise ValueError(f"class names must be different, got {list(classes)}")
    for i, y in enumerate(labels):
        if isinstance(y, bool) or not isinstance(y, int | np.integer) or not 0 <= y < len(classes):
            raise ValueError(f"label {i} is {y!r}; labels are class indices 0..{len(classes) - 1}")
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=len(classes)).tolist()
    for cls, n in zip(classes, counts, strict=True):
        if n < MIN_PER_CLASS:
            raise ValueError(f"class {cls!r} has {n} sample{'s' * (n != 1)}; record at least {MIN_PER_CLASS} for "
                             f"each class (one to train on, one to check on)")
    arrays = []
    for i, img in enumerate(images):
        a = np.asarray(img)
        if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)) or min(a.shape[:2]) < 1:
            raise ValueError(f"sample {i} has shape {a.shape}; expected (H, W), (H, W, 3) or (H, W, 4)")
        f = a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else np.clip(a.astype(np.float32), 0.0, 1.0)
        f = np.repeat(f[..., None], 3, axis=2) if f.ndim == 2 else f[..., :3]
        arrays.append(_to_square_uint8(f, image_size))
    return _loaded(arrays, [int(y) for y in labels], classes, val_fraction, seed, name="webcam",
                   title="Your webcam samples", source="captured from your webcam", image_size=image_size)


# ------------------------------------------------------------------------------------------------------ zip checks


def _image_members(zf: zipfile.ZipFile, max_images: int, max_inflated: int) -> list[zipfile.ZipInfo]:
    """The zip's image files, after checking every member's name, type and the totals."""
    images, seen = [], set()
    for info in zf.infolist():
        name = info.filename
        if _unsafe(name):
            raise ValueError(f"unsafe path {name!r} in the zip (absolute, or with '..'); paths must be relative, "
                             f"like cats/001.jpg")
        if _parts(name) in seen:  # zipfile keeps both; which one a reader gets depends on how it looks
            raise ValueError(f"{name!r} appears twice in the zip; each file may appear only once")
        seen.add(_parts(name))
        if (info.external_attr >> 16) & 0o170000 == 0o120000:  # a Unix symbolic link's mode, as `zip -y` stores it
            raise ValueError(f"{name!r} is a link; the zip may hold only the image files themselves (zip without -y)")
        if info.is_dir() or _junk(name):
            continue
        if PurePosixPath(name).suffix.lower() not in IMAGE_SUFFIXES:
            raise ValueError(f"{name!r} is not an image file: the zip may hold only "
                             f"{', '.join(IMAGE_SUFFIXES)} files, one folder per class")
        if info.flag_bits & 0x1:
            raise ValueError(f"{name!r} is encrypted; zip the images without a password")
        images.append(info)
    if not images:
        raise ValueError(f"the zip holds no images ({', '.join(IMAGE_SUFFIXES)}); {_LAYOUT_HINT}")
    if len(images) > max_images:
        raise ValueError(f"the zip holds {len(images)} images; the limit is {max_images}")
    total = sum(info.file_size for info in images)
    if total > max_inflated:
        raise ValueError(f"the images add up to {_mib(total)} uncompressed; the limit is {_mib(max_inflated)}")
    packed = sum(info.compress_size for info in images)
    if total > RATIO_FLOOR_BYTES and total > MAX_ZIP_RATIO * packed:
        raise ValueError(f"the images inflate from {_mib(packed)} to {_mib(total)}, {total / max(packed, 1):.0f} times "
                         f"their compressed size; the limit is {MAX_ZIP_RATIO} times (a zip bomb?)")
    return images


def _check_set_memory(n: int, image_size: int) -> None:
    """The stored set (``n`` RGB images of ``image_size``², uint8) must fit ``MAX_SET_BYTES``."""
    need = n * 3 * image_size * image_size
    if need > MAX_SET_BYTES:
        most = MAX_SET_BYTES // (3 * image_size * image_size)
        raise ValueError(f"{n} images of {image_size}×{image_size} would take {_mib(need)} of memory; the limit is "
                         f"{_mib(MAX_SET_BYTES)} ({most} images at this size)")


def _check_pixels(zf: zipfile.ZipFile, images: list[zipfile.ZipInfo], max_pixels: int) -> None:
    """Every image's pixels and their total, read from the headers: nothing is decoded when they are too many."""
    total = 0
    for info in images:
        try:
            w, h = upload_size(_read_member(zf, info), max_pixels=MAX_IMAGE_PIXELS)
        except ValueError as e:
            raise ValueError(f"{info.filename!r}: {e}") from None
        total += w * h
    if total > max_pixels:
        raise ValueError(f"the {len(images)} images declare {total / 1e6:,.0f} megapixels in all, "
                         f"{total / max_pixels:.1f} times the limit of {max_pixels / 1e6:,.0f} megapixels (fewer or "
                         f"smaller images; nothing was decoded)")


def _unsafe(name: str) -> bool:
    parts = re.split(r"[/\\]", name)
    return name.startswith(("/", "\\")) or bool(re.match(r"^[A-Za-z]:", name)) or ".." in parts or "\0" in name


def _parts(name: str) -> tuple[str, ...]:
    """A member's path components; some Windows tools write backslashes."""
    return PurePosixPath(name.replace("\\", "/")).parts


def _junk(name: str) -> bool:
    parts = _parts(name)
    return any(p.startswith((".", "__MACOSX")) for p in parts) or parts[-1].lower() in _JUNK_NAMES


def _classes_of(images: list[zipfile.ZipInfo]) -> dict[str, list[zipfile.ZipInfo]]:
    """class name -> its images, classes sorted; strips one top folder shared by every image."""
    paths = [_parts(info.filename) for info in images]
    if len({p[0] for p in paths}) == 1 and all(len(p) >= 3 for p in paths):
        paths = [p[1:] for p in paths]
    by_class: dict[str, list[zipfile.ZipInfo]] = {}
    for info, parts in zip(images, paths, strict=True):
        if len(parts) < 2:
            raise ValueError(f"{info.filename!r} is not inside a class folder: {_LAYOUT_HINT}")
        by_class.setdefault(parts[0], []).append(info)
    if len(by_class) < 2:
        only = next(iter(by_class))
        raise ValueError(f"the zip has only one class folder ({only!r}); at least two classes are needed: "
                         f"{_LAYOUT_HINT}")
    for cls, infos in by_class.items():
        if len(infos) < MIN_PER_CLASS:
            raise ValueError(f"class {cls!r} has only {len(infos)} image; each class needs at least "
                             f"{MIN_PER_CLASS} (one to train on, one to validate on)")
    return {cls: sorted(by_class[cls], key=lambda i: i.filename) for cls in sorted(by_class)}


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    try:
        return zf.read(info)  # checks the CRC and the declared size
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError, ValueError) as e:
        raise ValueError(f"{info.filename!r} could not be read from the zip: {e}") from None


def _decode_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, image_size: int) -> np.ndarray:
    try:
        return decode_upload(_read_member(zf, info), max_pixels=MAX_IMAGE_PIXELS, shrink_to=image_size)
    except ValueError as e:
        raise ValueError(f"{info.filename!r}: {e}") from None


# ------------------------------------------------------------------------------------------------------ shared


def _to_square_uint8(img: np.ndarray, size: int) -> np.ndarray:
    """(H, W, 3) float [0, 1] -> (size, size, 3) uint8, centre-cropped."""
    return np.rint(resize_square(img, size) * 255.0).astype(np.uint8)


def _loaded(arrays: list[np.ndarray], labels: list[int], classes: tuple[str, ...], val_fraction: float, seed: int,
            *, name: str, title: str, source: str, image_size: int) -> LoadedData:
    x = np.stack(arrays).transpose(0, 3, 1, 2)  # (N, H, W, 3) -> (N, 3, H, W)
    gray = bool((x[:, 0] == x[:, 1]).all() and (x[:, 1] == x[:, 2]).all())
    if gray:
        x = x[:, :1]
    full = ImageSet(torch.from_numpy(np.ascontiguousarray(x)), torch.as_tensor(labels, dtype=torch.int64), classes)
    train, val = split_set(full, val_fraction, seed)
    counts = ", ".join(f"{c} {n}" for c, n in zip(classes, full.class_counts(), strict=True))
    card = DatasetCard(
        name=name, title=title, classes=classes, image_shape=full.image_shape, train_size=len(train),
        val_size=len(val), source=source, licence="yours",
        description=(f"{len(full)} images in {len(classes)} classes ({counts}), centre-cropped to squares and resized "
                     f"to {image_size}×{image_size}, {'gray' if gray else 'RGB'}; {len(val)} held out for "
                     f"validation, chosen by the seed ({seed}), in the same proportions per class."),
    )
    return LoadedData(card, train, val)


def _check_size(image_size: int) -> None:
    if isinstance(image_size, bool) or not isinstance(image_size, int) or not 8 <= image_size <= 512:
        raise ValueError(f"image_size must be an integer from 8 to 512, got {image_size!r}")


def _mib(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MiB" if n >= 1024 * 1024 else f"{n} bytes"
