"""The YOLO lab, run headless through the real entry with the bundled detector: what each section shows against the
engine and torchvision computed here — the IoU (``box_iou``), the owning cells (``yolo.assign``), the counts of each
stage (``yolo.select``) and the NMS step-through's agreement with torchvision, the webcam's frame callback driven by
hand with real ``av.VideoFrame``s while the thresholds change, the anchors' k-means, and a short retraining run
started from the page (a background job) that becomes the detector and is evaluated with torchmetrics."""

from __future__ import annotations

import io
import re
import threading
from fractions import Fraction

import av
import numpy as np
import pytest
import streamlit_webrtc
import torch
from apptest_helpers import FakeStreamer, await_job, button, metric, open_page
from PIL import Image
from torchvision.ops import box_iou

from engine.data.registry import MULTI_SIZE, multi_scenes
from engine.detection import coco, yolo
from engine.detection.anchors import box_shapes, kmeans_anchors
from engine.detection.bundled import load_bundled
from engine.detection.detect import Detect
from engine.detection.frames import detect_frame, detect_picture
from engine.training.runs import RunStore
from engine.training.trained import load_trained
from playground.webcam.stream import frame_callback
from playground.yolo.detector import Detector
from playground.yolo.live import LiveDetection, frame_fn
from playground.yolo.settings import Thresholds

TIMEOUT = 300  # seconds a one-epoch job may take on a loaded 2-core machine
Y = "_w_yolo_"


@pytest.fixture(scope="module")
def bundled():
    return load_bundled()


@pytest.fixture
def streamer(monkeypatch) -> FakeStreamer:
    fake = FakeStreamer()
    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", fake)
    return fake


@pytest.fixture
def page(runs_dir, streamer):
    return open_page("yolo.py")


def _ok(at) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _tab(at, label: str) -> None:
    at.session_state[Y + "tab"] = label
    at.run()
    _ok(at)


def _raw(bundled, number: int) -> tuple[yolo.Raw, torch.Tensor, torch.Tensor]:
    s = multi_scenes(1, number, 2)
    raw = yolo.decode(bundled.raw(s.images), bundled.task.grid_for(len(bundled.classes)), bundled.side)
    return raw, s.targets.boxes[0], s.targets.labels[0]


def _captions(at) -> str:
    return "\n".join(c.value for c in at.caption)


def test_the_iou_playground_is_torchvision_s_iou(page):
    for name, (x, y, w, h) in {"a": (10, 12, 50, 30), "b": (30, 20, 40, 45)}.items():
        for field, v in zip("xywh", (x, y, w, h), strict=True):
            page.slider(key=f"{Y}iou_{name}_{field}").set_value(v)
    page.run()
    _ok(page)
    want = float(box_iou(torch.tensor([[10.0, 12, 60, 42]]), torch.tensor([[30.0, 20, 70, 65]]))[0, 0])
    assert metric(page, "IoU") == f"{want:.3f}"
    assert metric(page, "intersection") == f"{30 * 22:,} px²"
    assert metric(page, "a match? (IoU ≥ 0.5)") == "no"
    page.slider(key=Y + "iou_b_x").set_value(12).run()
    page.slider(key=Y + "iou_b_y").set_value(12).run()
    page.slider(key=Y + "iou_b_h").set_value(30).run()
    want = float(box_iou(torch.tensor([[10.0, 12, 60, 42]]), torch.tensor([[12.0, 12, 52, 42]]))[0, 0])
    assert metric(page, "IoU") == f"{want:.3f}" and want >= 0.5
    assert metric(page, "a match? (IoU ≥ 0.5)") == "yes"


def test_the_picture_shows_the_detections_at_the_thresholds(page, bundled):
    page.number_input(key=Y + "scene").set_value(5).run()
    _ok(page)
    s = multi_scenes(1, 5, 2)
    want = bundled.detect(s.images)[0]
    assert f"**{len(want.scores)} boxes** of the {len(s.targets.boxes[0])} shapes drawn on generated scene 5" in \
        [m.value for m in page.markdown][0]
    page.slider(key=Y + "score").set_value(1.0).run()
    assert "**0 boxes**" in [m.value for m in page.markdown][0]


