"""The COCO detector (torchvision's SSDlite320) behind the detectors' interface: without its weights (the offline
default; nothing is ever downloaded here) ``available()`` gives the reason; with a file in $CNNPG_WEIGHTS_DIR (the
network with random weights, saved by the test) it loads strictly, and its detections through the user's thresholds
equal torchvision's own post-processing at the same thresholds; a file that is not its weights is a clear error."""

from __future__ import annotations

import pytest
import torch

from engine.detection import coco
from engine.detection.detectors import detect_image
from engine.detection.nms import nms_steps
from engine.media.images import sample_image, to_uint8
from engine.training.runs import CheckpointError


@pytest.fixture
def no_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # an empty cache: nothing found, nothing fetched
    monkeypatch.delenv("CNNPG_WEIGHTS_DIR", raising=False)
    return tmp_path


@pytest.fixture
def weights_dir(no_weights, monkeypatch):
    folder = no_weights / "weights"
    folder.mkdir()
    torch.manual_seed(0)
    model = coco.build_model()
    for m in model.modules():  # freshly made, its deep features fade to nothing (scores all but tied): one pass in
        if isinstance(m, torch.nn.BatchNorm2d):  # training mode sets batch norm's statistics to real ones
            m.momentum = 1.0
    with torch.no_grad():
        model.backbone.train()(torch.rand(2, 3, 320, 320, generator=torch.Generator().manual_seed(0)))
    torch.save(model.state_dict(), folder / coco.WEIGHTS.file)
    monkeypatch.setenv("CNNPG_WEIGHTS_DIR", str(folder))
    return folder


def test_absent_weights_give_the_reason_and_how_to_get_them(no_weights):
    ok, why = coco.available()
    assert not ok
    assert coco.WEIGHTS.file in why and "$CNNPG_WEIGHTS_DIR" in why and coco.WEIGHTS.url in why
    with pytest.raises(FileNotFoundError, match="no weights for SSDlite320"):
        coco.load_coco()
    assert not (no_weights / "torch").exists() or not any((no_weights / "torch").rglob("*.pth"))


def test_present_weights_detect_as_torchvision_does_at_the_same_thresholds(weights_dir):
    ok, where = coco.available()
    assert ok and str(weights_dir) in where and "$CNNPG_WEIGHTS_DIR" in where
    detector = coco.load_coco()
    assert detector.source.origin == "env" and len(detector.classes) == 91 and detector.classes[1] == "person"
    detector = coco.CocoDetector(detector.model, detector.source, candidate_score=0.0)
    detector.model.topk_candidates = 20  # per class: keeps the random network's 91 × 3,234 anchors cheap here
    image = torch.from_numpy(to_uint8(sample_image("astronaut", None, gray=False))[::8, ::6].copy())
    image = image.permute(2, 0, 1).contiguous()  # a real photo, 64×86
    raw = detector.candidates(image)
    assert raw.boxes.shape[-1] == 4 and raw.scores.shape == raw.labels.shape == raw.boxes.shape[:2]
    assert (raw.boxes[0, :, 2] <= 86 + 1e-3).all() and (raw.boxes[0, :, 3] <= 64 + 1e-3).all()  # the image's pixels
    score = float(raw.scores[0].sort(descending=True).values[200])  # 200 candidates score higher
    oracle = coco.build_model()
    oracle.load_state_dict(detector.model.state_dict())
    oracle.eval()
    oracle.score_thresh, oracle.nms_thresh, oracle.detections_per_img, oracle.topk_candidates = score, 0.5, 30, 20
    with torch.inference_mode():
        expected = oracle([image.float() / 255.0])[0]
    found = detect_image(detector, image, score_threshold=score, iou_threshold=0.5, max_boxes=30)
    keep = expected["scores"] > score  # torchvision keeps scores strictly above; ties have probability ~0 here
    assert len(found) == int(keep.sum()) > 0
    torch.testing.assert_close(found.scores, expected["scores"][keep])
    torch.testing.assert_close(found.boxes, expected["boxes"][keep])
    assert found.labels.tolist() == expected["labels"][keep].tolist()
    d = found.to_dict()
    assert (d["width"], d["height"]) == (86, 64) and all(b["class"] == coco.coco_classes()[b["label"]]
                                                         for b in d["boxes"])
    # the NMS step-through keeps what the detection kept, from the same candidates
    filtered = raw.scores[0] >= score
    kept, steps = nms_steps(raw.boxes[0][filtered], raw.scores[0][filtered], 0.5, raw.labels[0][filtered])
    assert raw.scores[0][filtered][kept][:30].tolist() == pytest.approx(found.scores.tolist())
    agnostic = detect_image(detector, image, score_threshold=score, iou_threshold=0.5, max_boxes=30, per_class=False)
    assert len(agnostic) <= len(found) and not agnostic.per_class


def test_a_file_that_is_not_its_weights_is_a_clear_error(no_weights, monkeypatch):
    folder = no_weights / "bad"
    folder.mkdir()
    monkeypatch.setenv("CNNPG_WEIGHTS_DIR", str(folder))
    (folder / coco.WEIGHTS.file).write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError, match="not a weights-only state dict"):
        coco.load_coco()
    torch.save({"weight": torch.zeros(3)}, folder / coco.WEIGHTS.file)
    with pytest.raises(CheckpointError, match="does not hold SSDlite320"):
        coco.load_coco()
