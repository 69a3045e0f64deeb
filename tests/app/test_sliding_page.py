"""The Sliding windows page, run headless through the real entry with real engine work: the window classifier is
trained once by the page's own one-click button (1 epoch, a temporary run store) and then slid by every test. Oracles:
the classifier run on hand-cut crops, the engine's window counts, P-Net and the proposals computed again directly."""

from __future__ import annotations

import os

import pytest
import torch
from apptest_helpers import await_job, button, metric, open_page

from engine.data import scenes
from engine.data.windows import OBJECTS
from engine.detection.pnet import detect, load_pnet
from engine.detection.proposals import propose
from engine.detection.search import WINDOW_CLASSIFIER, search_image
from engine.detection.sliding import convolutional_spec, trunk_stride, window_count
from engine.media.images import sample_image, to_uint8
from engine.training.runs import RunStore
from playground.cache import shared_run

TIMEOUT = 240  # seconds the one-click training may take on a loaded 2-core machine
SCENE = 160  # the page's scenes are this many pixels a side (playground/sliding/picture.py)
TRUNK = trunk_stride(WINDOW_CLASSIFIER)  # 4


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("runs")
    before = os.environ.get("CNNPG_RUNS_DIR")
    os.environ["CNNPG_RUNS_DIR"] = str(path)
    yield path
    if before is None:
        os.environ.pop("CNNPG_RUNS_DIR", None)
    else:
        os.environ["CNNPG_RUNS_DIR"] = before


def _await(at, key: str):
    return await_job(at, key, TIMEOUT)


OWNER = "sam-0123456789abcdef"  # the browser's owner id (its cookie), the same in every session of these tests


@pytest.fixture(scope="module")
def trained(runs_dir):
    """The page after its one-click training (1 epoch) finished, and the job."""
    at = open_page("sliding.py", owner=OWNER)
    assert any("No classifier yet" in i.value for i in at.info)
    at.number_input(key="_w_sw_epochs").set_value(1).run()
    button(at, "Train the window classifier").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at, _await(at, "slide_job")


@pytest.fixture
def page(trained):
    """A fresh session of the same browser: its trained run is found in the run store."""
    return open_page("sliding.py", owner=OWNER)


def _tab(at, label: str):
    at.session_state["_w_sw_tab"] = label
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _count(text: str) -> int:
    return int(text.replace(",", ""))


def test_one_click_training_lands_in_the_run_store_and_is_slid(trained, runs_dir):
    at, job = trained
    assert job.status == "finished", job.error
    (run,) = [r for r in RunStore(runs_dir).list() if r.name == "window classifier (one click)"]
    assert (run.name, run.dataset, run.task, run.epochs) == ("window classifier (one click)", "windows", "classify", 1)
    assert run.id == job.result.run_id == at.session_state["slide_run"]
    assert any(s.value.startswith("Trained the window classifier") and run.id in s.value for s in at.success)
    assert any("the **window classifier** trained here in one click" in c.value for c in at.caption)


def test_the_exact_setting_gives_equal_maps_and_the_loop_is_the_classifier_on_each_crop(page):
    # a new session slides the stored run over scene 0 with a 32-px window, the trunk's stride apart
    assert page.select_slider(key="_w_sw_window").value == 32
    assert page.slider(key="_w_sw_stride").value == TRUNK
    n = window_count(SCENE, 32, TRUNK) ** 2
    assert _count(metric(page, "Loop: forward passes")) == n
    assert metric(page, "Convolutional: forward passes") == "1"
    assert float(metric(page, "Largest difference")) < 1e-4
    assert any(s.value.startswith(f"Equal: the convolutional form computed every one of the loop's {n:,} windows")
               for s in page.success)
    # the loop's map is the classifier run on each window cut by hand
    ((token, comparison),) = [(k[2], v) for k, (_, v) in page.session_state["held"]._items.items()
                              if k[:2] == ("slide", "compare")]
    assert comparison.loop.probs.shape[:2] == comparison.conv.probs.shape[:2] == (33, 33)
    s = scenes.generate_many(1, SCENE, seed=0, count=(2, 5), radius=(0.06, 0.16), classes=OBJECTS)
    model = shared_run(RunStore(), token[1], token[2:])  # the one copy every session sliding this run shares
    stats = model.stats
    mean, std = torch.tensor(stats.mean)[:, None, None], torch.tensor(stats.std)[:, None, None]
    for r, c in [(0, 0), (7, 20), (32, 32)]:
        crop = s.images[0][:, r * TRUNK:r * TRUNK + 32, c * TRUNK:c * TRUNK + 32].float() / 255
        with torch.no_grad():
            p = torch.softmax(model.model((crop - mean)[None] / std), 1)[0]
        assert torch.allclose(comparison.loop.probs[r, c], p, atol=1e-5)


def test_another_window_and_stride_are_counted_and_said_to_differ(page):
    page.select_slider(key="_w_sw_window").set_value(48).run()
    page.slider(key="_w_sw_stride").set_value(5).run()
    assert not page.exception, [e.value for e in page.exception]
    assert _count(metric(page, "Loop: forward passes")) == window_count(SCENE, 48, 5) ** 2
    assert not any(s.value.startswith("Equal") for s in page.success)
    assert any("When are the two maps equal" in e.label for e in page.expander)
    # back to the exact setting in one click
    button(page, "Exact setting").click().run()
    assert (page.select_slider(key="_w_sw_window").value, page.slider(key="_w_sw_stride").value) == (32, TRUNK)
    assert any(s.value.startswith("Equal") for s in page.success)


