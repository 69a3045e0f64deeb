"""AppTest of the "Look inside" page: with no runs (the builder's untrained network), and with a run trained here for
one epoch on the digits. Only the webcam component is replaced (it needs the real server); its frame callback is
then driven by hand with real ``av.VideoFrame``s."""

from __future__ import annotations

import json

import av
import numpy as np
import pytest
import streamlit_webrtc
import torch
from apptest_helpers import ENTRY, FakeStreamer, button, open_page
from streamlit.testing.v1 import AppTest

from engine.data import load_dataset
from engine.nets.build import build
from engine.nets.presets import get_preset
from engine.nets.spec import NetworkSpec
from engine.training.config import TrainConfig
from engine.training.evaluate import predict
from engine.training.loop import fit
from engine.training.runs import RunStore
from playground.cache import shared_network

SPEC = NetworkSpec.from_dict({"input": [1, 16, 16], "layers": [
    {"kind": "conv2d", "out_channels": 6, "kernel_size": 3, "padding": 1}, {"kind": "relu"},
    {"kind": "maxpool2d"},
    {"kind": "conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1}, {"kind": "relu"},
    {"kind": "maxpool2d"}, {"kind": "flatten"}, {"kind": "linear", "out_features": 10},
]})


@pytest.fixture
def streamer(monkeypatch) -> FakeStreamer:
    fake = FakeStreamer()
    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", fake)
    return fake


ADA = "ada-0123456789abcdef"  # the owner id of the browser that trained the run


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory) -> tuple[str, str]:
    """(runs folder, run id) of a one-epoch run on the digits."""
    root = tmp_path_factory.mktemp("runs")
    result = fit(SPEC, load_dataset("digits", seed=0), TrainConfig(epochs=1, batch_size=64, seed=0),
                 store=RunStore(root), name="digits test run", owner=ADA)
    assert result.status == "finished"
    return str(root), result.run_id


def _titles(at: AppTest) -> list[str]:
    titles = []
    for c in at.get("plotly_chart"):
        layout = json.loads(c.proto.spec).get("layout", {})
        title = layout.get("title", {})
        titles.append(title.get("text", "") if isinstance(title, dict) else str(title))
    return titles


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_without_runs_the_builders_network_is_inspected(monkeypatch, tmp_path, streamer):
    monkeypatch.setenv("CNNPG_RUNS_DIR", str(tmp_path / "empty"))
    at = open_page("inspect.py")
    _ok(at)
    assert any("No trained network yet" in i.value and "Training" in i.value for i in at.info)
    assert at.selectbox(key="_w_inspect_run").value == ""  # the builder's network
    assert any("untrained" in w.value for w in at.warning)
    titles = _titles(at)
    assert any(t.startswith("conv2d #1: 6 filters of 1×5×5") for t in titles), titles  # LeNet-5's first layer
    # no data set of its own: a bundled photo is the input; prediction and maps follow
    assert at.segmented_control(key="_w_inspect_source").value == "photo"
    assert "Top predictions" in titles
    layers = at.selectbox(key="_w_inspect_layer")
    assert layers.options == ["conv2d #1", "conv2d #4"]
    layers.set_value("conv2d #4").run()
    _ok(at)
    assert any(t.startswith("conv2d #4: 16 channels of 10×10") for t in _titles(at))
    at.toggle(key="_w_inspect_every").set_value(True).run()
    _ok(at)
    assert "relu #2" in at.selectbox(key="_w_inspect_layer").options


def test_the_builders_network_has_its_seeds_weights_and_leaves_the_global_generator_alone(monkeypatch, tmp_path,
                                                                                          streamer):
    """Built from a private generator: the weights ``torch.manual_seed(seed); build(spec)`` gives, while torch's global
    generator — shared by every session's thread — is neither read nor moved."""
    monkeypatch.setenv("CNNPG_RUNS_DIR", str(tmp_path / "empty"))
    at = AppTest.from_file(ENTRY, default_timeout=120)
    at.session_state["seed"] = 7
    at.run()
    torch.manual_seed(12345)
    before = torch.get_rng_state()
    at.switch_page("../pages/inspect.py").run()
    _ok(at)
    assert torch.equal(torch.get_rng_state(), before)
    (token,) = {key[1] for key in at.session_state["held"]._items if key[0] == "maps"}
    assert token[0] == "builder" and token[2] == 7
    model = shared_network(get_preset("lenet5"), 7)  # the one copy every session looking at it shares
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    torch.manual_seed(7)
    oracle = build(get_preset("lenet5"))
    for (name, got), (_, want) in zip(model.state_dict().items(), oracle.state_dict().items(), strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=0, msg=name)


