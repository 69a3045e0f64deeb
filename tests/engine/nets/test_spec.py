"""engine.nets.spec: the kinds' registry, lossless JSON and share tokens."""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import dataclass, fields
from typing import ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.nets.build import errors
from engine.nets.presets import get_preset, preset_names
from engine.nets.spec import (
    KINDS,
    AvgPool2d,
    Conv2d,
    Dropout,
    Flatten,
    Inception,
    LayerSpec,
    Linear,
    MaxPool2d,
    NetworkSpec,
    ReLU,
    Residual,
    SpecError,
    Tanh,
    default_layer,
    layer_from_dict,
    parse_spec,
    register,
)

# --------------------------------------------------------------------------------------------------- strategies

# any value a hand-edited JSON file could put in an argument: right, wrong, and wrong in type
scalars = st.one_of(
    st.integers(-3, 40), st.integers(), st.floats(allow_nan=False), st.booleans(), st.none(),
    st.sampled_from(["same", "valid", "zeros", "reflect", "identity", "projection", "abc", "ü 3×3"]),
)
values = st.one_of(scalars, st.tuples(st.integers(0, 9), st.integers(0, 9)), st.lists(scalars, max_size=3).map(tuple))
LEAF_KINDS = sorted(k for k, cls in KINDS.items() if not cls().children())


@st.composite
def leaf_layers(draw) -> LayerSpec:
    cls = KINDS[draw(st.sampled_from(LEAF_KINDS))]
    names = [f.name for f in fields(cls)]
    chosen = draw(st.lists(st.sampled_from(names), unique=True)) if names else []
    return cls(**{name: draw(values) for name in chosen})


def _composite(children):
    sequences = st.lists(children, max_size=3).map(tuple)
    return st.one_of(
        st.builds(Residual, sequences, st.sampled_from(["identity", "projection", "other"])),
        st.builds(Inception, st.lists(sequences, max_size=3).map(tuple)),
    )


layers = st.recursive(leaf_layers(), _composite, max_leaves=8)
specs = st.builds(NetworkSpec, st.lists(st.integers(1, 64), min_size=1, max_size=4).map(tuple),
                  st.lists(layers, max_size=5).map(tuple))


def strict(obj):
    """``repr`` tells 1 from 1.0 and True, and a tuple from a list, where dataclass ``==`` does not."""
    return repr(obj)


# --------------------------------------------------------------------------------------------------- JSON


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs)
def test_json_round_trip_is_lossless(spec):
    for full in (False, True):
        text = spec.to_json(full=full)
        back = NetworkSpec.from_json(text)
        assert strict(back) == strict(spec)
        assert hash(back) == hash(spec)
        assert NetworkSpec.from_json(back.to_json(indent=None, full=full)).to_json(full=full) == text
    assert strict(NetworkSpec.from_token(spec.to_token())) == strict(spec)
    assert set(spec.to_token()) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_compact_json_writes_what_differs_from_torch_and_what_torch_requires():
    spec = NetworkSpec((3, 32, 32), (Conv2d(16, padding=1), MaxPool2d(), Linear(10, bias=False), ReLU()))
    assert spec.to_dict() == {"input": [3, 32, 32], "layers": [
        {"kind": "conv2d", "out_channels": 16, "kernel_size": 3, "padding": 1}, {"kind": "maxpool2d", "kernel_size": 2},
        {"kind": "linear", "out_features": 10, "bias": False}, {"kind": "relu"}]}
    full = spec.to_dict(full=True)["layers"][0]
    assert full == {"kind": "conv2d", "out_channels": 16, "kernel_size": 3, "stride": 1, "padding": 1, "dilation": 1,
                    "groups": 1, "bias": True, "padding_mode": "zeros"}


@pytest.mark.parametrize("layer", [Conv2d(stride=1.0), Conv2d(bias=1), Conv2d(dilation=True), Conv2d(padding=(0,)),
                                   MaxPool2d(kernel_size=2.0), Dropout(p=True)])
