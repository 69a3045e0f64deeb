"""The convolution lab, run headless through the real entry with real engine work; torch is the oracle for sizes and
values, and every chart must be a valid plotly figure (the lab builds them unvalidated, for speed)."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import plotly.graph_objects as go
import pytest
import torch
import torch.nn.functional as F
from apptest_helpers import button, metric, open_page
from PIL import Image

from engine.conv.bank import BankRow, bank_weights
from engine.conv.filters import example_image, make_filter

TABS = ["Convolution", "Volumes & one CNN layer", "Pooling", "Convolution or cross-correlation?"]


@pytest.fixture
def lab():
    return open_page("conv_lab.py")


def _text(at) -> str:
    return " ".join(m.value for m in at.markdown)


def _tab(at, label: str):
    at.session_state["_w_cl_tab"] = label
    return at.run()


def _torch_out(x: np.ndarray, w: np.ndarray, stride: int, padding) -> np.ndarray:
    """F.conv2d of one (H, W) image with one (f, f) filter, float64."""
    t = torch.from_numpy(np.asarray(x, np.float64))[None, None]
    k = torch.from_numpy(np.asarray(w, np.float64))[None, None]
    return F.conv2d(t, k, stride=stride, padding=padding)[0, 0].numpy()


def _charts(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def _titles(at) -> list[str]:
    return [c["layout"].get("title", {}).get("text", "") for c in _charts(at)]


def _output_values(at, title: str) -> np.ndarray:
    """The numbers of the output heatmap titled ``title`` (plotly's typed array: base64 bytes, dtype and shape)."""
    out = next(c for c in _charts(at) if c["layout"].get("title", {}).get("text") == title)
    z = out["data"][0]["z"]
    shape = [int(v) for v in str(z["shape"]).split(",")]  # "38, 38"
    return np.frombuffer(base64.b64decode(z["bdata"]), z["dtype"]).reshape(shape)


def test_opens_on_the_course_example_with_its_formula(lab):
    assert metric(lab, "output size") == "4×4"
    assert "⌊(6 + 2·0 − 3)/1⌋ + 1 = 4" in _text(lab)
    # the vertical-edge filter finds the edge: the middle columns are 30, as in the course
    lab.slider(key="conv_pos_4x4").set_value(2).run()
    assert metric(lab, "output [0, 1]") == "30"


def test_stride_and_padding_change_the_output_size_as_torch_does(lab):
    cases = [("valid", None, 2, "2×2"), ("custom", 1, 1, "6×6"), ("custom", 1, 2, "3×3"), ("custom", 2, 3, "3×3"),
             ("same", None, 1, "6×6")]
    for pad, p, stride, expected in cases:
        lab.segmented_control(key="_w_cl_pad").set_value(pad).run()
        if p is not None:
            lab.number_input(key="_w_cl_p").set_value(p).run()
        lab.slider(key="_w_cl_s").set_value(stride).run()
        assert not lab.exception and not lab.error
        torch_pad = {"valid": 0, "same": "same"}.get(pad, p)
        h, w = _torch_out(example_image(6), make_filter("vertical edge", 3), stride, torch_pad).shape
        assert metric(lab, "output size") == expected == f"{h}×{w}"
        shown = p if p is not None else {"valid": 0, "same": 1}[pad]
        assert f"⌊(6 + 2·{shown} − 3)/{stride}⌋ + 1 = {h}" in _text(lab)


def test_impossible_values_show_the_engines_message_not_a_traceback(lab):
    lab.slider(key="_w_cl_f").set_value(9).run()
    assert not lab.exception
    errors = " ".join(e.value for e in lab.error)
    assert "filter size f=9" in errors and "use f ≤ 6 or padding p ≥ 2" in errors
    lab.slider(key="_w_cl_f").set_value(3).run()
    # a preset that has no such size says which sizes it has
    lab.selectbox(key="_w_cl_filter").set_value("sobel x").run()
    lab.slider(key="_w_cl_f").set_value(5).run()
    assert not lab.exception and "defined only for f=3" in " ".join(e.value for e in lab.error)


def test_the_step_view_adds_up_to_the_output_value(lab):
    lab.number_input(key="_w_cl_bias").set_value(2.5).run()
    lab.segmented_control(key="_w_cl_pad").set_value("custom").run()  # p = 1: windows on the padding too
    expected = _torch_out(example_image(6), make_filter("vertical edge", 3), 1, 1) + 2.5
    for position in (1, 6, 11, 16, 36):
        lab.slider(key="conv_pos_6x6").set_value(position).run()
        i, j = divmod(position - 1, 6)
        total = float(metric(lab, "Σ products").replace("−", "-"))
        shown = float(metric(lab, f"output [{i}, {j}]").replace("−", "-"))
        assert total + 2.5 == pytest.approx(shown) and shown == pytest.approx(expected[i, j])


def test_play_moves_the_window_and_stop_stops_it(lab):
    button(lab, "Play").click().run()
    assert lab.session_state["conv_lab_playing"] == "conv"
    first = lab.slider(key="conv_pos_4x4").value
    lab.run()  # one tick of the fragment
    assert lab.slider(key="conv_pos_4x4").value > first
    button(lab, "Stop").click().run()
    assert lab.session_state["conv_lab_playing"] is None
    still = lab.slider(key="conv_pos_4x4").value
    lab.run()
    assert lab.slider(key="conv_pos_4x4").value == still


def test_your_own_numbers_survive_a_page_switch(lab):
    lab.segmented_control(key="_w_cl_source").set_value("grid").run()
    lab.slider(key="_w_cl_n_grid").set_value(3).run()
    grid = np.arange(9, dtype=np.float64).reshape(3, 3)
    lab.session_state["conv_lab_grid"] = grid
    lab.selectbox(key="_w_cl_filter").set_value("box blur").run()
    assert metric(lab, "output size") == "1×1" and metric(lab, "output [0, 0]") == "4"  # the mean of 0..8
    lab.switch_page("../pages/builder.py").run()
    lab.switch_page("../pages/conv_lab.py").run()
    assert not lab.exception
    np.testing.assert_array_equal(lab.session_state["conv_lab_grid"], grid)
    assert metric(lab, "output [0, 0]") == "4"


def test_a_bad_upload_gets_a_message(lab):
    lab.segmented_control(key="_w_cl_source").set_value("upload").run()
    lab.file_uploader(key="_w_cl_upload").set_value(("notes.png", b"this is not a picture", "image/png")).run()
    assert not lab.exception
    assert any("notes.png" in e.value and "not an image" in e.value for e in lab.error)


def test_an_upload_is_convolved_and_survives_a_page_switch(lab):
    rgb = np.zeros((40, 60, 3), np.uint8)
    rgb[:, 30:] = 255  # a vertical edge in the middle of the centred 40×40 square
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    lab.segmented_control(key="_w_cl_source").set_value("upload").run()
    lab.file_uploader(key="_w_cl_upload").set_value(("edge.png", buf.getvalue(), "image/png")).run()
    lab.slider(key="_w_cl_n_photo").set_value(40).run()
    assert not lab.exception and not lab.error
    title = "input: your image edge.png (centre square) at 40×40"
    assert title in _titles(lab)
    drawn = _output_values(lab, "output 38×38")
    expected = _torch_out(rgb[:, 10:50, 0] / 255.0, make_filter("vertical edge", 3), 1, 0)  # gray = R = G = B
    np.testing.assert_allclose(drawn, expected, atol=1e-5)
    assert np.abs(expected).max() == 3  # the edge: three bright columns of one
    lab.switch_page("../pages/builder.py").run()
    lab.switch_page("../pages/conv_lab.py").run()
    assert not lab.exception and title in _titles(lab)


def test_volume_tab_counts_the_course_layers_280_parameters(lab):
    _tab(lab, TABS[1])
    assert metric(lab, "parameters of this layer") == "56"  # two 3×3×3 filters
    button(lab, "Use the course's layer").click().run()
    assert metric(lab, "parameters of this layer") == "280"
    assert "(3·3·3 + 1)·10 = 280" in _text(lab)
    assert "4×4×10" in _text(lab)


def test_volume_tab_adds_each_filters_bias_before_the_relu(lab):
    """The displayed Σ, z and ReLU(z) against torch's conv2d of the same bank, with biases that change the answer:
    a bias of −100 turns filter 1's 90 into z = −10, which the ReLU clips to 0."""
    lab.session_state["conv_lab_bank"] = [BankRow("vertical edge", "all", -100.0), BankRow("sobel x", "R", 2.5)]
    _tab(lab, TABS[1])
    x = np.repeat(example_image(6)[None].astype(np.float64), 3, axis=0)  # the course's example as RGB
    weights, biases = bank_weights(lab.session_state["conv_lab_bank"], 3)
    sums = F.conv2d(torch.from_numpy(x)[None], torch.from_numpy(weights))[0].numpy()  # (K, 4, 4), no bias
    assert sums[0, 0, 1] == 90  # the edge, 30 in each of R, G and B
    for k, (i, j) in [(0, (0, 1)), (1, (2, 1)), (0, (0, 0))]:
        lab.segmented_control(key="_w_cl_v_pick").set_value(k).run()
        lab.slider(key="volume_pos_4x4").set_value(4 * i + j + 1).run()
        total = float(metric(lab, "Σ over R, G, B").replace("−", "-"))
        z = float(metric(lab, "z = Σ + b").replace("−", "-"))
        assert total == pytest.approx(sums[k, i, j]) and z == pytest.approx(sums[k, i, j] + biases[k])
        relu = f"ReLU(z) = max(0, {metric(lab, 'z = Σ + b')}) = **{max(z, 0.0):.4g}**"
        assert relu in _text(lab), (k, i, j)
        if (k, i, j) == (0, 0, 1):
            assert relu == "ReLU(z) = max(0, −10) = **0**"


def test_pooling_tab_shows_its_size_no_parameters_and_where_each_max_came_from(lab):
    _tab(lab, TABS[2])
    assert metric(lab, "output size") == "3×3" and metric(lab, "parameters") == "0"
    assert "⌊(6 + 2·0 − 2)/2⌋ + 1 = 3" in _text(lab)
    lab.slider(key="_w_cl_pool_f").set_value(3).run()
    lab.slider(key="_w_cl_pool_s").set_value(1).run()
    assert metric(lab, "output size") == "4×4"
    lab.slider(key="pool_pos_4x4").set_value(4).run()  # output [0, 3]: the window on columns 3..5, all 0
    assert metric(lab, "output [0, 3]") == "0" and "from input row 0, column 3" in _text(lab)
    lab.segmented_control(key="_w_cl_pool_mode").set_value("avg").run()
    lab.slider(key="pool_pos_4x4").set_value(2).run()  # columns 1..3: two bright columns of three
    assert metric(lab, "output [0, 1]") == "6.667"


def test_flip_tab_shows_the_difference_only_for_asymmetric_filters(lab):
    _tab(lab, TABS[3])
    assert metric(lab, "largest |convolution − cross-correlation|") == "80"
    lab.toggle(key="_w_cl_x_flip").set_value(True).run()
    assert "rotated" in _text(lab)
    lab.selectbox(key="_w_cl_x_filter").set_value("laplacian").run()
    assert metric(lab, "largest |convolution − cross-correlation|") == "0"


def test_every_tab_draws_valid_plotly_figures(lab):
    for label in TABS:
        _tab(lab, label)
        assert not lab.exception, label
        charts = _charts(lab)
        assert charts, label
        for spec in charts:
            go.Figure(spec)  # plotly's own validation: raises on any invalid property


def test_a_128_pixel_colour_photo_follows_the_stride(lab):
    """Its speed is measured by bench/bench_conv_lab.py, not here."""
    lab.segmented_control(key="_w_cl_source").set_value("photo").run()
    lab.selectbox(key="_w_cl_photo").set_value("astronaut").run()
    lab.slider(key="_w_cl_n_photo").set_value(128).run()
    lab.segmented_control(key="_w_cl_colour").set_value("RGB").run()
    assert metric(lab, "output size") == "126×126" and metric(lab, "filter") == "3×3×3"
    lab.slider(key="_w_cl_s").set_value(3).run()
    assert metric(lab, "output size") == "42×42"
    assert not lab.exception


def test_same_with_stride_2_keeps_working_with_tensorflow_s_rule(lab):
    """The course exercise: 'same' padding with a stride of 2. TensorFlow's rule, computed here from its documentation:
    the output has ⌈n/s⌉ cells and needs max((out − 1)·s + f − n, 0) padding pixels, the smaller half before."""
    lab.segmented_control(key="_w_cl_pad").set_value("same").run()
    lab.slider(key="_w_cl_s").set_value(2).run()
    assert not lab.exception and not lab.error
    n, f, s = 6, 3, 2
    out = -(-n // s)
    total = max((out - 1) * s + f - n, 0)
    assert metric(lab, "output size") == f"{out}×{out}"
    captions = " ".join(c.value for c in lab.caption)
    assert f"⌈{n}/{s}⌉ = {out}" in captions and "PyTorch's padding='same' accepts stride 1 only" in captions
    assert f"{total // 2} on the left/top and {total - total // 2} on the right/bottom" in captions
    # the output's numbers are torch's convolution of the input padded that way
    x = example_image(6)
    padded = np.pad(x, ((total // 2, total - total // 2),) * 2)
    expected = _torch_out(padded, make_filter("vertical edge", 3), s, 0)
    np.testing.assert_allclose(_output_values(lab, f"output {out}×{out}"), expected, atol=1e-5)


def test_the_coverage_sentence_reads_the_map_it_describes(lab):
    from engine.conv.coverage import coverage

    lab.slider(key="_w_cl_s").set_value(2).run()
    counts = coverage(6, 3, 0, 2)
    text = _text(lab)
    assert f"the central one (row 3, column 3) by **{counts[3, 3]} window" in text
    assert f"The corner pixel (row 0, column 0) is read by **{counts[0, 0]} window" in text
    block = counts[2:5, 2:5]
    if block.min() != block.max():
        assert f"its neighbours by {block.min()} to {block.max()}" in text