def test_an_unreadable_upload_is_an_error_message(monkeypatch, tmp_path, streamer):
    monkeypatch.setenv("CNNPG_RUNS_DIR", str(tmp_path / "empty"))
    at = open_page("inspect.py")
    at.segmented_control(key="_w_inspect_source").set_value("upload").run()
    at.file_uploader(key="_w_inspect_upload").set_value(("notes.png", b"this is not an image", "image/png")).run()
    assert not at.exception
    assert [e.value for e in at.error] == ["notes.png: this file is not an image that can be read (accepted: PNG, "
                                           "JPEG, GIF, BMP, WEBP, TIFF)"]
    assert "Top predictions" not in _titles(at)


def test_with_a_trained_run(monkeypatch, digits_run, streamer):
    root, run_id = digits_run
    monkeypatch.setenv("CNNPG_RUNS_DIR", root)
    at = open_page("inspect.py", owner=ADA)
    _ok(at)
    assert at.selectbox(key="_w_inspect_run").value == run_id  # the owner's latest run, without asking
    assert not at.warning  # trained
    titles = _titles(at)
    assert any(t.startswith("conv2d #1: 6 filters of 1×3×3") for t in titles), titles
    assert at.segmented_control(key="_w_inspect_source").value == "sample"

    # prediction on validation sample 7: the chart's bars are the engine's top-5 on the stored model
    at.number_input(key="_w_inspect_sample").set_value(7).run()
    _ok(at)
    store = RunStore(root)
    run = store.get(run_id)
    model = store.load_model(run_id)
    stats = (tuple(run.config["stats"]["mean"]), tuple(run.config["stats"]["std"]))
    val = load_dataset("digits", seed=0).val
    want = predict(model, val.images[7], stats, (1, 16, 16), k=5)
    topk = next(json.loads(c.proto.spec) for c in at.get("plotly_chart")
                if "Top predictions" in json.dumps(json.loads(c.proto.spec).get("layout", {}).get("title", "")))
    bars = topk["data"][0]
    probs = bars["x"]["_inputArray"] if isinstance(bars["x"], dict) else bars["x"]
    names = [y.strip() for y in bars["y"]]
    assert names[::-1] == [str(int(i)) for i in want.indices[0]]
    assert np.allclose(list(probs)[::-1], want.probs[0].tolist(), atol=1e-5)
    truth = val.classes[int(val.labels[7])]
    assert any("Prediction: **" in m.value and ("right" in m.value or f"it is **{truth}**" in m.value)
               for m in at.markdown)

    # feature maps of every convolution, for this sample
    assert at.selectbox(key="_w_inspect_layer").options == ["conv2d #1", "conv2d #4"]
    assert any(t.startswith("conv2d #1: 6 channels of 16×16") for t in _titles(at))

    # the webcam: the live callback classifies real frames; a frame taken from it becomes the input
    at.segmented_control(key="_w_inspect_source").set_value("webcam").run()
    _ok(at)
    call = streamer.calls[-1]
    assert call["rtc_configuration"] == {"iceServers": []} and call["async_processing"] is True
    frame = av.VideoFrame.from_ndarray(np.random.default_rng(0).integers(0, 256, (120, 160, 3), np.uint8),
                                       format="rgb24")
    out = streamer.callback(frame).to_ndarray(format="rgb24")
    assert out.shape == (120, 160, 3) and not np.array_equal(out, frame.to_ndarray(format="rgb24"))
    button(at, "Look inside the current frame").click().run()
    _ok(at)
    assert "Top predictions" in _titles(at)
    assert any("Frames classified: **1**" in m.value for m in at.markdown)


