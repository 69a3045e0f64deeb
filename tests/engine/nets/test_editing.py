"""engine.nets.editing: path-based edits and the builder's structural edits, on specs as values."""

from __future__ import annotations

import pytest

from engine.nets.build import errors
from engine.nets.editing import (
    duplicate_layer,
    get_layer,
    insert_layer,
    move_layer,
    remove_layer,
    replace_layer,
)
from engine.nets.spec import (
    AvgPool2d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Flatten,
    Inception,
    Linear,
    MaxPool2d,
    NetworkSpec,
    ReLU,
    Residual,
    Tanh,
    walk,
)

# --------------------------------------------------------------------------------------------------- editing

NET = NetworkSpec((3, 16, 16), (
    Conv2d(8, padding=1),                                                   # (0,)
    Residual((Conv2d(8, padding=1), BatchNorm2d(), ReLU())),                # (1,) body (1, "body", 0..2)
    Inception(((Conv2d(4, 1),), (), (MaxPool2d(3, 1, 1), Conv2d(2, 1)))),  # (2,) branches (2, "branches", b, j)
    Flatten(),                                                              # (3,)
))


def kinds(layers) -> list[str]:
    return [layer.kind for layer in layers]


def test_walk_lists_every_layer_depth_first():
    assert [p for p, _ in walk(NET.layers)] == [
        (0,), (1,), (1, "body", 0), (1, "body", 1), (1, "body", 2), (2,), (2, "branches", 0, 0),
        (2, "branches", 2, 0), (2, "branches", 2, 1), (3,)]
    assert all(get_layer(NET, p) is layer for p, layer in walk(NET.layers))


def test_top_level_editing():
    assert kinds(insert_layer(NET, (1,), ReLU()).layers) == ["conv2d", "relu", "residual", "inception", "flatten"]
    assert kinds(insert_layer(NET, (4,), Linear()).layers)[-2:] == ["flatten", "linear"]
    assert kinds(remove_layer(NET, (0,)).layers) == ["residual", "inception", "flatten"]
    assert kinds(move_layer(NET, (3,), -2).layers) == ["conv2d", "flatten", "residual", "inception"]
    assert kinds(move_layer(NET, (0,), -5).layers) == kinds(NET.layers)  # clamped at the ends
    assert kinds(move_layer(NET, (0,), 99).layers) == ["residual", "inception", "flatten", "conv2d"]
    dup = duplicate_layer(NET, (0,))
    assert dup.layers[0] == dup.layers[1] == NET.layers[0] and dup.layers[2:] == NET.layers[1:]
    assert replace_layer(NET, (3,), Tanh()).layers == (*NET.layers[:3], Tanh())
    assert NET.input == (3, 16, 16) and len(NET.layers) == 4  # specs are values: the original is untouched


def test_editing_inside_a_residual_body():
    new = insert_layer(NET, (1, "body", 3), Conv2d(8, 1))
    assert kinds(new.layers[1].body) == ["conv2d", "batchnorm2d", "relu", "conv2d"]
    assert new.layers[0] == NET.layers[0] and new.layers[2:] == NET.layers[2:]
    assert new.layers[1].shortcut == NET.layers[1].shortcut
    assert kinds(remove_layer(NET, (1, "body", 1)).layers[1].body) == ["conv2d", "relu"]
    assert kinds(move_layer(NET, (1, "body", 2), -2).layers[1].body) == ["relu", "conv2d", "batchnorm2d"]
    assert kinds(duplicate_layer(NET, (1, "body", 2)).layers[1].body) == ["conv2d", "batchnorm2d", "relu", "relu"]
    assert replace_layer(NET, (1, "body", 0), Conv2d(8, 5, padding=2)).layers[1].body[0].kernel_size == 5
    emptied = NET
    for _ in range(3):
        emptied = remove_layer(emptied, (1, "body", 0))
    assert emptied.layers[1].body == () and errors(emptied) == []


def test_editing_inside_inception_branches():
    new = insert_layer(NET, (2, "branches", 1, 0), AvgPool2d(3, 1, 1))
    assert [kinds(b) for b in new.layers[2].branches] == [["conv2d"], ["avgpool2d"], ["maxpool2d", "conv2d"]]
    assert new.layers[:2] == NET.layers[:2] and new.layers[3:] == NET.layers[3:]
    moved = move_layer(NET, (2, "branches", 2, 1), -1)
    assert [kinds(b) for b in moved.layers[2].branches] == [["conv2d"], [], ["conv2d", "maxpool2d"]]
    removed = remove_layer(NET, (2, "branches", 0, 0))
    assert [kinds(b) for b in removed.layers[2].branches] == [[], [], ["maxpool2d", "conv2d"]]
    dup = duplicate_layer(NET, (2, "branches", 0, 0))
    assert [kinds(b) for b in dup.layers[2].branches] == [["conv2d", "conv2d"], [], ["maxpool2d", "conv2d"]]
    replaced = replace_layer(NET, (2, "branches", 2, 0), ReLU())
    assert replaced.layers[2].branches[2] == (ReLU(), Conv2d(2, 1))
    assert replaced.layers[2].branches[:2] == NET.layers[2].branches[:2]


