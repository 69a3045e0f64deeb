"""AppTest of "Look inside" with runs of the other tasks: what each predicts is decoded by its task and drawn on the
input as the network sees it — the box of a localisation run, the points of a landmark run, the boxes of a YOLO run
after its score filter and NMS — or, for a triplet-loss run, its embedding. The oracle: the stored model run here on
the same validation sample and decoded by the task's own ``decode``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from apptest_helpers import open_page

from engine.data import load_dataset
from engine.detection.networks import ready_network
from engine.faces.embed import Embed, identity_data, ready_spec
from engine.training.config import TrainConfig
from engine.training.evaluate import outputs
from engine.training.loop import fit
from engine.training.runs import RunStore
from engine.training.tasks import task_from_dict
from engine.training.trained import load_trained

SAMPLE = 3


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[str, dict[str, str]]:
    """(runs folder, {task: run id}): one short run of each task on its data."""
    root = tmp_path_factory.mktemp("runs")
    store, ids = RunStore(root), {}
    for task, name in (("localise", "scenes"), ("landmarks", "faces"), ("detect", "multi_scenes")):
        data = load_dataset(name, seed=0, max_train=64)
        t = task_from_dict(task)
        config = TrainConfig(task=t, epochs=1, batch_size=32, seed=0, device="cpu")
        ids[task] = fit(ready_network(t, data.card), data, config, store=store).run_id
    data = identity_data("digits", (7,), seed=0, max_train=200)
    config = TrainConfig(task=Embed(dim=8, held_out=(7,)), epochs=1, batch_size=64, seed=0, device="cpu")
    ids["embed"] = fit(ready_spec(data.card.image_shape, 8), data, config, store=store).run_id
    return str(root), ids


def _page(monkeypatch, root: str, run_id: str):
    monkeypatch.setenv("CNNPG_RUNS_DIR", root)
    at = open_page("inspect.py")
    at.selectbox(key="_w_inspect_run").set_value(run_id).run()
    at.segmented_control(key="_w_inspect_source").set_value("sample").run()  # the builder's network came first
    at.number_input(key="_w_inspect_sample").set_value(SAMPLE).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def _chart(at, key: str) -> dict:
    (chart,) = [json.loads(c.proto.spec) for c in at.get("plotly_chart") if key in c.proto.id]
    return chart


def _decoded(root: str, run_id: str, base: str):
    """The run's model on validation sample ``SAMPLE`` of its set, decoded by its task (side: the input's)."""
    trained = load_trained(RunStore(root), run_id)
    image = load_dataset(base, seed=0, max_train=1).val.images[SAMPLE]
    out = outputs(trained.model, image[None], trained.stats, trained.input_shape)
    side = trained.input_shape[1]
    return trained.task.decode(out, 5, side=side), trained


def _rects(chart: dict) -> list[list[float]]:
    return [[s["x0"] + 0.5, s["y0"] + 0.5, s["x1"] + 0.5, s["y1"] + 0.5] for s in chart["layout"].get("shapes", [])]


def test_a_detection_run_draws_its_boxes_after_nms(monkeypatch, runs):
    root, ids = runs
    at = _page(monkeypatch, root, ids["detect"])
    decoded, _ = _decoded(root, ids["detect"], "multi_scenes")
    want = decoded[0].boxes.tolist()
    assert np.allclose(sorted(_rects(_chart(at, "inspect_overlay"))), sorted(want), atol=1e-3)
    assert any(f"**{len(want)} box" in m.value and "non-max suppression" in m.value for m in at.markdown)


def test_a_localisation_run_draws_its_box_when_it_sees_an_object(monkeypatch, runs):
    root, ids = runs
    at = _page(monkeypatch, root, ids["localise"])
    decoded, _ = _decoded(root, ids["localise"], "scenes")
    present = float(decoded.present[0])
    rects = _rects(_chart(at, "inspect_overlay"))
    assert len(rects) == int(present >= 0.5)  # p_c decides whether there is a box at all
    if rects:
        assert np.allclose(rects[0], decoded.boxes[0].tolist(), atol=1e-3)
    assert any(f"probability **{present:.1%}**" in m.value for m in at.markdown)


def test_a_landmark_run_draws_its_points_in_order(monkeypatch, runs):
    root, ids = runs
    at = _page(monkeypatch, root, ids["landmarks"])
    decoded, trained = _decoded(root, ids["landmarks"], "faces")
    _, h, w = trained.input_shape
    (scatter,) = [t for t in _chart(at, "inspect_overlay")["data"] if t["type"] == "scatter"]
    got = np.stack([np.asarray(scatter["x"]) + 0.5, np.asarray(scatter["y"]) + 0.5], 1)
    assert np.allclose(got, (decoded[0] * torch.tensor([w, h])).numpy(), atol=1e-3)
    assert list(scatter["text"]) == list(trained.classes)  # left eye, right eye, nose, ...


def test_a_triplet_run_shows_its_embedding(monkeypatch, runs):
    root, ids = runs
    at = _page(monkeypatch, root, ids["embed"])
    decoded, _ = _decoded(root, ids["embed"], "digits")  # the identities' validation images are the digits' own
    bars = _chart(at, "inspect_embedding")["data"][0]
    y = bars["y"]["_inputArray"] if isinstance(bars["y"], dict) else bars["y"]
    assert np.allclose(list(y), decoded[0].tolist(), atol=1e-5) and len(list(y)) == 8
    assert any("its length is 1.00" in m.value for m in at.markdown)