def test_a_value_equal_to_the_default_but_not_valid_survives_json(layer):
    # 1.0 == 1 and True == 1 in Python: dropping such a value as "the default" would silently repair the spec
    spec = NetworkSpec((1, 8, 8), (layer,))
    back = NetworkSpec.from_json(spec.to_json())
    assert strict(back) == strict(spec)
    assert errors(back) == errors(spec) != []


def test_tuples_come_back_as_tuples():
    spec = NetworkSpec((3, 9, 9), (Conv2d(4, (3, 1), (1, 2), (1, 0), (2, 1)),
                                   Inception(((Conv2d(2, (1, 3)),), ())), Residual((AvgPool2d((3, 3), 1, (1, 1)),))))
    back = NetworkSpec.from_json(spec.to_json())
    assert back == spec and hash(back) == hash(spec)
    assert back.input == (3, 9, 9) and isinstance(back.input, tuple)
    conv = back.layers[0]
    assert all(type(v) is tuple for v in (conv.kernel_size, conv.stride, conv.padding, conv.dilation))
    assert type(back.layers[1].branches) is tuple and all(type(b) is tuple for b in back.layers[1].branches)
    assert type(back.layers[2].body) is tuple and back.layers[2].body[0].padding == (1, 1)


FROM_JSON_ERRORS = [
    ('{"layers": [{"kind": "conv2d"}, {"kind": "conv3d"}]}', "layer #2: unknown kind 'conv3d'"),
    ('{"layers": [{"out_channels": 3}]}', "layer #1: unknown kind None"),
    ('{"layers": [{"kind": ["conv2d"]}]}', "layer #1: unknown kind ['conv2d']"),
    ('{"layers": [{"kind": "relu"}, {"kind": "conv2d", "channels": 3}]}',
     "layer #2 (conv2d): unknown argument 'channels'; valid: out_channels, kernel_size"),
    ('{"layers": [{"kind": "residual", "body": [{"kind": "relu"}, {"kind": "relu", "slope": 1}]}]}',
     "layer #1 (residual).body[1] (relu): unknown argument 'slope'"),
    ('{"layers": [{"kind": "inception", "branches": [[], [{"kind": "pool"}]]}]}',
     "layer #1 (inception).branches[1][0]: unknown kind 'pool'"),
    ('{"layers": [{"kind": "inception", "branches": {"a": 1}}]}', "layer #1 (inception).branches: expected a list"),
    ('{"layers": [{"kind": "residual", "body": {"kind": "relu"}}]}', "layer #1 (residual).body: expected a list"),
    ('{"layers": [{"kind": "conv2d", "padding": {"h": 1}}]}', "layer #1 (conv2d).padding: expected a number"),
    ('{"layers": ["conv2d"]}', "layer #1: expected an object"),
    ('{"layers": {"kind": "relu"}}', "layers: expected a list"),
    ('{"input": [3, 0, 8]}', "input: expected a list of positive integers"),
    ('{"input": [true, 8, 8]}', "input: expected a list of positive integers"),
    ('{"input": "3x8x8"}', "input: expected a list of positive integers"),
    ('{"input": [3, 8, 8], "layer": []}', "unknown top-level key(s) ['layer']"),
    ("[1, 2]", "a spec is an object"),
    ('{"layers": [', "not valid JSON"),
    ("", "not valid JSON"),
    (b"\xff\xfe\x00garbage", "not valid JSON"),
    ("[" * 100_000, "not valid JSON"),
]


@pytest.mark.parametrize(("text", "message"), FROM_JSON_ERRORS)
def test_from_json_errors_name_the_layer(text, message):
    with pytest.raises(SpecError) as info:
        NetworkSpec.from_json(text)
    assert message in str(info.value)


def test_missing_required_argument_is_named():
    # every built-in argument has a default; a block kind added later may not
    @register
    @dataclass(frozen=True)
    class _Needs(LayerSpec):
        kind: ClassVar[str] = "_needs_test"
        size: int

    try:
        with pytest.raises(SpecError, match=r"layer #1 \(_needs_test\): missing argument 'size'"):
            NetworkSpec.from_json('{"layers": [{"kind": "_needs_test"}]}')
        assert NetworkSpec.from_json('{"layers": [{"kind": "_needs_test", "size": 2}]}').layers[0].size == 2
    finally:
        KINDS._entries.pop("_needs_test")  # a test-only kind: take it out again
        KINDS._tags.pop("_needs_test")


