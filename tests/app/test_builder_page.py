"""The builder page, run headless with real engine work: presets, edits, bad edits, structure, sharing, the lesson."""

from __future__ import annotations

import torchvision
from apptest_helpers import button, by_key_prefix, metric, open_page

from engine.nets.editing import replace_layer
from engine.nets.presets import get_preset
from engine.nets.spec import AdaptiveAvgPool2d, Conv2d, Flatten, Linear, NetworkSpec, ReLU, Sigmoid, ZeroPad2d


def _table(at):
    return at.dataframe[0].value


def _pick(at, index_label: str) -> None:
    """Select the layer whose picker label starts with ``index_label`` (e.g. "4 · ")."""
    picker = by_key_prefix(at.selectbox, "_w_pick_")
    match = [i for i, label in enumerate(picker.options) if label.strip().startswith(index_label)]
    assert match, picker.options
    picker.select_index(match[0]).run()


def _arg(at, name: str):
    """The number input of argument ``name`` of the layer being edited."""
    matches = [w for w in at.number_input if w.key and w.key.startswith("_w_arg_") and w.key.endswith(f"_{name}")]
    assert len(matches) == 1, [w.key for w in at.number_input]
    return matches[0]


def test_opens_on_lenet5_with_the_course_numbers(builder):
    assert metric(builder, "parameters") == "61,706"
    table = _table(builder)
    assert list(table["output"]) == ["6×28×28", "6×28×28", "6×14×14", "16×10×10", "16×10×10", "16×5×5", "400",
                                     "120", "120", "84", "84", "10"]
    assert table["formula"][0].startswith("out H, W: ⌊(32 + 2·0 − 5)/1⌋ + 1 = 28")
    assert "params (5·5·1 + 1)·6 = 156" in table["formula"][0]


def test_picking_a_preset_changes_table_and_totals_to_torchvisions_count(builder):
    builder.selectbox(key="_w_preset").set_value("resnet18")
    button(builder, "Load preset").click().run()
    expected = sum(p.numel() for p in torchvision.models.resnet18().parameters())
    assert metric(builder, "parameters") == f"{expected:,}"
    assert metric(builder, "output") == "1000"
    assert builder.session_state["spec"] == get_preset("resnet18")


def test_editing_a_kernel_size_updates_shapes_params_and_formula(builder):
    _pick(builder, "1 · ")
    _arg(builder, "kernel_size").set_value(3).run()
    table = _table(builder)
    assert table["output"][0] == "6×30×30"
    assert table["params"][0] == (3 * 3 * 1 + 1) * 6
    assert table["formula"][0].startswith("out H, W: ⌊(32 + 2·0 − 3)/1⌋ + 1 = 30")
    # downstream layers follow: 30 → pool 15 → conv 11 → pool ⌊11/2⌋ = 5
    assert list(table["output"][2:7]) == ["6×15×15", "16×11×11", "16×11×11", "16×5×5", "400"]
    assert metric(builder, "parameters") == f"{60 + 2416 + 48120 + 10164 + 850:,}"


def test_a_bad_edit_shows_the_message_on_its_layer_and_keeps_the_rest(builder):
    _pick(builder, "4 · ")  # the second conv, on a 6×14×14 input
    _arg(builder, "kernel_size").set_value(20).run()
    assert not builder.exception
    errors = [e.value for e in builder.error]
    assert any("conv2d #4" in e and "kernel 20 is larger than its 14×14 input plus padding 0" in e for e in errors)
    table = _table(builder)
    assert list(table["output"][:3]) == ["6×28×28", "6×28×28", "6×14×14"]  # the layers before still summarise
    assert table["formula"][3].startswith("⚠")
    assert "not reached" in table["formula"][5]
    assert metric(builder, "output") == "—"
    # ... and fixing it restores the network
    _arg(builder, "kernel_size").set_value(5).run()
    assert not builder.error and metric(builder, "parameters") == "61,706"


