"""``python -m engine detect IMAGE``: generated scenes saved as PNG are found where their true boxes are (IoU against
torchvision's ``box_iou``), in the image's pixels at any size; the thresholds and NMS modes are torchvision's ops on the
same candidates; a detection run of the store; bad files, thresholds and runs are one clear line, exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.ops import batched_nms, box_iou, nms

from engine.__main__ import main
from engine.data.registry import multi_scenes
from engine.detection.detectors import bundled_detector, image_tensor
from engine.media.images import MAX_UPLOAD_PIXELS

CLASSES = ("circle", "square", "triangle", "cross")


def _detect(capsys: pytest.CaptureFixture, *argv: str) -> dict:
    assert main(["detect", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _scene_png(tmp_path: Path, index: int, size: tuple[int, int] | None = None) -> tuple[Path, torch.Tensor, list]:
    """Held-out scene ``index`` as a PNG (resized to ``size`` = (width, height) by nearest pixels), with its true boxes
    scaled to the file's pixels and their class names."""
    s = multi_scenes(index + 1, 0, 2)
    image = Image.fromarray(s.images[index].permute(1, 2, 0).numpy())
    boxes = s.targets.boxes[index].float()
    if size is not None:
        image = image.resize(size, Image.Resampling.NEAREST)
        boxes = boxes * torch.tensor([size[0] / 96, size[1] / 96] * 2)
    path = tmp_path / f"scene{index}-{size[0]}x{size[1]}.png" if size else tmp_path / f"scene{index}.png"
    image.save(path)
    return path, boxes, [CLASSES[int(k)] for k in s.targets.labels[index]]


def _matched(found: dict, boxes: torch.Tensor, names: list[str]) -> tuple[int, int]:
    """(true boxes found by a detection of their class with IoU ≥ 0.5, detections matching no true box)."""
    got = torch.tensor([b["box"] for b in found["boxes"]]).reshape(-1, 4)
    iou = box_iou(boxes, got)  # (true, found)
    same = torch.tensor([[t == b["class"] for b in found["boxes"]] for t in names]).reshape(iou.shape)
    hit = (iou >= 0.5) & same
    return int(hit.any(dim=1).sum()), int((~hit.any(dim=0)).sum())


def test_a_generated_scene_is_found_where_its_true_boxes_are(tmp_path: Path, capsys) -> None:
    found_all, true_all, extra_all = 0, 0, 0
    for i in range(6):
        path, boxes, names = _scene_png(tmp_path, i)
        found = _detect(capsys, str(path))
        assert (found["width"], found["height"]) == (96, 96) and found["score_threshold"] == 0.6
        assert all(b["score"] >= 0.6 and b["class"] in CLASSES for b in found["boxes"])
        hit, extra = _matched(found, boxes, names)
        found_all, true_all, extra_all = found_all + hit, true_all + len(boxes), extra_all + extra
    assert true_all >= 15
    assert found_all >= 0.85 * true_all and extra_all <= 0.1 * true_all, (found_all, true_all, extra_all)


def test_boxes_are_in_the_image_pixels_at_any_size(tmp_path: Path, capsys) -> None:
    small, boxes, names = _scene_png(tmp_path, 1)
    reference = _detect(capsys, str(small))
    assert reference["boxes"]
    wide = Image.new("RGB", (160, 96), (128, 128, 128))  # the scene in the middle of a wider picture: the centred
    wide.paste(Image.open(small), (32, 0))  # square the detector sees is the scene itself, pixel for pixel
    wide.save(tmp_path / "wide.png")
    found = _detect(capsys, str(tmp_path / "wide.png"))
    assert (found["width"], found["height"]) == (160, 96)
    assert [(b["class"], b["score"]) for b in found["boxes"]] == [(b["class"], b["score"]) for b in reference["boxes"]]
    shifted = torch.tensor([b["box"] for b in reference["boxes"]]) + torch.tensor([32.0, 0.0, 32.0, 0.0])
    assert torch.tensor([b["box"] for b in found["boxes"]]) == pytest.approx(shifted, abs=0.11)
    path, big_boxes, _ = _scene_png(tmp_path, 1, size=(288, 288))  # 3× larger: resized back to 96 on the way in
    found = _detect(capsys, str(path))
    assert (found["width"], found["height"]) == (288, 288)
    hit, extra = _matched(found, big_boxes, names)
    assert hit >= len(big_boxes) - 1 and extra <= 1


