"""The Localisation & landmarks page, run headless through the real entry: the target vector y it shows against
``engine.detection.target.encode`` computed here, its loss terms against values worked out by hand, and short real
training runs started from the page (a background job, waited on as tests/app/test_training_page.py does).
"""

from __future__ import annotations

import base64
import json
import math

import numpy as np
import pytest
import torch
from apptest_helpers import await_job, button, metric, open_page

from engine.data import load_dataset
from engine.detection import target as T
from engine.detection.networks import ready_network
from engine.detection.tasks import Landmarks
from engine.training.runs import RunStore

TIMEOUT = 180  # seconds a short job may take on a loaded 2-core machine
BOX = "_w_loc_box_"
PTS = "_w_loc_pts_"
TRAIN = "_w_loc_tr_"


@pytest.fixture
def page(runs_dir):
    return open_page("localisation.py")


def _table(at, columns: set[str]):
    """The one dataframe on the page with these columns."""
    (df,) = [d.value for d in at.dataframe if columns <= set(d.value.columns)]
    return df


def _charts(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def _array(value) -> np.ndarray:
    """A plotly JSON array: a list, or plotly's typed-array form {"dtype", "bdata" (base64), "shape"}."""
    if isinstance(value, dict):
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
    return np.asarray(value, dtype=np.float64)


def _await_job(at):
    return await_job(at, "train_job", TIMEOUT)


def _train(at, what: str, shuffle: bool = False):
    at.segmented_control(key=TRAIN + "what").set_value(what).run()
    if what == "landmarks":
        at.toggle(key=TRAIN + "shuffle").set_value(shuffle).run()
    at.select_slider(key=TRAIN + "images").set_value(500).run()
    at.number_input(key=TRAIN + "epochs").set_value(1).run()
    button(at, "Train").click().run()
    job = _await_job(at)
    assert job.status == "finished", job.error
    return job


def test_the_y_table_is_encode_of_the_box_and_class_set_by_hand(page):
    scenes = load_dataset("scenes", seed=0, max_train=1000).train
    classes = scenes.classes
    page.number_input(key=BOX + "index").set_value(3).run()
    page.toggle(key=BOX + "present").set_value(True).run()
    page.segmented_control(key=BOX + "class").set_value(classes[1]).run()
    page.slider(key=BOX + "x").set_value((10, 30)).run()
    page.slider(key=BOX + "y").set_value((5, 41)).run()
    assert not page.exception, [e.value for e in page.exception]
    expected = T.encode(torch.tensor([True]), torch.tensor([[10.0, 5.0, 30.0, 41.0]]), torch.tensor([1]),
                        len(classes), 48)[0]
    y = _table(page, {"component", "y", "meaning"})
    assert list(y["component"]) == ["p_c", "b_x", "b_y", "b_h", "b_w", *(f"c_{k + 1}" for k in range(len(classes)))]
    np.testing.assert_allclose(y["y"].to_numpy(), expected.numpy(), atol=1e-6)
    assert y["y"].tolist()[:5] == pytest.approx([1.0, 20 / 48, 23 / 48, 36 / 48, 20 / 48])  # by hand
    # moving to another scene refills the editor with that scene's own label
    page.number_input(key=BOX + "index").set_value(4).run()
    boxes, labels = scenes.targets.boxes[4], scenes.targets.labels[4]
    y = _table(page, {"component", "y", "meaning"})
    own = T.encode(torch.tensor([len(boxes) == 1]), boxes[:1] if len(boxes) else torch.zeros(1, 4),
                   labels[:1] if len(labels) else torch.tensor([0]), len(classes), 48)[0]
    # the sliders hold whole pixels: the scene's measured box rounded down
    np.testing.assert_allclose(y["y"].to_numpy(), own.numpy(), atol=1.5 / 48)


def test_the_loss_terms_are_the_hand_computed_ones_and_p_c_0_leaves_only_p_c(page):
    classes = load_dataset("scenes", seed=0, max_train=1000).train.classes
    page.toggle(key=BOX + "present").set_value(True).run()
    page.segmented_control(key=BOX + "class").set_value(classes[0]).run()
    page.slider(key=BOX + "x").set_value((12, 36)).run()
    page.slider(key=BOX + "y").set_value((12, 36)).run()
    page.slider(key=BOX + "p").set_value(0.8).run()
    page.slider(key=BOX + "px").set_value((18, 42)).run()  # 6 pixels to the right
    page.slider(key=BOX + "py").set_value((12, 36)).run()
    probs = [0.5] + [0.5 / (len(classes) - 1)] * (len(classes) - 1)
    for k, p in enumerate(probs):
        page.slider(key=f"{BOX}c{k}").set_value(round(p, 2)).run()
    assert not page.exception, [e.value for e in page.exception]
    q0 = round(probs[0], 2) / sum(round(p, 2) for p in probs)
    bce = -math.log(0.8)
    box = (6 / 48) ** 2  # only b_x differs
    ce = -math.log(q0)
    loss = _table(page, {"term", "rule", "adds to the total"})
    by_term = dict(zip(loss["term"], loss["loss"], strict=True))
    assert by_term["p_c"] == pytest.approx(bce, abs=1e-4)
    assert by_term["b_x"] == pytest.approx(box, abs=1e-5)
    assert by_term["b_y"] == pytest.approx(0.0, abs=1e-6)
    assert by_term["class"] == pytest.approx(ce, abs=1e-4)
    total = bce + T.BOX_WEIGHT * box + ce
    assert float(metric(page, "total loss")) == pytest.approx(total, abs=1e-4)
    overlap = 18 * 24  # two 24×24 boxes, 6 pixels apart
    assert float(metric(page, "IoU of ŷ's box with y's")) == pytest.approx(overlap / (2 * 24 * 24 - overlap), abs=1e-3)
    # no object: only the p_c term counts, whatever ŷ's box and class say
    page.toggle(key=BOX + "present").set_value(False).run()
    loss = _table(page, {"term", "rule", "adds to the total"})
    adds = dict(zip(loss["term"], loss["adds to the total"], strict=True))
    assert adds["p_c"] == pytest.approx(-math.log(0.2), abs=1e-4)
    assert all(v is None or math.isnan(v) for k, v in adds.items() if k != "p_c")
    assert float(metric(page, "total loss")) == pytest.approx(-math.log(0.2), abs=1e-4)
    page.slider(key=BOX + "px").set_value((0, 10)).run()
    assert float(metric(page, "total loss")) == pytest.approx(-math.log(0.2), abs=1e-4)
    assert any("only the p_c term counts" in i.value for i in page.info)


def test_landmark_loss_follows_a_moved_point_and_swapping_the_eyes(page):
    faces = load_dataset("faces", seed=0, max_train=1000).train
    true = faces.targets.points[0].numpy()  # (5, 2) pixels
    page.button(key=PTS + "reset").click().run()  # the prediction: the true points moved by (2, 1.5) pixels
    page.selectbox(key=PTS + "which").set_value(faces.classes[2]).run()
    page.slider(key=PTS + "x").set_value(float(true[2, 0]) + 4.0).run()  # the nose 2 more pixels off in x
    assert not page.exception, [e.value for e in page.exception]
    pred = true + np.array([2.0, 1.5], np.float32)
    pred[2, 0] = true[2, 0] + 4.0
    per_point = (((pred - true) / 48) ** 2).sum(axis=1)  # by hand, in fractions of the side
    table = _table(page, {"point", "squared error"})
    np.testing.assert_allclose(table["squared error"].to_numpy(), per_point, rtol=1e-4, atol=1e-9)
    assert float(metric(page, "loss (mean squared error per point)")) == pytest.approx(per_point.mean(), abs=1e-5)
    eye = float(np.linalg.norm(true[0] - true[1]))
    nme = float(np.linalg.norm(pred - true, axis=1).mean()) / eye
    assert float(metric(page, "normalised error")) == pytest.approx(nme, abs=1e-3)
    page.button(key=PTS + "swap").click().run()
    swapped = pred[[1, 0, 2, 3, 4]]
    assert float(metric(page, "loss (mean squared error per point)")) == pytest.approx(
        (((swapped - true) / 48) ** 2).sum(axis=1).mean(), abs=1e-5)


def test_a_short_localisation_run_from_the_page_shows_its_held_out_boxes_and_the_training_page_too(page, runs_dir):
    job = _train(page, "localise")
    (run,) = RunStore(runs_dir).list()
    assert (run.task, run.dataset, run.epochs, run.id) == ("localise", "scenes", 1, job.result.run_id)
    assert page.session_state["loc_runs"]["localise"] == run.id
    charts = _charts(page)
    names = {t.get("name") for fig in charts for t in fig["data"]}
    assert {"true box", "predicted box"} <= names  # the held-out grid
    assert any("IoU on the" in (fig["layout"].get("title") or {}).get("text", "") for fig in charts)
    iou = float(metric(page, "mean IoU"))
    assert 0.0 <= iou <= 1.0
    assert metric(page, "validation scenes") == f"{load_dataset('scenes', seed=0).card.val_size:,}"
    # the Training page shows the same views for the run, not bare numbers
    page.switch_page("../pages/training.py").run()
    assert not page.exception, [e.value for e in page.exception]
    assert page.session_state["active_run"] == run.id
    assert float(metric(page, "mean IoU")) == pytest.approx(iou, abs=1e-3)
    assert {"true box", "predicted box"} <= {t.get("name") for fig in _charts(page) for t in fig["data"]}


def test_ordered_and_shuffled_landmark_runs_side_by_side(page, runs_dir):
    _train(page, "landmarks")
    assert any("still to come" in c.value for c in page.caption)
    _train(page, "landmarks", shuffle=True)
    runs = {r.dataset: r for r in RunStore(runs_dir).list()}
    assert set(runs) == {"faces", "faces_shuffled"} and {r.task for r in runs.values()} == {"landmarks"}
    errors = [float(m.value) for m in page.metric if m.label == "normalised mean error"]
    assert len(errors) == 3  # the results section (the shuffled run, the last trained) and both order columns
    val = load_dataset("faces", seed=0).val.targets.points
    centroid = T.centroid_error(val)
    assert any(f"{centroid:.3f}" in c.value for c in page.caption)
    assert {"Ordered labels", "Labels shuffled per image"} <= {t.get("name") for f in _charts(page) for t in f["data"]}


def test_the_training_page_draws_the_boxes_and_landmarks_on_its_samples(runs_dir):
    at = open_page("training.py")
    at.selectbox(key="_w_tr_dataset").set_value("scenes").run()
    assert not at.exception, [e.value for e in at.exception]
    scenes = load_dataset("scenes", seed=0).train.targets  # the page takes the whole set by default
    (fig,) = [f for f in _charts(at) if any(t.get("name") == "box" for t in f["data"])]
    rects = [s for s in fig["layout"]["shapes"] if s["type"] == "rect"]
    boxes = [scenes.boxes[i][0].tolist() for i in range(16) if len(scenes.boxes[i])]
    assert len(rects) == len(boxes)
    x0, y0, x1, y1 = boxes[0]  # the first tile sits at the canvas's left, below its title
    assert rects[0]["x1"] - rects[0]["x0"] == pytest.approx(x1 - x0) and rects[0]["y1"] - rects[0]["y0"] == (
        pytest.approx(y1 - y0))
    titles = [a["text"] for a in fig["layout"]["annotations"]]
    assert titles == [scenes.names[int(scenes.labels[i][0])] if len(scenes.labels[i]) else "no object"
                      for i in range(16)]
    at.selectbox(key="_w_tr_dataset").set_value("faces").run()
    assert metric(at, "landmarks") == "5"
    faces = load_dataset("faces", seed=0).train.targets
    (fig,) = [f for f in _charts(at) if any(t.get("name") == "landmarks" for t in f["data"])]
    (trace,) = [t for t in fig["data"] if t.get("name") == "landmarks"]
    xy = np.stack([_array(trace["x"]), _array(trace["y"])], axis=1)
    np.testing.assert_allclose(xy[:5], faces.points[0].numpy(), atol=1e-5)  # the first face: tile at (0, 0)


def test_the_builders_network_gets_the_one_click_output_fix_and_the_ready_one_opens_in_the_builder(page):
    page.segmented_control(key=TRAIN + "net").set_value("builder").run()  # the builder's LeNet-5: 10 outputs
    assert button(page, "Train").disabled
    assert any("needs 9" in w.value for w in page.warning)
    page.button(key="_w_tr_fix_head").click().run()
    assert not page.exception, [e.value for e in page.exception]
    assert page.session_state["spec"].layers[-1].out_features == 5 + 4  # p_c, the box, the 4 classes
    assert not button(page, "Train").disabled
    page.segmented_control(key=TRAIN + "what").set_value("landmarks").run()
    page.button(key="_w_tr_fix_head").click().run()
    assert page.session_state["spec"].layers[-1].out_features == 2 * 5  # (x, y) of 5 landmarks
    # the ready network, opened in the builder, becomes the builder's network
    page.segmented_control(key=TRAIN + "net").set_value("ready").run()
    page.button(key=TRAIN + "open").click().run()
    assert not page.exception, [e.value for e in page.exception]
    faces = load_dataset("faces", seed=0, max_train=500).card
    assert page.session_state["spec"] == ready_network(Landmarks(), faces)
    assert any("CNN builder" in t.value for t in page.title)
