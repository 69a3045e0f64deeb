"""Style images that work offline: "artworks" painted by the engine from a seed, and textures and pictures that ship
inside the scikit-image wheel.

No famous painting ships in any package this project can install offline (docs/assets.md), so the engine paints a few
pictures in the manner of well-known styles — what matters for style transfer is what the style image's Gram matrices
capture: its colours, its strokes and textures at several scales, not its subject. Each painting is a pure function of
``(size, seed)``: the same seed gives the same picture, another seed another picture of the same family. scikit-image's
bundled files (``skimage/data/*.png``, read by ``skimage.data``) add real textures (brick, grass, gravel) and two
colourful found pictures (the Hubble deep field, a stained tissue section); only the ones that load without a download
are listed (checked: ``skimage.data.rough_wall`` does not exist, ``eagle``, ``lily`` and ``skin`` need a download).

Images are channels-last float32 ``(size, size, 3)`` in [0, 1], like ``engine.media.images``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from engine.media.images import as_float, resize_square, to_rgb
from engine.registry import Registry

Painter = Callable[[int, np.random.Generator], np.ndarray]  # (side, rng) -> (side, side, 3) float32 in [0, 1]


@dataclass(frozen=True)
class Artwork:
    """A style image: ``about`` says what it is, ``origin`` where it comes from ("painted" by the engine from a seed,
    or "scikit-image"); ``source`` paints it (``Painter``) or names the ``skimage.data`` function."""

    title: str
    about: str
    origin: str
    source: Painter | str

    @property
    def seeded(self) -> bool:
        """Whether the seed changes the picture (the engine's paintings), or not (bundled files)."""
        return self.origin == "painted"


ARTWORKS: Registry[Artwork] = Registry("artwork")


def artwork(name: str, size: int = 256, seed: int = 0) -> np.ndarray:
    """The artwork ``name`` as a ``(size, size, 3)`` float32 image in [0, 1]; a painting from ``seed`` (bundled pictures
    ignore it: their centred square is resized). ``ValueError`` for an unknown name or a size below 16."""
    art = ARTWORKS.get(name)
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 16:
        raise ValueError(f"an artwork's size must be an integer ≥ 16 pixels, got {size!r}")
    if isinstance(art.source, str):
        from skimage import data  # imported here: nothing heavy at import time

        return resize_square(to_rgb(as_float(np.asarray(getattr(data, art.source)()))), int(size))
    image = art.source(int(size), np.random.default_rng(int(seed)))
    return np.clip(image, 0.0, 1.0).astype(np.float32)


# --------------------------------------------------------------------------------------------------- paintings


def _hex(colours: str) -> np.ndarray:
    """"#1d3a8a #f2c14e" -> (n, 3) float32 RGB in [0, 1]."""
    return np.array([[int(c[i:i + 2], 16) / 255 for i in (1, 3, 5)] for c in colours.split()], np.float32)


def _from_pil(im: Image.Image) -> np.ndarray:
    return np.asarray(im.convert("RGB"), np.float32) / 255.0


def _to_pil(rgb: np.ndarray) -> Image.Image:
    return Image.fromarray(np.rint(np.clip(rgb, 0, 1) * 255).astype(np.uint8))


def _swirls(side: int, rng: np.random.Generator) -> np.ndarray:
    """Short thick brush strokes following a field of whirls, night blues with yellow stars (after Van Gogh's
    "The Starry Night", 1889): a flow field made of a few random vortices plus a drift, each stroke traced along it."""
    palette = _hex("#0b1d51 #1d3f8f #2f62b5 #5a8fd6 #9cc3e6 #f2d35b #f7b733 #e8e1c4")
    sky = np.linspace(0, 1, side, dtype=np.float32)[:, None, None]
    image = _to_pil((1 - sky) * palette[1] + sky * palette[0] + np.zeros((side, side, 3), np.float32))
    draw = ImageDraw.Draw(image)
    centres = rng.uniform(0, side, (5, 2))
    spins = rng.choice([-1.0, 1.0], 5) * rng.uniform(0.6, 1.4, 5)

    def direction(x: float, y: float) -> tuple[float, float]:
        dx, dy = 1.0, 0.15  # a drift to the right
        for (cx, cy), s in zip(centres, spins, strict=True):
            rx, ry = x - cx, y - cy
            w = s * np.exp(-(rx * rx + ry * ry) / (2 * (0.18 * side) ** 2)) * 4
            dx, dy = dx - w * ry / side * 8, dy + w * rx / side * 8
        n = np.hypot(dx, dy) or 1.0
        return dx / n, dy / n

    width = max(2, side // 60)
    for _ in range(side * side // 90):
        x, y = rng.uniform(0, side, 2)
        colour = palette[rng.choice(len(palette), p=[0.16, 0.2, 0.2, 0.16, 0.1, 0.07, 0.06, 0.05])]
        colour = np.clip(colour + rng.normal(0, 0.04, 3), 0, 1)
        points = [(x, y)]
        for _ in range(6):
            dx, dy = direction(x, y)
            x, y = x + dx * side / 70, y + dy * side / 70
            points.append((x, y))
        draw.line(points, fill=tuple(int(255 * c) for c in colour), width=width, joint="curve")
    for _ in range(rng.integers(2, 5)):  # stars: yellow discs with a halo
        x, y, r = *rng.uniform(0, side, 2), rng.uniform(0.02, 0.045) * side
        draw.ellipse((x - r * 1.6, y - r * 1.6, x + r * 1.6, y + r * 1.6), outline=(242, 211, 91), width=width)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(247, 183, 51))
    return _from_pil(image)


def _mosaic(side: int, rng: np.random.Generator) -> np.ndarray:
    """Stained glass: Voronoi cells of saturated colours with dark lead between them (nearest and second-nearest seed
    almost equally far)."""
    palette = _hex("#b3001b #255c99 #f5b700 #00a36c #7a3b9a #e86a17 #2ec4b6 #f0ead6")
    n = max(12, side * side // 900)
    seeds = rng.uniform(0, side, (n, 2)).astype(np.float32)
    colours = palette[rng.integers(0, len(palette), n)] * rng.uniform(0.75, 1.0, (n, 1)).astype(np.float32)
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float32)
    d = (xs[..., None] - seeds[:, 0]) ** 2 + (ys[..., None] - seeds[:, 1]) ** 2  # (side, side, n)
    two = np.partition(d, 1, axis=2)[..., :2]
    nearest = d.argmin(axis=2)
    lead = (np.sqrt(two[..., 1]) - np.sqrt(two[..., 0])) < max(1.5, side / 110)
    shade = 0.85 + 0.15 * np.sin(xs / side * 9 + ys / side * 5)[..., None]  # light through uneven glass
    image = colours[nearest] * shade
    image[lead] = (0.08, 0.07, 0.06)
    return image


def _mondrian(side: int, rng: np.random.Generator) -> np.ndarray:
    """Rectangles of white and primaries split by thick black lines (after Mondrian's compositions of the 1920s)."""
    image = Image.new("RGB", (side, side), (244, 241, 232))
    draw = ImageDraw.Draw(image)
    fills = [(244, 241, 232)] * 5 + [(206, 32, 41), (16, 62, 160), (250, 200, 30)]
    line = max(3, side // 40)

    def split(x0: float, y0: float, x1: float, y1: float, depth: int) -> None:
        w, h = x1 - x0, y1 - y0
        if depth == 0 or max(w, h) < side / 5 or (depth < 3 and rng.random() < 0.25):
            draw.rectangle((x0, y0, x1, y1), fill=fills[rng.integers(len(fills))])
            return
        if w > h:
            cut = x0 + w * rng.uniform(0.3, 0.7)
            split(x0, y0, cut, y1, depth - 1), split(cut, y0, x1, y1, depth - 1)
        else:
            cut = y0 + h * rng.uniform(0.3, 0.7)
            split(x0, y0, x1, cut, depth - 1), split(x0, cut, x1, y1, depth - 1)
        draw.rectangle((x0, y0, x1, y1), outline=(15, 15, 15), width=line)

    split(0, 0, side, side, 5)
    draw.rectangle((0, 0, side - 1, side - 1), outline=(15, 15, 15), width=line)
    return _from_pil(image)


def _waves(side: int, rng: np.random.Generator) -> np.ndarray:
    """Layered curling waves in Prussian blue with white foam crests (after Hokusai's "The Great Wave", c. 1831)."""
    palette = _hex("#0d2c54 #1f4e79 #3b75af #8fb8de #f4efe1")
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float32) / side
    image = np.empty((side, side, 3), np.float32)
    image[:] = palette[4] * 0.92 + palette[3] * 0.08  # a pale sky
    for k in range(7):
        base = 0.25 + 0.11 * k + rng.uniform(-0.03, 0.03)
        freq, phase, amp = rng.uniform(3, 7), rng.uniform(0, 2 * np.pi), rng.uniform(0.03, 0.07)
        crest = base + amp * np.sin(2 * np.pi * freq * xs + phase) + 0.5 * amp * np.sin(9 * np.pi * xs + 2 * phase)
        below = ys > crest
        depth = np.clip((ys - crest) / 0.12, 0, 1)[..., None]
        colour = palette[k % 3] * (1 - depth) + palette[(k % 3) + 1] * depth * 0.6 + palette[0] * depth * 0.4
        image = np.where(below[..., None], colour, image)
        foam = below & (ys - crest < 0.012 + 0.01 * (np.sin(60 * xs + k) > 0.3))
        image[foam] = palette[4]
    return image


def _circles(side: int, rng: np.random.Generator) -> np.ndarray:
    """A grid of squares, each with concentric rings of bright colours (after Kandinsky's "Squares with Concentric
    Circles", 1913)."""
    palette = _hex("#d7263d #f46036 #fbd13b #2e294e #1b998b #c5d86d #3f88c5 #f2f2f2 #111111 #8e3b8f")
    cells = 4
    cell = side / cells
    image = Image.new("RGB", (side, side))
    draw = ImageDraw.Draw(image)
    for i in range(cells):
        for j in range(cells):
            x0, y0 = j * cell, i * cell
            draw.rectangle((x0, y0, x0 + cell, y0 + cell), fill=tuple(int(255 * c) for c in palette[rng.integers(10)]))
            cx, cy = x0 + cell / 2 + rng.uniform(-0.08, 0.08) * cell, y0 + cell / 2 + rng.uniform(-0.08, 0.08) * cell
            r = cell * rng.uniform(0.38, 0.46)
            while r > cell * 0.05:
                colour = tuple(int(255 * c) for c in palette[rng.integers(10)])
                draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
                r *= rng.uniform(0.55, 0.8)
    return _from_pil(image)


for _name, _art in [
    ("swirls", Artwork("Swirls", "brush strokes in whirls, night blues and yellow stars, after Van Gogh's Starry Night",
                       "painted", _swirls)),
    ("waves", Artwork("Waves", "curling Prussian-blue waves with foam, after Hokusai's Great Wave", "painted", _waves)),
    ("mosaic", Artwork("Mosaic", "stained glass: coloured cells with dark lead between them", "painted", _mosaic)),
    ("circles", Artwork("Circles", "squares of concentric rings, after Kandinsky", "painted", _circles)),
    ("mondrian", Artwork("Mondrian", "white and primary rectangles with black lines, after Mondrian", "painted",
                         _mondrian)),
    ("hubble", Artwork("Hubble deep field", "galaxies on black (scikit-image's Hubble deep field)", "scikit-image",
                       "hubble_deep_field")),
    ("tissue", Artwork("Stained tissue", "a stained tissue section, brown and blue (scikit-image's "
                       "immunohistochemistry)", "scikit-image", "immunohistochemistry")),
    ("bricks", Artwork("Brick wall", "a brick wall texture, gray (scikit-image)", "scikit-image", "brick")),
    ("gravel", Artwork("Gravel", "a gravel texture, gray (scikit-image)", "scikit-image", "gravel")),
    ("grass", Artwork("Grass", "a grass texture, gray (scikit-image)", "scikit-image", "grass")),
]:
    ARTWORKS.add(_name, _art, tags=(_art.origin,))
