"""``python -m engine verify IMAGE_A IMAGE_B``: the decision and the distance for real photos (text and JSON), and a
clear error with exit status 2 for a picture without a face, several faces, or a file that is not a picture."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from faces_photos import photo, photo_path
from PIL import Image

from engine.__main__ import main


def test_same_and_different_people(capsys):
    assert main(["verify", str(photo_path("obama.jpg")), str(photo_path("obama2.jpg"))]) == 0
    out = capsys.readouterr().out
    assert out.startswith("same person: distance 0.3") and "< threshold 0.6 (euclidean, dlib)" in out
    assert main(["verify", str(photo_path("obama.jpg")), str(photo_path("biden.jpg")), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["same"] is False and result["decision"] == "different people" and result["distance"] > 0.7
    assert result["threshold"] == 0.6 and len(result["box_a"]) == 4


def test_the_threshold_decides(capsys):
    a, b = str(photo_path("obama.jpg")), str(photo_path("obama2.jpg"))
    assert main(["verify", a, b, "--threshold", "0.2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["same"] is False and result["threshold"] == 0.2


def test_errors_exit_2_with_the_reason(tmp_path, capsys):
    coffee = tmp_path / "coffee.png"
    from skimage import data

    Image.fromarray(data.coffee()).save(coffee)
    assert main(["verify", str(photo_path("obama.jpg")), str(coffee)]) == 2
    assert "No face was found in picture B" in capsys.readouterr().err
    pair = tmp_path / "pair.png"
    left, right = photo("obama.jpg")[:1100, :900], photo("biden.jpg")[:1100, :900]
    Image.fromarray(np.concatenate([left, right], axis=1)).save(pair)
    assert main(["verify", str(pair), str(photo_path("obama.jpg"))]) == 2
    assert "2 faces were found in picture A" in capsys.readouterr().err
    assert main(["verify", str(pair), str(photo_path("obama.jpg")), "--pick-a", "1"]) == 0
    assert capsys.readouterr().out.startswith("same person")
    text = tmp_path / "a.jpg"
    text.write_text("hello")
    assert main(["verify", str(text), str(coffee)]) == 2
    assert "a.jpg is not a usable picture" in capsys.readouterr().err
    assert main(["verify", str(coffee), str(coffee), "--threshold", "-1"]) == 2
    assert "--threshold must be a positive number" in capsys.readouterr().err


def test_the_command_line_itself():
    done = subprocess.run([sys.executable, "-m", "engine", "verify", "--help"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and "IMAGE_A" in done.stdout and "--threshold" in done.stdout
