"""``python -m engine style``: a real run in a subprocess as a user types it (bundled names, nothing downloaded), fast
mode, image files in and out; error paths in-process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.__main__ import main


def test_style_with_bundled_pictures_writes_the_result(tmp_path: Path) -> None:
    out = tmp_path / "out" / "cat.png"
    done = subprocess.run([sys.executable, "-m", "engine", "style", "chelsea", "mosaic", "--alpha", "10", "--beta",
                           "40", "--steps", "6", "--size", "64", "--out", str(out), "--json"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "finished" and result["steps"] == 6 and result["mode"] == "optimise"
    assert result["last"]["total"] < result["first"]["total"]
    assert result["config"]["alpha"] == 10 and result["config"]["backbone"] == "efficientnet_lite0"
    assert "efficientnet-lite0" in result["weights"] and result["steps_per_second"] > 0
    image = np.asarray(Image.open(out))
    assert image.shape == (43, 64, 3) == (*result["size"], 3)  # Chelsea is 451×300: the longer side is 64
    assert "step 6/6" in done.stderr


def test_style_reads_image_files_and_prints_progress(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    content, style = tmp_path / "c.png", tmp_path / "s.jpg"
    Image.fromarray((np.indices((40, 60)).sum(0) % 256).astype(np.uint8)).convert("RGB").save(content)
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (50, 50, 3), dtype=np.uint8)).save(style)
    out = tmp_path / "o.png"
    assert main(["style", str(content), str(style), "--steps", "2", "--size", "48", "--optimizer", "lbfgs",
                 "--style-layers", "stem:0.5,block 2:0.5", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "step 2/2" in text and "finished: J" in text
    assert Image.open(out).size == (48, 32)


def test_fast_mode(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "fast.png"
    assert main(["style", "astronaut", "swirls", "--fast", "--size", "100", "--out", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["mode"] == "fast" and result["size"] == [100, 100]
    assert Image.open(out).size == (100, 100)


@pytest.mark.parametrize(("args", "message"), [
    (["nope", "mosaic"], "'nope' is neither an image file nor a bundled picture; photos: camera"),
    (["chelsea", "mosaic", "--alpha", "-1"], "alpha must be a number ≥ 0, got -1.0"),
    (["chelsea", "mosaic", "--content-layer", "conv4_2"], "content layer: EfficientNet-Lite0 has no layer 'conv4_2'"),
    (["chelsea", "mosaic", "--style-layers", "stem:x"], "'stem:x' is not NAME:WEIGHT"),
])
def test_bad_input_exits_2_with_the_reason(tmp_path: Path, capsys: pytest.CaptureFixture, args, message) -> None:
    assert main(["style", *args, "--out", str(tmp_path / "x.png")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_vgg19_without_its_weights_says_how_to_get_them(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.delenv("CNNPG_WEIGHTS_DIR", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    assert main(["style", "chelsea", "mosaic", "--backbone", "vgg19", "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert "no weights for VGG-19 found" in err and "allow the download" in err
