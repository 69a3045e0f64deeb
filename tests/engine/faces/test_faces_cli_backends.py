"""``python -m engine verify --backend``: MTCNN + dlib decides same/different on real photos; FaceNet without its
weights exits 2 saying why and how to get them (nothing is downloaded: no --allow-download); dlib's --detector with
another backend is refused."""

from __future__ import annotations

import json

from faces_photos import photo_path

from engine.__main__ import main
from engine.nets.weights import ENV_DIR


def test_mtcnn_backend_same_and_different(capsys):
    a, b, c = (str(photo_path(n)) for n in ("obama.jpg", "obama2.jpg", "biden.jpg"))
    assert main(["verify", a, b, "--backend", "mtcnn", "--json"]) == 0
    same = json.loads(capsys.readouterr().out)
    assert same["backend"] == "mtcnn" and same["same"] is True and same["threshold"] == 0.6
    assert main(["verify", a, c, "--backend", "mtcnn"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("different people: distance 0.") and "(euclidean, mtcnn)" in out


def test_facenet_without_weights_says_why(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(ENV_DIR, str(tmp_path / "weights"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    a = str(photo_path("obama.jpg"))
    assert main(["verify", a, a, "--backend", "facenet"]) == 2
    err = capsys.readouterr().err
    assert "20180402-114759-vggface2.pt" in err and "$CNNPG_WEIGHTS_DIR" in err and "allow the download" in err
    assert not any((tmp_path / "torch").rglob("*.pt")) if (tmp_path / "torch").exists() else True


def test_detector_is_dlibs_only(capsys):
    a = str(photo_path("obama.jpg"))
    assert main(["verify", a, a, "--backend", "mtcnn", "--detector", "cnn"]) == 2
    assert "--detector is dlib's" in capsys.readouterr().err