@pytest.mark.parametrize("per_class", [True, False])
def test_thresholds_and_nms_modes_are_torchvision_on_the_candidates(tmp_path: Path, capsys, per_class) -> None:
    path, _, _ = _scene_png(tmp_path, 2)
    mode = "--per-class" if per_class else "--agnostic"
    found = _detect(capsys, str(path), "--conf", "0.05", "--iou", "0.3", "--max-boxes", "4", mode)
    detector = bundled_detector()
    raw = detector.candidates(image_tensor(np.asarray(Image.open(path))))  # the oracle: torchvision on these
    keep = raw.scores[0] >= 0.05
    b, s, k = raw.boxes[0][keep], raw.scores[0][keep], raw.labels[0][keep]
    kept = (batched_nms(b, s, k, 0.3) if per_class else nms(b, s, 0.3))[:4]
    assert found["per_class"] is per_class and found["iou_threshold"] == 0.3 and len(found["boxes"]) == len(kept)
    assert [b["score"] for b in found["boxes"]] == pytest.approx(s[kept].tolist(), abs=1e-4)
    assert [b["label"] for b in found["boxes"]] == k[kept].tolist()
    assert torch.tensor([b["box"] for b in found["boxes"]]) == pytest.approx(b[kept], abs=0.06)


def test_the_text_output_lists_each_box(tmp_path: Path, capsys) -> None:
    path, boxes, names = _scene_png(tmp_path, 0)
    assert main(["detect", str(path), "--conf", "0.5"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{path}: 96×96") and "score ≥ 0.5" in out[0] and "per class" in out[0]
    assert len(out) > 1 and all(line.split()[0] in CLASSES for line in out[1:])


def test_a_detection_run_of_the_store(tmp_path: Path, capsys) -> None:
    runs = tmp_path / "runs"
    assert main(["train", "--data", "multi_scenes", "--epochs", "1", "--max-train", "16", "--batch-size", "8",
                 "--runs-dir", str(runs), "--json"]) == 0
    run_id = json.loads(capsys.readouterr().out)["run_id"]
    path, _, _ = _scene_png(tmp_path, 0)
    found = _detect(capsys, str(path), "--run", run_id, "--runs-dir", str(runs), "--conf", "0")
    assert run_id in found["detector"] and len(found["boxes"]) <= 100
    from engine.detection import yolo
    from engine.training.runs import RunStore
    from engine.training.trained import load_trained

    t = load_trained(RunStore(runs), run_id)  # the oracle: the run's network, decoded and selected by hand
    from engine.data.loader import adapt_batch

    with torch.no_grad():
        out = t.model(adapt_batch(torch.from_numpy(np.array(Image.open(path))).permute(2, 0, 1)[None],
                                  t.input_shape, t.stats))
    expected = yolo.detect(out, t.task.grid_for(4), 96, 0.0, 0.5)[0]
    assert len(found["boxes"]) == len(expected.scores)
    assert [b["score"] for b in found["boxes"]] == pytest.approx(expected.scores.tolist(), abs=1e-4)
    assert main(["detect", str(path), "--run", "nosuchrun", "--runs-dir", str(runs)]) == 2
    assert "nosuchrun" in capsys.readouterr().err


def test_bad_inputs_are_one_clear_line(tmp_path: Path, capsys) -> None:
    text = tmp_path / "notes.png"
    text.write_text("not an image at all")
    huge = tmp_path / "huge.png"
    Image.new("1", (6000, 6000)).save(huge)  # 36 megapixels in a few kilobytes
    assert 6000 * 6000 > MAX_UPLOAD_PIXELS
    path, _, _ = _scene_png(tmp_path, 0)
    cases = [([str(tmp_path / "missing.png")], "missing.png: no such file"),
             ([str(tmp_path)], "not a file"),
             ([str(text)], "not an image that can be read"),
             ([str(huge)], "36.0 megapixels; the limit is 25 megapixels"),
             ([str(path), "--conf", "1.5"], "the score threshold must be a number from 0 to 1, got 1.5"),
             ([str(path), "--iou", "-0.1"], "the IoU threshold must be a number from 0 to 1, got -0.1"),
             ([str(path), "--max-boxes", "0"], "the most boxes kept must be a positive integer, got 0")]
    for argv, message in cases:
        assert main(["detect", *argv]) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and "Traceback" not in err, (argv, err)
    with pytest.raises(SystemExit):
        main(["detect", str(path), "--per-class", "--agnostic"])  # one or the other


def test_python_m_engine_detect_as_a_user_types_it(tmp_path: Path) -> None:
    path, _, _ = _scene_png(tmp_path, 0)
    done = subprocess.run([sys.executable, "-m", "engine", "detect", str(path), "--json"], capture_output=True,
                          text=True, timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["boxes"]