def test_structure_edits_append_move_duplicate_remove_and_undo(builder):
    n = len(_table(builder))
    builder.selectbox(key="_w_new_kind").set_value("dropout")
    button(builder, "Append").click().run()
    table = _table(builder)
    assert len(table) == n + 1 and table["layer"].iloc[-1] == "dropout"
    button(builder, "Up").click().run()
    assert _table(builder)["layer"].iloc[-2] == "dropout"
    button(builder, "Copy").click().run()
    assert list(_table(builder)["layer"].iloc[-3:]) == ["dropout", "dropout", "linear"]
    button(builder, "Remove").click().run()  # the copy; the selection moves to the layer now in its place
    assert list(_table(builder)["layer"].iloc[-2:]) == ["dropout", "linear"]
    _pick(builder, f"{n} · ")
    button(builder, "Remove").click().run()
    assert len(_table(builder)) == n
    assert builder.session_state["spec"] == get_preset("lenet5")
    button(builder, "Undo").click().run()
    assert len(_table(builder)) == n + 1


def test_composites_are_editable_inside(builder):
    builder.selectbox(key="_w_preset").set_value("resnet18")
    button(builder, "Load preset").click().run()
    _pick(builder, "5 · ")  # the first residual block
    button(builder, "Copy").click().run()
    _pick(builder, "6.1 · ")  # its body's first conv, in the copy
    _arg(builder, "out_channels").set_value(32).run()
    errors = " ".join(e.value for e in builder.error)
    # 32 channels inside the body: the body's second conv adapts (in-channels are inferred), and the block
    # still adds up because the body ends with 64 channels again
    assert not errors, errors
    table = _table(builder)
    row = table[table["#"] == "6.1"].iloc[0]
    assert row["output"] == "32×56×56"


def test_the_architecture_survives_a_page_switch(builder):
    builder.selectbox(key="_w_preset").set_value("mobilenet_v2")
    button(builder, "Load preset").click().run()
    builder.switch_page("../pages/home.py").run()
    builder.switch_page("../pages/builder.py").run()
    assert builder.session_state["spec"] == get_preset("mobilenet_v2")
    assert metric(builder, "parameters") == "3,504,872"


def test_a_shared_link_opens_its_network():
    spec = NetworkSpec((3, 16, 16), (Conv2d(4, 3), ReLU(), Flatten(), Linear(2)))
    at = open_page("builder.py", query={"spec": spec.to_token()})
    # the query string survives the switch in AppTest only if set again; open the builder by its URL instead
    if at.session_state["spec"] != spec:
        at.query_params["spec"] = spec.to_token()
        at.run()
    assert at.session_state["spec"] == spec
    assert metric(at, "parameters") == f"{4 * 27 + 4 + 4 * 14 * 14 * 2 + 2:,}"


def test_a_broken_link_says_so_and_keeps_the_network():
    at = open_page("builder.py")
    at.query_params["spec"] = "not-a-spec"
    at.run()
    assert not at.exception
    assert any("could not be opened" in e.value for e in at.error)
    assert at.session_state["spec"] == get_preset("lenet5")


def test_one_by_one_lesson_computes_the_course_numbers_and_follows_the_user(builder):
    assert metric(builder, "direct 5×5 conv: multiplications") == "120.4M"
    assert metric(builder, "1×1 to 16, then 5×5: multiplications") == "12.4M"
    builder.number_input(key="_w_1x1_mid").set_value(32).run()
    expected = (28 * 28 * 32 * 192 + 28 * 28 * 32 * 5 * 5 * 32) / 1e6
    assert metric(builder, "1×1 to 32, then 5×5: multiplications") == f"{expected:,.1f}M"


def test_generated_code_is_shown_for_a_valid_network(builder):
    code = [c.value for c in builder.code if "import torch" in c.value]
    assert code and "class" in code[0]


def test_zero_padding_layer_takes_four_sides_as_json(builder):
    _pick(builder, "1 · ")
    builder.selectbox(key="_w_new_kind").set_value("zeropad2d")
    button(builder, "Before").click().run()
    assert not [w for w in builder.checkbox if w.label == "different height and width"]
    side = [w for w in builder.number_input if w.key and w.key.endswith("_padding")][0]
    side.set_value(2).run()
    assert _table(builder)["output"][0] == "1×36×36"
    assert _table(builder)["output"][1] == "6×32×32"
    # four sides, as torch's ZeroPad2d takes them: an unfitting value is edited as JSON
    builder.session_state["spec"] = replace_layer(builder.session_state["spec"], (0,), ZeroPad2d((0, 1, 0, 1)))
    builder.run()
    assert _table(builder)["output"][0] == "1×33×33"
    raw = [w for w in builder.text_input if w.key and w.key.endswith("_paddingraw")]
    assert raw and raw[0].value == "[0, 1, 0, 1]"
    assert not builder.exception


