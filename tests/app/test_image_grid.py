"""The training pages' image grid (``playground.figures.training.image_grid``): one PNG image trace, so the figure
sent on every rerun stays small (a grid of 20 MNIST samples as ``z`` was 1.3 MB of JSON; measured with
bench/load_classroom.py, bench/README.md)."""

from __future__ import annotations

import base64
import io

import numpy as np
import plotly.io as pio
from PIL import Image

from playground.figures.training import image_grid


def _pixels(fig) -> np.ndarray:
    (trace,) = fig.data
    head, data = trace.source.split(",", 1)
    assert head == "data:image/png;base64"
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))


def test_the_grid_is_a_png_of_the_images_scaled_up_by_nearest_neighbour():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(3, 1, 8, 8), dtype=np.uint8)  # gray 8×8 digits
    cell, gap = 32, 6
    canvas = _pixels(image_grid(images, cols=2, cell=cell, gap=gap))
    assert canvas.shape == (2 * (cell + gap), 2 * (cell + gap), 3)  # 2 rows of 2 tiles, no titles
    for i, img in enumerate(images):
        r, c = divmod(i, 2)
        tile = canvas[r * (cell + gap):r * (cell + gap) + cell, c * (cell + gap):c * (cell + gap) + cell]
        # The oracle: every pixel repeated 4×4 (32 / 8), gray copied into R, G and B.
        expected = np.repeat(np.repeat(img[0], 4, axis=0), 4, axis=1)
        assert (tile == expected[..., None]).all()
    assert (canvas[:, cell:cell + gap] == 255).all()  # the gap between columns is white


def test_twenty_mnist_sized_samples_make_a_small_figure():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(20, 1, 28, 28), dtype=np.uint8)  # noise: PNG's worst case
    fig = image_grid(images, [f"class {i}" for i in range(20)], cols=8, cell=48)
    assert len(pio.to_json(fig, validate=False)) < 200_000