@pytest.mark.parametrize("token", ["", "!!!!", "abc", "é", "AAAA", base64.urlsafe_b64encode(b"not zlib").decode(),
                                   NetworkSpec((1, 8, 8), (ReLU(),)).to_token()[:-4],
                                   base64.urlsafe_b64encode(zlib.compress(b"{not json")).decode(),
                                   base64.urlsafe_b64encode(zlib.compress(b'{"layers": [{"kind": 1}]}')).decode(),
                                   base64.urlsafe_b64encode(zlib.compress(b"[" * 200_000)).decode(),
                                   base64.urlsafe_b64encode(zlib.compress(b" " * (3 << 20))).decode()])
def test_from_token_of_garbage_is_a_spec_error(token):
    with pytest.raises(SpecError):
        NetworkSpec.from_token(token)


def test_token_is_compact_and_padding_free():
    spec = NetworkSpec((3, 32, 32), tuple(default_layer(k) for k in KINDS))
    token = spec.to_token()
    assert "=" not in token and len(token) < len(spec.to_json(indent=None))
    assert NetworkSpec.from_token(token) == spec


def test_parse_spec_accepts_a_spec_a_dict_or_text():
    spec = NetworkSpec((1, 8, 8), (Conv2d(2), Tanh()))
    assert parse_spec(spec) is spec
    assert parse_spec(spec.to_dict()) == parse_spec(spec.to_json()) == parse_spec(json.loads(spec.to_json())) == spec
    assert NetworkSpec.from_dict({}) == NetworkSpec()


# --------------------------------------------------------------------------------------------------- registry


def test_registry_refuses_a_second_class_for_a_kind():
    class Again(LayerSpec):
        kind = "conv2d"

    with pytest.raises(ValueError, match="'conv2d' is already registered"):
        register(Again)
    assert KINDS["conv2d"] is Conv2d


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_has_a_usable_default(kind):
    layer = default_layer(kind)
    assert layer.kind == kind and KINDS[kind].label and KINDS[kind].torch_name
    tail = (Flatten(),) if kind not in ("flatten", "linear") else ()
    head = (Flatten(),) if kind == "linear" else ()
    assert errors(NetworkSpec((3, 16, 16), (*head, layer, *tail))) == []
    assert layer_from_dict({"kind": kind}) == KINDS[kind]()


def _torch_required(layer: dict) -> set[str]:
    """The arguments torch's constructor of this layer requires and that are not inferred from the input."""
    import inspect

    from torch import nn

    cls = getattr(nn, KINDS[layer["kind"]].torch_name, None)
    if cls is None:
        return set()
    inferred = {"in_channels", "in_features", "num_features"}
    return {n for n, p in inspect.signature(cls).parameters.items()
            if p.default is inspect.Parameter.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)} - inferred


def _layer_dicts(layers: list) -> list[dict]:
    out = []
    for layer in layers:
        out.append(layer)
        for value in layer.values():
            if isinstance(value, list) and value and isinstance(value[0], dict):
                out += _layer_dicts(value)
            elif isinstance(value, list) and value and isinstance(value[0], list):
                for branch in value:
                    out += _layer_dicts(branch)
    return out


@pytest.mark.parametrize("name", preset_names())
def test_exported_json_passes_every_argument_torch_requires_and_builds_the_same_module(name):
    import torch
    from torch import nn

    from engine.nets.build import build

    spec = get_preset(name)
    data = json.loads(spec.to_json())
    for layer in _layer_dicts(data["layers"]):
        missing = _torch_required(layer) - set(layer)
        assert not missing, f"{layer['kind']} written without {missing}"
        cls = getattr(nn, KINDS[layer["kind"]].torch_name, None)
        if cls is not None:  # plain PyTorch reads the written arguments as they are
            import inspect

            params = inspect.signature(cls).parameters
            assert set(layer) - {"kind"} <= set(params)
    again = NetworkSpec.from_dict(data)
    assert again == spec
    a, b = build(spec, seed=1), build(again, seed=1)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))