def test_inception_branches_are_added_filled_and_removed_on_the_page(builder):
    button(builder, "New empty").click().run()
    builder.selectbox(key="_w_new_kind").set_value("inception")
    button(builder, "Append").click().run()
    assert len(builder.session_state["spec"].layers[0].branches) == 3  # the kind's example: three branches
    button(builder, "Add branch").click().run()
    block = builder.session_state["spec"].layers[0]
    assert len(block.branches) == 4 and block.branches[3] == (Conv2d(8, 1),)
    assert metric(builder, "output") == "25×32×32"  # 8 + 8 + 1 (the max pool keeps the input's channel) + 8
    by_key_prefix(builder.selectbox, "_w_branch_").set_value(1).run()
    builder.selectbox(key="_w_new_kind").set_value("relu")
    button(builder, "Add layer to branch").click().run()
    assert builder.session_state["spec"].layers[0].branches[1][-1] == ReLU()
    assert builder.session_state["builder_selected"] == (0, "branches", 1, 1)
    _pick(builder, "1 · ")
    by_key_prefix(builder.selectbox, "_w_branch_").set_value(0).run()
    button(builder, "Remove branch").click().run()
    assert len(builder.session_state["spec"].layers[0].branches) == 3
    assert not builder.exception and not builder.error


def test_a_layer_that_cannot_train_says_why_and_the_fix_is_one_tick(builder):
    builder.session_state["spec"] = NetworkSpec((1, 8, 8), (Conv2d(2, 3), Sigmoid(), ReLU(inplace=True), Flatten(),
                                                            Linear(2)))
    builder.run()
    errors = [e.value for e in builder.error]
    assert any("relu #3: cannot train: it works in place, but sigmoid #2 before it needs its own output" in e
               for e in errors), errors
    assert metric(builder, "output") == "—"
    _pick(builder, "3 · ")
    [w for w in builder.checkbox if w.key and w.key.endswith("_inplace")][0].uncheck().run()
    assert not builder.error and metric(builder, "output") == "2"


def test_a_receptive_field_that_varies_between_outputs_is_said_so(builder):
    builder.session_state["spec"] = NetworkSpec((1, 12, 12), (AdaptiveAvgPool2d(5), Conv2d(1, 3)))
    builder.run()
    # 12 → 5 pools [⌊i·12/5⌋, ⌈(i+1)·12/5⌉): the centre output [4, 8), then a 3×3 over outputs 1-3: [2, 10)
    assert list(_table(builder)["receptive field"]) == ["4×4 *", "8×8 *"]
    _pick(builder, "2 · ")
    notes = [c.value for c in builder.caption if c.value.startswith("Receptive field:")]
    assert notes and "the centre output's is shown" in notes[0]


def test_the_pretrained_preset_opens_with_its_parameters(builder):
    builder.selectbox(key="_w_preset").set_value("efficientnet_lite0")
    button(builder, "Load preset").click().run()
    assert metric(builder, "parameters") == "4,652,008" and metric(builder, "output") == "1000"
    assert not builder.error


def test_the_preset_line_says_edited_from_once_the_network_changes(builder):
    from apptest_helpers import button

    caption = lambda: " ".join(c.value for c in builder.caption)  # noqa: E731
    assert "**LeNet-5** —" in caption()
    builder.selectbox(key="_w_preset").set_value("resnet18").run()
    button(builder, "Load preset").click().run()
    assert "**ResNet-18** —" in caption()
    first = [w for w in builder.number_input if w.key and w.key.endswith("_out_channels")][0]
    first.set_value(first.value + 1).run()
    assert not builder.exception and "**Edited from ResNet-18** —" in caption()
    button(builder, "New empty").click().run()
    assert "**Your network** — built here" in caption()
