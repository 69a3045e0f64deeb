"""engine.media.images: bundled photos load offline, uploads decode safely or fail with a readable ValueError."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from engine.media import images


def _encode(im: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kwargs)
    return buf.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares width×height pixels but holds almost no data: what a decompression bomb looks like."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("name", list(images.SAMPLE_IMAGES))
def test_sample_images_load_offline(name):
    color = images.sample_image(name, 32, gray=False)
    gray = images.sample_image(name, 24)
    assert color.shape == (32, 32, 3) and gray.shape == (24, 24)
    for img in (color, gray):
        assert img.dtype == np.float32 and 0 <= img.min() and img.max() <= 1 and img.std() > 0.01


def test_sample_image_full_size_and_gray_in_color():
    full = images.sample_image("chelsea", None, gray=False)
    assert full.shape == (300, 451, 3)
    camera = images.sample_image("camera", 16, gray=False)
    np.testing.assert_array_equal(camera[..., 0], camera[..., 2])  # a grayscale photo in colour: equal channels
    with pytest.raises(ValueError, match="unknown sample image 'lena'; choose one of camera"):
        images.sample_image("lena")


@pytest.mark.parametrize("name", list(images.SAMPLE_IMAGES))
def test_a_sample_image_is_tagged_colour_exactly_when_its_channels_differ(name):
    entry = images.SAMPLE_IMAGES[name]
    photo = images.sample_image(name, None, gray=False)
    assert entry.about and entry.colour == images.has_colour(photo)
    assert images.SAMPLE_IMAGES.tags(name) == {"colour" if entry.colour else "gray"}
    assert (name in images.SAMPLE_IMAGES.names(tags=["colour"])) == entry.colour


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "TIFF", "WEBP"])
def test_lossless_round_trip(fmt):
    rgb = np.random.default_rng(0).integers(0, 256, size=(7, 5, 3), dtype=np.uint8)
    data = _encode(Image.fromarray(rgb), fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    out = images.decode_upload(data)
    assert out.shape == (7, 5, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out, rgb / 255.0, atol=1e-6)
    gray = images.decode_upload(data, gray=True)
    np.testing.assert_allclose(gray, images.to_gray(rgb / 255.0), atol=1e-6)


def test_jpeg_gif_and_modes():
    img = Image.fromarray(np.full((8, 6, 3), 200, np.uint8))
    assert np.abs(images.decode_upload(_encode(img, "JPEG")) - 200 / 255).max() < 0.02
    assert images.decode_upload(_encode(img.convert("P"), "GIF")).shape == (8, 6, 3)
    assert images.decode_upload(_encode(img.convert("L"), "PNG")).shape == (8, 6, 3)
    assert images.decode_upload(_encode(img.convert("CMYK"), "JPEG")).shape == (8, 6, 3)
    sixteen = Image.fromarray(np.full((4, 4), 65535, np.uint16))
    np.testing.assert_allclose(images.decode_upload(_encode(sixteen, "PNG"), gray=True), 1.0)


def test_transparency_goes_on_white():
    clear = Image.new("RGBA", (3, 3), (0, 0, 0, 0))
    np.testing.assert_allclose(images.decode_upload(_encode(clear, "PNG")), 1.0)
    half = Image.new("RGBA", (3, 3), (0, 0, 0, 128))
    np.testing.assert_allclose(images.decode_upload(_encode(half, "PNG")), 127 / 255, atol=0.01)


def test_exif_orientation_is_applied():
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    data = _encode(Image.new("RGB", (8, 4), (10, 20, 30)), "JPEG", exif=exif)
    assert images.decode_upload(data).shape == (8, 4, 3)  # stored 8 wide × 4 high, shown 4 wide × 8 high


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # PIL warns at 89 Mpx, we refuse at 25
@pytest.mark.parametrize(
    ("data", "kwargs", "match"),
    [
        (b"", {}, "the file is empty"),
        (b"not an image at all", {}, r"not an image that can be read \(accepted: PNG, JPEG"),
        (b"%PDF-1.4\n" + b"0" * 100, {}, "not an image"),
        (b"x" * 2000, {"max_bytes": 1000}, "the file is 2000 bytes; the limit is 1000 bytes"),
        (_png_header_only(100, 100), {"max_pixels": 5000}, r"100×100 = 0.0 megapixels; the limit is 0.005 megapixels"),
        (_png_header_only(10_000, 10_000), {}, r"10000×10000 = 100.0 megapixels; the limit is 25 megapixels"),
        (_png_header_only(100_000, 100_000), {}, "far too many pixels"),
        (_png_header_only(50, 50), {}, "damaged or incomplete"),
    ],
    ids=["empty", "text", "pdf", "too-many-bytes", "pixel-cap", "default-pixel-cap", "pil-bomb", "no-data"],
)
def test_bad_uploads_are_value_errors(data, kwargs, match):
    with pytest.raises(ValueError, match=match):
        images.decode_upload(data, **kwargs)


def test_bomb_warning_as_error_is_still_a_value_error():
    with pytest.warns(Image.DecompressionBombWarning), pytest.raises(ValueError, match="25 megapixels"):
        images.decode_upload(_png_header_only(10_000, 10_000))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with pytest.raises(ValueError, match="far too many pixels"):
            images.decode_upload(_png_header_only(10_000, 10_000))


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_a_float_tiff_with_pixels_that_are_not_numbers_is_refused(bad):
    a = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    good = _encode(Image.fromarray(a, mode="F"), "TIFF")
    assert np.allclose(images.decode_upload(good, gray=True), a, atol=1e-6)  # finite: stretched to [0, 1]
    a[3, 4] = a[5, 6] = bad
    with pytest.raises(ValueError, match=r"2 of its 64 pixels are not numbers \(NaN or infinite\); every pixel"):
        images.decode_upload(_encode(Image.fromarray(a, mode="F"), "TIFF"))


def test_upload_size_reads_the_header_only():
    assert images.upload_size(_png_header_only(4000, 3000), max_pixels=12_000_000) == (4000, 3000)  # no pixel data
    with pytest.raises(ValueError, match=r"4000×3000 = 12.0 megapixels; the limit is 10 megapixels"):
        images.upload_size(_png_header_only(4000, 3000), max_pixels=10_000_000)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_shrinking_a_large_upload_gives_the_same_small_picture(fmt):
    """``shrink_to`` reduces the 8-bit pixels before they become floats: the picture resized to that side is the one
    a full-size decode gives (within a few levels), and the shrunk image keeps at least twice the side."""
    photo = images.to_uint8(images.sample_image("astronaut", size=None, gray=False))  # 512×512 RGB
    data = _encode(Image.fromarray(photo), fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    full, shrunk = images.decode_upload(data), images.decode_upload(data, shrink_to=32)
    assert full.shape == (512, 512, 3) and 64 <= shrunk.shape[0] < 128 and shrunk.shape[:2] == shrunk.shape[1::-1]
    a, b = images.resize_square(full, 32), images.resize_square(shrunk, 32)
    assert np.abs(a - b).mean() < 0.01 and np.abs(a - b).max() < 0.15
    assert images.decode_upload(data, shrink_to=300).shape == full.shape  # not twice the side: left as it is


def test_shrinking_keeps_one_bit_and_transparent_palette_images_right():
    bits = Image.new("1", (400, 200), 1)
    assert np.allclose(images.decode_upload(_encode(bits, "PNG"), shrink_to=16), 1.0)  # white stays white
    pal = Image.new("P", (300, 300), 0)
    pal.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    pal.paste(1, (0, 0, 300, 150))  # top half red, bottom half palette entry 0 — transparent
    shrunk = images.decode_upload(_encode(pal, "PNG", transparency=0), shrink_to=16)
    assert shrunk.shape == (34, 34, 3)  # reduced 300 // 32 = 9 times: 34 pixels, still at least 2 × 16
    assert np.allclose(shrunk[0, 0], [1, 0, 0]) and np.allclose(shrunk[-1, -1], [1, 1, 1])  # transparent on white


def test_truncated_file_is_a_value_error():
    data = _encode(Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), np.uint8)), "PNG")
    with pytest.raises(ValueError, match="damaged or incomplete"):
        images.decode_upload(data[: len(data) // 2])


def test_not_bytes_is_a_type_error():
    with pytest.raises(TypeError, match="needs the file's bytes"):
        images.decode_upload("photo.png")  # type: ignore[arg-type]


def test_conversions():
    rgb = np.random.default_rng(0).random((5, 7, 3)).astype(np.float32)
    assert images.to_chw(rgb).shape == (3, 5, 7) and images.to_chw(rgb[..., 0]).shape == (1, 5, 7)
    np.testing.assert_array_equal(images.to_chw(rgb)[1], rgb[..., 1])
    np.testing.assert_array_equal(images.to_hwc(images.to_chw(rgb)), rgb)  # the inverse
    np.testing.assert_array_equal(images.to_hwc(images.to_chw(rgb[..., 0])), rgb[..., 0])
    assert images.to_rgb(rgb[..., 0]).shape == (5, 7, 3)
    # PIL's own grayscale conversion is the oracle for the luma weights
    u8 = (rgb * 255).round().astype(np.uint8)
    pil_gray = np.asarray(Image.fromarray(u8).convert("L"), np.float32)
    np.testing.assert_allclose(images.to_gray(u8.astype(np.float32)), pil_gray, atol=0.51)
    square = images.resize_square(rgb, 4)
    assert square.shape == (4, 4, 3) and square.dtype == np.float32 and 0 <= square.min() <= square.max() <= 1
    np.testing.assert_array_equal(images.resize_square(rgb, 5), rgb[:, 1:6])  # centre crop, no resize needed
    with pytest.raises(ValueError, match="size must be a positive integer, got 0"):
        images.resize_square(rgb, 0)


def test_uint8_round_trip_and_crops():
    u8 = np.random.default_rng(1).integers(0, 256, (6, 9, 3), dtype=np.uint8)
    f = images.as_float(u8)
    assert f.dtype == np.float32 and f.max() <= 1
    np.testing.assert_array_equal(images.to_uint8(f), u8)  # exact: k/255 rounds back to k
    np.testing.assert_array_equal(images.to_uint8(np.array([-0.5, 0.5, 2.0])), [0, 128, 255])  # clipped, rounded
    assert images.to_uint8(u8) is u8
    assert images.centre_square(u8) == (0, 1, 6) and images.centre_square(np.zeros((9, 6))) == (1, 0, 6)
    np.testing.assert_array_equal(images.crop_square(u8), u8[:, 1:7])
    assert not images.has_colour(images.to_rgb(f[..., 0])) and images.has_colour(u8)
    with pytest.raises(ValueError, match=r"got shape \(3,\)"):
        images.crop_square(np.zeros(3))
