"""Images in and out of the engine: bundled demo photos (a registry), safe decoding of uploads, small conversions.

Images are channels-last like a photo: ``(H, W)`` grayscale or ``(H, W, 3)`` RGB, float32 in [0, 1] (``to_uint8``
and ``as_float`` convert to and from 0..255; ``to_chw`` gives the ``(C, H, W)`` layout that convolutions take). The
demo photos ship inside the scikit-image wheel (``skimage.data``), so they load offline; skimage is imported only when
a photo is asked for.

Uploads are untrusted bytes: ``decode_upload`` caps the file size, accepts only common formats, reads the image's
dimensions from its header and refuses too many pixels *before* decoding (a small file can declare a huge image: a
"decompression bomb"; ``upload_size`` does only that part), refuses float pixels that are NaN or infinite, and turns
every failure into a ``ValueError`` whose message can be shown to the user.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from engine.registry import Registry


@dataclass(frozen=True)
class SampleImage:
    """A bundled photo: what it shows and whether it is in colour (the others have three equal channels)."""

    about: str
    colour: bool


# All are in skimage.data and need no download; tagged "colour" or "gray".
SAMPLE_IMAGES: Registry[SampleImage] = Registry("sample image")
for _name, _about, _colour in [
    ("camera", "a cameraman (grayscale)", False),
    ("astronaut", "astronaut Eileen Collins, a face", True),
    ("chelsea", "Chelsea the cat", True),
    ("coffee", "a cup of coffee", True),
    ("rocket", "a rocket on its launch pad", True),
    ("coins", "Greek coins (grayscale)", False),
    ("brick", "a brick wall texture (grayscale)", False),
    ("checkerboard", "a checkerboard (grayscale)", False),
    ("text", "printed text (grayscale)", False),
    ("moon", "the moon's surface (grayscale)", False),
]:
    SAMPLE_IMAGES.add(_name, SampleImage(_about, _colour), tags=("colour" if _colour else "gray",))

UPLOAD_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF")
MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # 20 MiB
MAX_UPLOAD_PIXELS = 25_000_000  # 25 megapixels, well below PIL's own bomb threshold (~89 Mpx)


def sample_image(name: str = "camera", size: int | None = 128, gray: bool = True) -> np.ndarray:
    """A bundled photo: float32 in [0, 1], (size, size) when ``gray`` else (size, size, 3).

    The photo is centre-cropped to a square and resized to ``size`` (``None`` keeps the original, uncropped).
    Grayscale photos asked for in colour have three equal channels.
    """
    SAMPLE_IMAGES.get(name)  # ValueError naming the photos there are
    from skimage import data  # imported here: nothing heavy at import time

    img = as_float(np.asarray(getattr(data, name)()))
    img = to_gray(img) if gray else to_rgb(img)
    return img if size is None else resize_square(img, size)


def decode_upload(
    data: bytes,
    max_bytes: int = MAX_UPLOAD_BYTES,
    max_pixels: int = MAX_UPLOAD_PIXELS,
    gray: bool = False,
    shrink_to: int | None = None,
) -> np.ndarray:
    """Decode uploaded image bytes safely: float32 in [0, 1], (H, W, 3), or (H, W) when ``gray``.

    Accepts PNG, JPEG, GIF (first frame), BMP, WebP and TIFF; applies the EXIF orientation (phone photos); puts
    transparent areas on white. Raises ValueError for an empty or too large file (``max_bytes``), something that
    is not a readable image, an image of more than ``max_pixels`` pixels (checked from the header, before decoding),
    a corrupt/truncated one, or a float image (TIFF) with NaN or infinite pixels.

    ``shrink_to``: the caller will resize to this side; an image at least twice as large on its shorter side is then
    shrunk on its 8-bit pixels first (JPEG's own reduced decoding, then a box filter), never below twice that side —
    a 16-megapixel image costs about a tenth of the time and memory it would as full-size floats.
    """
    with _open_checked(data, max_bytes, max_pixels) as im:
        try:
            if shrink_to:
                im.draft(im.mode, (2 * shrink_to, 2 * shrink_to))  # JPEG: decode at 1/2, 1/4 or 1/8 scale
            im.load()
            im = ImageOps.exif_transpose(im) or im
            if shrink_to:
                im = _shrink(im, shrink_to)
        except Image.DecompressionBombError:
            raise ValueError("the image declares far too many pixels; it was not decoded") from None
        except (OSError, SyntaxError, ValueError) as e:  # truncated or corrupt data
            raise ValueError(f"the image file is damaged or incomplete: {e}") from None
        return _pil_to_array(im, gray)  # ValueError for pixels that are not numbers


def upload_size(data: bytes, max_bytes: int = MAX_UPLOAD_BYTES, max_pixels: int = MAX_UPLOAD_PIXELS) -> tuple[int, int]:
    """``(width, height)`` an uploaded image declares in its header, with every check of ``decode_upload`` that comes
    before decoding (size, format, pixel cap); nothing is decoded. ValueError with the same messages."""
    with _open_checked(data, max_bytes, max_pixels) as im:
        return im.size


def _open_checked(data: bytes, max_bytes: int, max_pixels: int) -> Image.Image:
    """The image opened lazily (only its header read), after the byte, format and pixel checks."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"decode_upload needs the file's bytes, got {type(data).__name__}")
    size = len(data)
    if size == 0:
        raise ValueError("the file is empty")
    if size > max_bytes:
        raise ValueError(f"the file is {_mib(size)}; the limit is {_mib(max_bytes)}")
    try:
        im = Image.open(io.BytesIO(data), formats=UPLOAD_FORMATS)  # reads the header only
    except UnidentifiedImageError:
        raise ValueError(
            f"this file is not an image that can be read (accepted: {', '.join(UPLOAD_FORMATS)})"
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):  # the warning, if warnings are errors
        raise ValueError("the image declares far too many pixels (a decompression bomb?); it was not decoded") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise ValueError(f"this image file could not be read: {e}") from None
    w, h = im.size
    if w < 1 or h < 1 or w * h > max_pixels:
        im.close()
        if w < 1 or h < 1:
            raise ValueError(f"the image has no pixels ({w}×{h})")
        raise ValueError(
            f"the image is {w}×{h} = {w * h / 1e6:.1f} megapixels; the limit is {max_pixels / 1e6:g} megapixels"
        )
    return im


def _shrink(im: Image.Image, side: int) -> Image.Image:
    """``im`` reduced by a whole factor (a box filter) so that its shorter side stays at least ``2 * side``."""
    factor = min(im.size) // (2 * side)
    if factor < 2:
        return im
    if im.mode == "1":
        im = im.convert("L")
    elif im.mode == "P":
        im = im.convert("RGBA")  # keeps a transparent palette entry transparent
    return im.reduce(factor) if im.mode in ("L", "LA", "RGB", "RGBA", "I", "F") else im


def _mib(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MiB" if n >= 1024 * 1024 else f"{n} bytes"


def _pil_to_array(im: Image.Image, gray: bool) -> np.ndarray:
    """A decoded PIL image -> float32 [0, 1], (H, W) or (H, W, 3)."""
    if im.mode.startswith("I;16"):
        img = np.asarray(im, dtype=np.float32) / 65535.0  # 16-bit grayscale
    elif im.mode in ("I", "F"):
        a = np.asarray(im, dtype=np.float64)
        bad = int(a.size - np.count_nonzero(np.isfinite(a)))  # a float TIFF can hold inf and NaN
        if bad:
            raise ValueError(f"{bad} of its {a.size} pixels are not numbers (NaN or infinite); "
                             f"every pixel must be a finite value")
        lo, hi = float(np.nanmin(a)), float(np.nanmax(a))
        img = ((a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)).astype(np.float32)
    elif im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = as_float(np.asarray(Image.alpha_composite(white, rgba).convert("RGB")))
    elif im.mode in ("L", "1"):
        img = as_float(np.asarray(im.convert("L")))
    else:
        img = as_float(np.asarray(im.convert("RGB")))  # RGB, P, CMYK, YCbCr, ...
    return to_gray(img) if gray else to_rgb(img)


def as_float(a: np.ndarray) -> np.ndarray:
    """A uint8, uint16, bool or float image -> float32 in [0, 1] (floats are clipped), same shape."""
    a = np.asarray(a)
    if a.dtype == np.bool_:
        return a.astype(np.float32)
    if a.dtype == np.uint8:
        return a.astype(np.float32) / 255.0
    if a.dtype == np.uint16:
        return a.astype(np.float32) / 65535.0
    return np.clip(a.astype(np.float32), 0.0, 1.0)


def to_gray(img: np.ndarray) -> np.ndarray:
    """(H, W, 3|4) or (H, W) -> (H, W) float32, luma 0.299 R + 0.587 G + 0.114 B (as PIL's "L")."""
    a = np.asarray(img, dtype=np.float32)
    if a.ndim == 2:
        return a
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise ValueError(f"image must have shape (H, W), (H, W, 3) or (H, W, 4), got shape {a.shape}")
    return (a[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)).astype(np.float32)


def to_rgb(img: np.ndarray) -> np.ndarray:
    """(H, W), (H, W, 3) or (H, W, 4) -> (H, W, 3) float32 (gray repeated; alpha dropped)."""
    a = np.asarray(img, dtype=np.float32)
    if a.ndim == 2:
        return np.repeat(a[..., None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise ValueError(f"image must have shape (H, W), (H, W, 3) or (H, W, 4), got shape {a.shape}")
    return np.ascontiguousarray(a[..., :3])


def to_chw(img: np.ndarray) -> np.ndarray:
    """(H, W) -> (1, H, W); (H, W, C) -> (C, H, W): the layout convolutions take."""
    a = np.asarray(img)
    if a.ndim == 2:
        return a[None]
    if a.ndim != 3:
        raise ValueError(f"image must have shape (H, W) or (H, W, C), got shape {a.shape}")
    return np.ascontiguousarray(a.transpose(2, 0, 1))


def to_hwc(img: np.ndarray) -> np.ndarray:
    """The inverse of ``to_chw``: (1, H, W) -> (H, W); (C, H, W) -> (H, W, C), the layout pictures are drawn in."""
    a = np.asarray(img)
    if a.ndim != 3:
        raise ValueError(f"image must have shape (C, H, W), got shape {a.shape}")
    return a[0] if a.shape[0] == 1 else np.ascontiguousarray(a.transpose(1, 2, 0))


def resize_square(img: Any, size: int) -> np.ndarray:
    """Centre-crop to a square, then resize to (size, size) with Lanczos; (H, W) or (H, W, C), float32 [0, 1]."""
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
        raise ValueError(f"size must be a positive integer, got {size!r}")
    a = crop_square(np.asarray(img, dtype=np.float32))
    side = a.shape[0]
    if side == size:
        return np.ascontiguousarray(a)
    channels = [a] if a.ndim == 2 else [a[..., c] for c in range(a.shape[2])]
    resized = [
        np.asarray(Image.fromarray(np.ascontiguousarray(ch)).resize((size, size), Image.Resampling.LANCZOS))
        for ch in channels  # each channel as a float ("F") image: no rounding to 8 bits
    ]
    out = resized[0] if a.ndim == 2 else np.stack(resized, axis=2)
    return np.clip(out, 0.0, 1.0).astype(np.float32)  # Lanczos can overshoot a little


def fit_within(image: np.ndarray, side: int, resample: int = Image.BOX) -> tuple[np.ndarray, float]:
    """A ``uint8`` picture ``(H, W[, C])`` with its longer side at most ``side`` pixels (``resample``: PIL's filter,
    by default area averaging), and the scale applied (≤ 1; the picture itself when it already fits)."""
    h, w = image.shape[:2]
    scale = min(1.0, side / max(h, w))
    if scale == 1.0:
        return image, 1.0
    small = Image.fromarray(image).resize((max(1, round(w * scale)), max(1, round(h * scale))), resample)
    return np.asarray(small), scale


def to_uint8(img: np.ndarray) -> np.ndarray:
    """A float image in [0, 1] (clipped) -> uint8 0..255, rounded; same shape. uint8 passes through."""
    a = np.asarray(img)
    if a.dtype == np.uint8:
        return a
    return np.rint(np.clip(a.astype(np.float32), 0.0, 1.0) * 255.0).astype(np.uint8)


def has_colour(img: np.ndarray) -> bool:
    """Whether an (H, W, 3) image's channels differ anywhere (False for gray, and for gray stored as RGB)."""
    a = np.asarray(img)
    if a.ndim == 2:
        return False
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise ValueError(f"image must have shape (H, W), (H, W, 3) or (H, W, 4), got shape {a.shape}")
    r, g, b = (a[..., c].astype(np.float32) for c in range(3))
    return not (np.allclose(r, g) and np.allclose(g, b))


def centre_square(img: np.ndarray) -> tuple[int, int, int]:
    """``(top, left, side)`` of the largest centred square of an ``(H, W, ...)`` image or frame."""
    h, w = np.shape(img)[:2]
    side = min(h, w)
    return (h - side) // 2, (w - side) // 2, side


def crop_square(img: np.ndarray) -> np.ndarray:
    """The largest centred square of an (H, W) or (H, W, C) image (a view)."""
    a = np.asarray(img)
    if a.ndim not in (2, 3):
        raise ValueError(f"image must have shape (H, W) or (H, W, C), got shape {a.shape}")
    top, left, side = centre_square(a)
    return a[top : top + side, left : left + side]