def test_editing_nested_composites():
    spec = NetworkSpec((2, 8, 8), (Residual((Inception(((ReLU(),), (Tanh(),))),)),))
    path = (0, "body", 0, "branches", 1, 0)
    assert get_layer(spec, path) == Tanh()
    new = replace_layer(spec, path, Dropout())
    assert new.layers[0].body[0].branches == ((ReLU(),), (Dropout(),))
    assert get_layer(insert_layer(spec, (0, "body", 0, "branches", 0, 1), Tanh()), (0, "body", 0, "branches", 0, 1))


@pytest.mark.parametrize("path", [(), (9,), (-1,), (0, "body", 0), (1, "body"), (1, "branches", 0, 0), (2, "body", 0),
                                  (2, "branches", 5, 0), (2, "branches", -1, 0), (1, "body", 7), (1, "body", -1),
                                  ("0",), (0.0,)])
def test_a_path_that_addresses_no_layer_is_a_value_error(path):
    # a negative index would splice the wrong layers: remove (-1,) used to duplicate the whole network
    edits = (lambda: get_layer(NET, path), lambda: remove_layer(NET, path), lambda: replace_layer(NET, path, ReLU()),
             lambda: move_layer(NET, path, 1), lambda: duplicate_layer(NET, path))
    for edit in edits:
        with pytest.raises(ValueError, match="does not address a layer|cannot insert"):
            edit()


def test_insert_position_may_be_one_past_the_end_only():
    assert kinds(insert_layer(NET, (1, "body", 3), Tanh()).layers[1].body)[-1] == "tanh"
    for bad in [(5,), (-1,), (1, "body", 4)]:
        with pytest.raises(ValueError):
            insert_layer(NET, bad, Tanh())


# ------------------------------------------------------------------------------------------------ the builder's edits


def test_structural_edits_return_the_layer_to_select():
    from engine.nets import editing as E

    moved = E.move(NET, (3,), -1)
    assert kinds(moved.spec.layers)[2] == "flatten" and moved.selected == (2,)
    assert E.move(NET, (0,), -1).selected == (0,)  # clamped
    assert E.move(NET, (1, "body", 2), 5).selected == (1, "body", 2)
    copied = E.duplicate(NET, (2, "branches", 2, 0))
    assert kinds(copied.spec.layers[2].branches[2]) == ["maxpool2d", "maxpool2d", "conv2d"]
    assert copied.selected == (2, "branches", 2, 1)
    before, after = E.insert(NET, (1,), "tanh"), E.insert(NET, (1,), "tanh", after=True)
    assert kinds(before.spec.layers)[1] == "tanh" and before.selected == (1,)
    assert kinds(after.spec.layers)[2] == "tanh" and after.selected == (2,)
    appended = E.append(NET, "linear")
    assert appended.spec.layers[-1] == Linear() and appended.selected == (4,)


def test_removing_selects_the_neighbour_or_else_the_block():
    from engine.nets import editing as E

    assert E.remove(NET, (3,)).selected == (2,)  # the last one: the one before it
    assert E.remove(NET, (1,)).selected == (1,)  # the one now in its place
    only = E.remove(NET, (2, "branches", 0, 0))
    assert only.spec.layers[2].branches[0] == () and only.selected == (2,)  # the branch is empty: its block
    emptied = NET
    for _ in range(3):
        edit = E.remove(emptied, (1, "body", 0))
        emptied = edit.spec
    assert edit.selected == (1,)
    assert E.remove(NetworkSpec((1, 4, 4), (ReLU(),)), (0,)).selected is None


def test_adding_into_blocks_and_their_branches():
    from engine.nets import editing as E

    into_body = E.add_into(NET, (1,), "dropout")
    assert into_body.selected == (1, "body", 3) and into_body.spec.layers[1].body[-1] == Dropout()
    into_branch = E.add_into(NET, (2,), "relu", sequence=1)
    assert into_branch.selected == (2, "branches", 1, 0) and into_branch.spec.layers[2].branches[1] == (ReLU(),)
    grown = E.add_sequence(NET, (2,))
    assert len(grown.spec.layers[2].branches) == 4 and grown.spec.layers[2].branches[3] == (Conv2d(8, 1),)
    assert errors(grown.spec) == []  # the new branch fits: a 1×1 convolution
    shrunk = E.remove_sequence(NET, (2,), 0)
    assert shrunk.spec.layers[2].branches == NET.layers[2].branches[1:] and shrunk.selected == (2,)
    single = NetworkSpec((3, 8, 8), (Inception(((ReLU(),),)),))
    assert E.remove_sequence(single, (0,), 0).spec == single  # the last branch stays
    with pytest.raises(ValueError, match="fixed number"):
        E.add_sequence(NET, (1,))  # a residual block has one body
    with pytest.raises(ValueError, match="has no nested layers"):
        E.add_into(NET, (0,), "relu")
    with pytest.raises(ValueError, match="nested sequences"):
        E.add_into(NET, (2,), "relu", sequence=7)