def test_capture_dataset_ui_records_and_returns_a_data_set(streamer):
    def page():
        import streamlit as st

        from playground.webcam.capture import capture_dataset_ui

        data = capture_dataset_ui("cap")
        if data is not None:
            st.write(f"classes {list(data.card.classes)}, {len(data.train) + len(data.val)} images")

    at = AppTest.from_function(page, default_timeout=60)
    at.run()
    assert not at.exception
    rgb = np.zeros((48, 64, 3), np.uint8)
    for label in (0, 1):
        rgb[..., label] = 200
        streamer.callback(av.VideoFrame.from_ndarray(rgb, format="rgb24"))  # the latest frame
        for _ in range(3):
            at.button(key=f"_w_cap_one_{label}").click().run()
    at.text_input(key="_w_cap_name_0").input("red").run()
    at.toggle(key="_w_cap_rec_1").set_value(True).run()  # recording: the callback keeps samples and marks the frame
    marked = streamer.callback(av.VideoFrame.from_ndarray(rgb, format="rgb24")).to_ndarray(format="rgb24")
    assert tuple(marked[-1, 32]) == (220, 30, 30)
    at.button(key="_w_cap_use").click().run()
    assert not at.exception and not at.error
    assert any("classes ['red', 'class 2'], 7 images" in m.value for m in at.markdown)
    cap = at.session_state["webcam"]["cap"]
    assert [len(s) for s in cap.samples] == [3, 4]
    assert cap.dataset.card.classes == ("red", "class 2") and cap.dataset.card.image_shape == (3, 64, 64)


def test_another_browser_never_sees_the_run_and_nobody_s_runs_are_listed_not_chosen(monkeypatch, digits_run,
                                                                                   streamer, tmp_path):
    root, run_id = digits_run
    monkeypatch.setenv("CNNPG_RUNS_DIR", root)
    bob = open_page("inspect.py", owner="bob-0123456789abcdef")
    _ok(bob)
    assert bob.selectbox(key="_w_inspect_run").options == ["The builder's network, untrained (weights from seed 0)"]
    assert bob.session_state["inspect_run"] == ""  # the builder's network, never Ada's run
    # a run from the command line is nobody's: listed for everyone, chosen by nobody without asking
    cli = fit(SPEC, load_dataset("digits", seed=0, max_train=200), TrainConfig(epochs=1, seed=0),
              store=RunStore(root), name="from the CLI")
    bob = open_page("inspect.py", owner="bob-0123456789abcdef")
    assert len(bob.selectbox(key="_w_inspect_run").options) == 2 and bob.session_state["inspect_run"] == ""
    ada = open_page("inspect.py", owner=ADA)
    assert ada.session_state["inspect_run"] == run_id and len(ada.selectbox(key="_w_inspect_run").options) == 3
    RunStore(root).delete(cli.run_id)


def test_a_drawing_gets_a_digit_reader_trained_in_one_click(monkeypatch, tmp_path, streamer):
    monkeypatch.setenv("CNNPG_RUNS_DIR", str(tmp_path))
    carol = "carol-0123456789abcdef"
    at = open_page("inspect.py", owner=carol)
    at.segmented_control(key="_w_inspect_source").set_value("drawing").run()
    _ok(at)
    assert any("This is an untrained network" in m.value for m in at.markdown)
    assert not [b for b in at.button if b.label.startswith("Read drawings with your run")]  # none yet
    button(at, "Train LeNet-5 on MNIST 5k in one click (3 epochs)").click().run()
    job = at.session_state["inspect_draw_job"]
    assert job.wait(600), job.status
    at.run()
    _ok(at)
    (run,) = RunStore(tmp_path).list()
    assert (run.owner, run.dataset, run.status, run.epochs) == (carol, "mnist5k", "finished", 3)
    assert run.best > 0.8  # LeNet-5 reads MNIST 5k's validation digits after three epochs
    assert at.session_state["inspect_run"] == run.id  # the page now reads drawings with it
    assert any("learned handwritten digits (mnist5k)" in c.value for c in at.caption)

    # the builder's network chosen again: the page offers the run just trained instead of training another
    at.selectbox(key="_w_inspect_run").set_value("").run()
    use = next(b for b in at.button if b.label.startswith("Read drawings with your run"))
    use.click().run()
    assert at.session_state["inspect_run"] == run.id