def test_the_head_as_convolutions_opens_in_the_builder(page):
    spec = convolutional_spec(WINDOW_CLASSIFIER)
    head = page.dataframe[0].value
    assert list(head["fully connected"]) == ["linear 400 → 32", "linear 32 → 5"]
    assert list(head["becomes"]) == ["conv2d, 32 filters of 16×5×5", "conv2d, 5 filters of 32×1×1"]
    assert [_count(p) for p in head["parameters"]] == [400 * 32 + 32, 32 * 5 + 5]  # the same weights, reshaped
    button(page, "Open in the builder").click().run()
    assert not page.exception, [e.value for e in page.exception]
    assert page.session_state["spec"] == spec


def test_pnet_finds_the_astronaut_and_counts_its_windows(page):
    _tab(page, "P-Net: faces")
    image = search_image(to_uint8(sample_image("astronaut", None, gray=False)), 640)
    expected = detect(load_pnet(), image, 0.6, 40, 0.709, 0.5)
    assert _count(metric(page, "12×12 windows classified")) == expected.windows
    assert int(metric(page, "Pyramid levels")) == len(expected.levels)
    assert int(metric(page, "Face boxes")) == len(expected.boxes) >= 1
    # a higher threshold keeps fewer (or as many) candidates; a larger smallest face, fewer levels
    page.slider(key="_w_pn_threshold").set_value(0.95).run()
    assert int(metric(page, "Face boxes")) == len(detect(load_pnet(), image, 0.95, 40, 0.709, 0.5).boxes)
    page.slider(key="_w_pn_min_face").set_value(100).run()
    assert int(metric(page, "Pyramid levels")) == len(detect(load_pnet(), image, 0.95, 100, 0.709, 0.5).levels)
    assert not page.exception, [e.value for e in page.exception]


def test_proposals_are_classified_and_counted_against_sliding_windows(page):
    _tab(page, "Region proposals")
    s = scenes.generate_many(1, SCENE, seed=0, count=(2, 5), radius=(0.06, 0.16), classes=OBJECTS)
    p = propose(s.images[0].permute(1, 2, 0).numpy(), 100.0, 0.8, 30)
    assert page.slider(key=f"_w_rp_shown_{len(p.boxes)}").max == len(p.boxes)
    calls = page.dataframe[-1].value
    rows = dict(zip(calls["way"], calls["classifier calls"], strict=True))
    assert _count(rows["region proposals"]) == len(p.boxes)
    assert _count(rows[f"sliding windows of 32 px, {TRUNK} px apart"]) == window_count(SCENE, 32, TRUNK) ** 2
    assert any(c.value.startswith(f"{len(p.boxes)} classifier calls") for c in page.caption)
    # a coarser segmentation proposes fewer regions
    page.slider(key="_w_rp_scale").set_value(800).run()
    assert not page.exception, [e.value for e in page.exception]
    fewer = propose(s.images[0].permute(1, 2, 0).numpy(), 800.0, 0.8, 30)
    calls = page.dataframe[-1].value
    rows = dict(zip(calls["way"], calls["classifier calls"], strict=True))
    assert _count(rows["region proposals"]) == len(fewer.boxes) < len(p.boxes)


def test_a_training_can_be_stopped(page):
    page.number_input(key="_w_sw_epochs").set_value(30).run()
    button(page, "Train the window classifier").click().run()
    assert button(page, "Train the window classifier").disabled  # one at a time
    button(page, "Stop").click().run()
    job = _await(page, "slide_job")
    assert job.status == "stopped"
    assert any(w.value.startswith("Stopped (") for w in page.warning)
    assert not button(page, "Train the window classifier").disabled


def test_a_run_of_the_training_page_is_slid_as_the_users_own(trained, runs_dir):
    # LeNet-5 (gray 32×32 input, no padding, no "background" class) trained for one epoch on the Training page
    at = open_page("training.py", owner=OWNER)
    at.selectbox(key="_w_tr_dataset").set_value("digits").run()
    at.number_input(key="_w_tr_epochs").set_value(1).run()
    button(at, "Train").click().run()
    run_id = _await(at, "train_job").result.run_id
    at.switch_page("../pages/sliding.py")
    at.run()
    at.selectbox(key="_w_sw_run").set_value(run_id).run()
    assert not at.exception, [e.value for e in at.exception]
    about = " ".join(c.value for c in at.caption)
    (info,) = [r for r in RunStore(runs_dir).list() if r.id == run_id]
    assert f"**your run {info.name}** (your own network): trained on **digits**" in about
    assert "has no “background” class" in about
    # its trunk's stride is 4 (two 2×2 poolings) and it pads nothing: the two maps are equal here too
    assert _count(metric(at, "Loop: forward passes")) == window_count(SCENE, 32, 4) ** 2
    assert any(s.value.startswith("Equal") for s in at.success)
    assert at.selectbox(key="_w_sw_view").options == ["best class", *[str(d) for d in range(10)]]


def test_another_browser_does_not_see_the_window_classifier(trained):
    other = open_page("sliding.py", owner="tom-0123456789abcdef")
    assert any("No classifier yet" in i.value for i in other.info)