def test_the_grid_view_shows_each_object_s_cell_anchor_and_target(page, bundled):
    page.number_input(key=Y + "scene").set_value(3).run()
    _tab(page, "Grid view")
    raw, boxes, labels = _raw(bundled, 3)
    a = yolo.assign(boxes, bundled.task.grid_for(4), bundled.side)
    (table,) = [d.value for d in page.dataframe if "b_x" in d.value.columns]
    assert table["cell (row, col)"].tolist() == [f"({r}, {c})" for r, c in zip(a.rows.tolist(), a.cols.tolist(),
                                                                               strict=True)]
    assert table["anchor"].tolist() == (a.anchors + 1).tolist()
    np.testing.assert_allclose(table[["b_x", "b_y", "b_w", "b_h"]].to_numpy(), a.encoded.numpy(), rtol=1e-6)
    assert table["class"].tolist() == [bundled.classes[i] for i in labels.tolist()]
    assert "**6×6 grid, 3 anchors a cell: 108 boxes** (108 shown)" in "\n".join(m.value for m in page.markdown)
    page.slider(key=Y + "grid_floor").set_value(0.5).run()
    shown = int((raw.scores[0] >= 0.5).sum())
    assert f"({shown} shown)" in "\n".join(m.value for m in page.markdown)


@pytest.mark.parametrize("per_class", [True, False])
def test_each_stage_s_count_and_the_step_through_follow_the_thresholds(page, bundled, per_class):
    page.number_input(key=Y + "scene").set_value(2).run()
    _tab(page, "Thresholds & NMS")
    page.slider(key=Y + "score").set_value(0.05).run()
    page.slider(key=Y + "nms_iou").set_value(0.3).run()
    page.segmented_control(key=Y + "nms_mode").set_value("class" if per_class else "agnostic").run()
    _ok(page)
    raw, _, _ = _raw(bundled, 2)
    passed = int((raw.scores[0] >= 0.05).sum())
    kept = yolo.select(raw, 0, 0.05, 0.3, 100, per_class)
    mode = "per class" if per_class else "across classes"
    assert (f"108 boxes → {passed} with a score of at least 0.05 → {len(kept.scores)} after non-max suppression at "
            f"IoU 0.30 ({mode}, at most 100)") in _captions(page)
    assert passed > len(kept.scores) > 0  # NMS had work to do
    fn = "torchvision.ops.batched_nms" if per_class else "torchvision.ops.nms"
    assert [s.value for s in page.success] == [f"The step-through keeps the same {len(kept.scores)} boxes as {fn}."]
    (steps,) = [d.value for d in page.dataframe if "suppressed (IoU)" in d.value.columns]
    assert len(steps) == len(kept.scores)
    np.testing.assert_allclose(steps["score"].to_numpy(), kept.scores.numpy(), atol=5e-4)
    page.number_input(key=Y + "max_boxes").set_value(2).run()
    assert "→ 2 after non-max suppression" in _captions(page)
    page.slider(key=Y + "nms_step").set_value(1).run()
    _ok(page)
    assert any(m.value.startswith("Iteration 1 keeps box") for m in page.markdown)


def _frame(rgb: np.ndarray) -> av.VideoFrame:
    return av.VideoFrame.from_ndarray(rgb, format="rgb24")


