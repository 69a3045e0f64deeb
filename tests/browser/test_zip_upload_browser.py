"""A zip of class folders uploaded in a real browser: the page shows the decoding's progress while it runs off the
script thread (playground/training/zip_decode.py), and draws the set by itself once it is decoded."""

from __future__ import annotations

import io
import zipfile

import numpy as np
from PIL import Image
from playwright.sync_api import expect


def _zip(per_class: int = 20, side: int = 1000) -> bytes:
    """Megapixel PNGs (smooth gradients, a few kilobytes each): a few seconds of decoding on a loaded machine."""
    out = io.BytesIO()
    ramp = np.linspace(0, 255, side, dtype=np.float32)
    with zipfile.ZipFile(out, "w") as zf:
        for k, name in enumerate(("dawn", "dusk")):
            for i in range(per_class):
                img = np.stack([np.add.outer(ramp, ramp * 0) * (0.5 + 0.02 * i), np.add.outer(ramp * 0, ramp),
                                np.full((side, side), 200.0 * k)], axis=2)
                png = io.BytesIO()
                Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(png, "PNG")
                zf.writestr(f"{name}/{i}.png", png.getvalue())
    return out.getvalue()


def test_an_uploaded_zip_shows_progress_then_its_set(app):
    raw = _zip()
    assert len(raw) < 20 * 1024 * 1024
    app.goto("/training")
    app.act(lambda: app.main().get_by_role("radio", name="Your images (zip)").click())
    app.page.locator('input[type="file"]').set_input_files(
        files=[{"name": "sky.zip", "mimeType": "application/zip", "buffer": raw}])
    progress = app.page.get_by_test_id("stProgress")
    expect(progress).to_contain_text("sky.zip", timeout=60_000)  # checking, then "decoding images, n of 40 images"
    expect(app.page.get_by_role("button", name="Cancel")).to_be_visible()
    # nothing more to do: the page draws the set once the decoding is done
    expect(app.main()).to_contain_text("Your images (sky.zip)", timeout=120_000)
    expect(progress).to_have_count(0)
    metric = app.page.get_by_test_id("stMetric").filter(has_text="classes").get_by_test_id("stMetricValue")
    expect(metric).to_have_text("2")
    app.assert_no_exception()