def test_the_webcam_s_frames_are_detected_with_the_thresholds_of_the_moment(page, streamer, bundled):
    page.segmented_control(key=Y + "input_source").set_value("webcam").run()
    _ok(page)
    assert streamer.calls and streamer.calls[-1]["rtc_configuration"] == {"iceServers": []}
    s = multi_scenes(1, 2, 2)
    scene = np.ascontiguousarray(s.images[0].permute(1, 2, 0).numpy()).repeat(4, axis=0).repeat(4, axis=1)
    frame = np.zeros((384, 512, 3), np.uint8)
    frame[:, 64:448] = scene  # a 4:3 camera frame; the detector sees its centred square
    out = streamer.callback(_frame(frame))
    assert isinstance(out, av.VideoFrame) and (out.width, out.height) == (512, 384)
    drawn = out.to_ndarray(format="rgb24")
    want = detect_picture(bundled.model, frame, bundled.stats, bundled.task.grid_for(4), bundled.side)
    assert len(want.scores) > 0
    x0, y0, x1, y1 = (int(round(v)) for v in want.boxes[0].tolist())
    assert (drawn[(y0 + y1) // 2, x0 - 1:x0 + 2] != frame[(y0 + y1) // 2, x0 - 1:x0 + 2]).any()  # its left edge
    live = page.session_state["webcam"]["yolo_input_webcam.yolo"]
    assert live.read()[0] == 1 and live.read()[2] == len(want.scores)
    # the score threshold moved while streaming: the next frame follows it
    page.slider(key=Y + "score").set_value(1.0).run()
    out = streamer.callback(_frame(frame))
    count, _, boxes, th, error = live.read()
    assert (count, boxes, th.score, error) == (2, 0, 1.0, None)
    assert (out.to_ndarray(format="rgb24")[:, 64:448] == scene).sum() > 0.97 * scene.size  # only the square's outline
    page.slider(key=Y + "score").set_value(0.3).run()
    streamer.callback(_frame(frame))
    low = detect_picture(bundled.model, frame, bundled.stats, bundled.task.grid_for(4), bundled.side,
                         score_threshold=0.3)
    assert live.read()[2] == len(low.scores) >= len(want.scores)
    page.run()  # the meter below the video (a fragment that redraws itself while the camera is on)
    assert any(re.match(r"Frames processed: \*\*3\*\*", m.value) for m in page.markdown)


def test_the_frame_function_on_an_av_videoframe_is_the_engine_s_detect_frame(bundled):
    """The webcam's per-frame work as streamlit-webrtc calls it (an ``av.VideoFrame`` in and out), outside any page:
    its pixels are ``engine.detection.frames.detect_frame``'s at the thresholds configured."""
    d = Detector(bundled.model, bundled.task, bundled.stats, bundled.classes, bundled.side, "bundled", ("b",))
    live = LiveDetection()
    live.configure(d, Thresholds(score=0.4, iou=0.45, max_boxes=3, per_class=False))
    rgb = np.ascontiguousarray(multi_scenes(1, 6, 2).images[0].permute(1, 2, 0).numpy()).repeat(3, 0).repeat(3, 1)
    frame = _frame(rgb)
    frame.pts, frame.time_base = 90, Fraction(1, 30)
    out = frame_callback(frame_fn(live))(frame)
    want, found = detect_frame(bundled.model, rgb, bundled.stats, bundled.task.grid_for(4), bundled.side,
                               bundled.classes, score_threshold=0.4, iou_threshold=0.45, max_boxes=3,
                               per_class=False)
    assert 0 < len(found.scores) <= 3
    np.testing.assert_array_equal(out.to_ndarray(format="rgb24"), want)
    assert (out.pts, out.time_base) == (90, Fraction(1, 30))  # the camera's timing kept
    assert live.read()[:3:2] == (1, len(found.scores))


def _png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def test_an_upload_is_detected_and_an_unreadable_one_is_a_message(page, bundled):
    page.segmented_control(key=Y + "input_source").set_value("upload").run()
    page.file_uploader(key="_w_yolo_input_upload").set_value(("notes.png", b"not an image", "image/png")).run()
    assert not page.exception
    assert [e.value for e in page.error] == ["notes.png: this file is not an image that can be read (accepted: PNG, "
                                             "JPEG, GIF, BMP, WEBP, TIFF)"]
    rgb = np.ascontiguousarray(multi_scenes(1, 4, 2).images[0].permute(1, 2, 0).numpy()).repeat(2, 0).repeat(2, 1)
    page.file_uploader(key="_w_yolo_input_upload").set_value(("scene.png", _png(rgb), "image/png")).run()
    _ok(page)
    want = detect_picture(bundled.model, rgb, bundled.stats, bundled.task.grid_for(4), bundled.side)
    assert [m.value for m in page.markdown][0].startswith(f"**{len(want.scores)} boxes** on your image scene.png")
    _tab(page, "Thresholds & NMS")  # the stages work on the upload's view too
    assert "108 boxes →" in _captions(page)


def test_the_anchors_explorer_is_kmeans_on_the_training_boxes(page):
    _tab(page, "Anchors")
    page.slider(key=Y + "anchors_k").set_value(4).run()
    page.select_slider(key=Y + "anchors_scenes").set_value(250).run()
    _ok(page)
    s = multi_scenes(250, 0, 0)
    shapes = box_shapes(torch.cat([b.reshape(-1, 4) for b in s.targets.boxes]), MULTI_SIZE)
    want = kmeans_anchors(shapes, 4, seed=0)
    assert metric(page, "mean IoU with the best anchor, k = 4") == f"{want.mean_iou:.3f}"
    listed = ", ".join(f"{w * MULTI_SIZE:.0f}×{h * MULTI_SIZE:.0f}" for w, h in want.anchors.tolist())
    assert f"smallest first): {listed}." in _captions(page)


def test_a_builder_network_that_does_not_end_on_the_grid_cannot_train(page):
    _tab(page, "Retrain & evaluate")
    page.selectbox(key=Y + "tr_backbone").set_value("builder").run()
    assert not page.exception
    assert any("cannot be the detector" in w.value for w in page.warning)
    assert button(page, "Train").disabled


def test_retrain_from_the_page_then_evaluate_the_new_detector(page, runs_dir):
    _tab(page, "Retrain & evaluate")
    page.select_slider(key=Y + "tr_grid").set_value(12).run()
    page.select_slider(key=Y + "tr_anchors").set_value(2).run()
    page.number_input(key=Y + "tr_epochs").set_value(1).run()
    _ok(page)
    button(page, "Train").click().run()
    job = await_job(page, "train_job", TIMEOUT)
    assert job.status == "finished", job.error
    _ok(page)
    run_id = job.result.run_id
    assert page.session_state["yolo_detector"] == run_id  # the new run is the page's detector now
    trained = load_trained(RunStore(runs_dir), run_id)
    assert isinstance(trained.task, Detect) and trained.task.grid == 12 and len(trained.task.anchors) == 2
    assert trained.model(torch.zeros(1, 3, 96, 96)).shape == (1, 2 * 9, 12, 12)
    page.select_slider(key=Y + "tr_eval_n").set_value(100).run()
    button(page, f"Evaluate your run {trained.name}").click().run()
    _ok(page)
    s = multi_scenes(100, 0, 2)
    with torch.inference_mode():
        ev = trained.task.evaluate(torch.cat([trained.model(x) for x in _inputs(trained, s.images)]), s.targets)
    assert metric(page, "mAP@0.5") == f"{ev.metrics['map50']:.3f}"
    assert metric(page, "mAP@0.5:0.95") == f"{ev.metrics['map']:.3f}"


def _inputs(trained, images: torch.Tensor):
    from engine.data import adapt_batch

    for i in range(0, len(images), 50):
        yield adapt_batch(images[i:i + 50], trained.input_shape, trained.stats)


def test_the_link_restores_the_section_thresholds_and_scene_and_follows_them(runs_dir, streamer):
    at = open_page("yolo.py", query={"tab": "Grid view", "score": "0.3", "iou": "abc", "scene": "5", "k": "4"})
    _ok(at)
    assert at.slider(key=Y + "score").value == 0.3
    assert at.slider(key=Y + "nms_iou").value == 0.5  # "abc" is left out: the default
    assert at.number_input(key=Y + "scene").value == 5
    assert "generated scene 5" in [m.value for m in at.markdown][0]
    assert any("grid, 3 anchors a cell" in m.value for m in at.markdown)  # the grid view is the open section
    at.slider(key=Y + "score").set_value(0.45).run()
    assert at.query_params["score"] == "0.45" and at.query_params["tab"] == "Grid view"


def test_the_frame_work_runs_on_one_torch_thread_of_its_own(bundled):
    """On the stream's worker thread the frame work uses one intra-op thread (a tiny network beside the pages); the
    threads of the rest of the process are left as they were."""
    live = LiveDetection()
    live.configure(Detector(bundled.model, bundled.task, bundled.stats, bundled.classes, bundled.side, "b", ("b",)),
                   Thresholds())
    work, seen = frame_fn(live), []
    before = torch.get_num_threads()

    def worker() -> None:
        work(np.zeros((60, 80, 3), np.uint8))
        seen.append(torch.get_num_threads())

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen == [1] and live.read()[0] == 1
    assert torch.get_num_threads() == before


def test_the_coco_tab_is_off_with_the_reason_then_detects_through_the_same_thresholds(page, tmp_path, monkeypatch,
                                                                                        bundled):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # an empty cache: nothing found, nothing downloaded
    monkeypatch.delenv("CNNPG_WEIGHTS_DIR", raising=False)
    _tab(page, "Photos (COCO)")
    (off,) = page.info
    assert off.value.startswith("The COCO detector is off: ") and coco.WEIGHTS.file in off.value
    assert button(page, "Download the weights").disabled  # nothing leaves the machine unless the user allows it
    folder = tmp_path / "weights"
    folder.mkdir()
    torch.manual_seed(0)
    model = coco.build_model()  # random weights, leaning to "person" everywhere so that the scores pass the floor
    for conv in [[m for m in b.modules() if isinstance(m, torch.nn.Conv2d)][-1]
                 for b in model.head.classification_head.module_list]:
        with torch.no_grad():
            conv.bias.view(-1, len(coco.coco_classes()))[:, 1] += 5
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = 1.0  # one pass in training mode gives batch norm real statistics (random ones tie scores)
    with torch.no_grad():
        model.backbone.train()(torch.rand(2, 3, 320, 320, generator=torch.Generator().manual_seed(0)))
    torch.save(model.state_dict(), folder / coco.WEIGHTS.file)
    monkeypatch.setenv("CNNPG_WEIGHTS_DIR", str(folder))
    page.slider(key=Y + "score").set_value(0.72).run()
    _ok(page)
    raw = coco.load_coco().candidates(multi_scenes(1, 0, 2).images[0])  # the page's picture: generated scene 0
    final = yolo.select(raw, 0, 0.72, 0.5)
    passed = int((raw.scores[0] >= 0.72).sum())
    assert passed > len(final.scores) > 0, (passed, len(final.scores))  # something for NMS to do
    assert f"{raw.scores.shape[1]} boxes → {passed} with a score of at least 0.72 → {len(final.scores)} after " \
           "non-max suppression" in _captions(page)
    assert any(s.value.startswith(f"The step-through keeps the same {len(final.scores)} boxes as torchvision")
               for s in page.success)
