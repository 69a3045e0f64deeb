"""engine.nets.limits: the hostile specs of issue 9 are refused before anything is built, with a message naming the
limit, its value and how far over the spec is (docs/layer-kinds.md, "Limits")."""

from __future__ import annotations

import base64
import json
import time
import tracemalloc
import zlib

import pytest

from engine.nets.build import build
from engine.nets.codegen import codegen
from engine.nets.limits import LimitError, limits
from engine.nets.spec import NetworkSpec, Residual, SpecError
from engine.nets.summary import summary


def nested(depth: int, inner: dict | None = None) -> dict:
    layers = [inner or {"kind": "relu"}]
    for _ in range(depth):
        layers = [{"kind": "residual", "body": layers}]
    return {"input": [1, 8, 8], "layers": layers}


def nested_spec(depth: int) -> NetworkSpec:
    """Built in memory, as the builder's edits build it: parsing's check never sees it."""
    layers = (NetworkSpec.from_dict({"layers": [{"kind": "relu"}]}).layers[0],)
    for _ in range(depth):
        layers = (Residual(body=layers),)
    return NetworkSpec((1, 8, 8), layers)


def test_a_linear_layer_of_a_billion_outputs_is_refused_naming_the_limit():
    data = {"input": [1, 8, 8], "layers": [{"kind": "flatten"}, {"kind": "linear", "out_features": 10**9}]}
    message = "out_features is 1,000,000,000; the limit is 65,536 (15,258.8 times the limit)"
    assert summary(data).errors == (f"linear #2: {message}",)  # the builder holds it and says why
    with pytest.raises(SpecError) as e:
        build(data)
    assert message in str(e.value)


@pytest.mark.parametrize("shape", [[3, 100000, 100000], [3, 10**18, 10**18]])
def test_a_huge_input_is_refused_before_any_layer_is_read(shape):
    with pytest.raises(LimitError, match=r"the input's height is [\d,]+; the limit is 4,096"):
        NetworkSpec.from_json(json.dumps({"input": shape, "layers": [{"kind": "conv2d", "out_channels": 4,
                                                                      "kernel_size": 3}]}))


def test_ten_thousand_layers_in_a_share_link_are_refused_fast():
    token = base64.urlsafe_b64encode(zlib.compress(json.dumps(
        {"input": [1, 8, 8], "layers": [{"kind": "conv2d", "out_channels": 4, "kernel_size": 3, "padding": 1},
                                        {"kind": "relu"}] * 5000}).encode(), 9)).decode()
    assert len(token) < 4000
    start = time.perf_counter()
    with pytest.raises(LimitError) as e:
        NetworkSpec.from_token(token)
    assert time.perf_counter() - start < 0.5
    assert str(e.value) == ("the number of layers (nested ones counted) is 10,000; the limit is 1,000 "
                            "(10.0 times the limit)")


def test_a_share_link_of_residual_blocks_nested_200_deep_gives_a_message_not_a_recursion_error():
    token = NetworkSpec.from_dict(nested(20)).to_token()  # the link itself is made here within the limits
    deep = base64.urlsafe_b64encode(zlib.compress(json.dumps(nested(200), separators=(",", ":")).encode(), 9))
    assert len(deep) < 300 and token
    with pytest.raises(LimitError, match=r"the nesting of composite blocks is 200 levels; the limit is 32 levels"):
        NetworkSpec.from_token(deep.decode())


def test_residual_blocks_nested_500_deep_are_refused_by_every_entry_point():
    with pytest.raises(LimitError, match="is 500 levels; the limit is 32 levels"):
        NetworkSpec.from_dict(nested(500))
    spec = nested_spec(500)
    s = summary(spec)  # the builder's summary: a message, not a RecursionError
    assert not s.ok and s.errors == ("the nesting of composite blocks is 500 levels; the limit is 32 levels "
                                     "(15.6 times the limit)",)
    with pytest.raises(LimitError, match="500 levels"):
        build(spec)
    with pytest.raises(LimitError, match="500 levels"):
        codegen(spec)


def test_ten_thousand_layers_built_in_memory_are_refused_by_summary_and_build():
    spec = NetworkSpec.from_dict({"input": [1, 8, 8], "layers": [{"kind": "relu"}] * 1000})
    spec = NetworkSpec(spec.input, spec.layers * 10)
    assert "10,000; the limit is 1,000" in summary(spec).errors[0]
    with pytest.raises(LimitError, match="10,000"):
        build(spec)


@pytest.mark.parametrize("depth", [1, 16, 32])
def test_generated_source_of_deeply_nested_blocks_compiles(depth):
    source = codegen(nested(depth, {"kind": "conv2d", "out_channels": 1, "kernel_size": 3, "padding": 1}))
    compile(source, "network.py", "exec")


def test_parameters_over_the_limit_are_refused_before_anything_is_allocated():
    data = {"input": [1, 64, 64], "layers": [{"kind": "flatten"}, {"kind": "linear", "out_features": 65536}]}
    s = summary(data)  # 4,096 × 65,536 weights: within each number's limit, over the parameter limit
    assert s.errors == ("the network's parameter count is 268,500,992; the limit is 200,000,000 "
                        "(68,500,992 over)",)
    tracemalloc.start()
    with pytest.raises(LimitError, match="parameter count"):
        build(data)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 50 << 20


def test_activation_memory_over_the_limit_is_refused():
    data = {"input": [1, 4096, 4096], "layers": [{"kind": "conv2d", "out_channels": 65, "kernel_size": 1}]}
    message = ("the activation memory for one image is 4,362,076,160 bytes; the limit is 4,294,967,296 bytes "
               "(67,108,864 bytes over)")
    with pytest.raises(LimitError) as e:
        build(data)
    assert str(e.value) == message
    assert summary(data).errors == (message,)


def test_limits_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("CNNPG_MAX_LAYERS", "5")
    monkeypatch.setenv("CNNPG_MAX_DEPTH", "2")
    assert (limits().layers, limits().depth) == (5, 2)
    with pytest.raises(LimitError, match="is 6; the limit is 5 "):
        NetworkSpec.from_dict({"layers": [{"kind": "relu"}] * 6})
    NetworkSpec.from_dict({"layers": [{"kind": "relu"}] * 5})
    with pytest.raises(LimitError, match="is 3 levels; the limit is 2 levels"):
        NetworkSpec.from_dict(nested(3))
    monkeypatch.setenv("CNNPG_MAX_DEPTH", "nonsense")
    assert limits().depth == 32


def test_a_five_thousand_digit_integer_is_a_message():
    text = '{"input": [1, 8, 8], "layers": [{"kind": "linear", "out_features": %s}]}' % ("9" * 5000)
    with pytest.raises(SpecError, match="far too large"):
        NetworkSpec.from_json(text)
    s = summary({"input": [1, 8, 8], "layers": [{"kind": "flatten"}, {"kind": "linear", "out_features": 10**4999}]})
    assert s.errors == ("linear #2: out_features is a number of 5,000 digits; the limit is 65,536 (far past the "
                        "limit)",)


def test_a_float_past_two_to_the_53_is_refused():
    s = summary({"input": [3, 8, 8], "layers": [{"kind": "batchnorm2d", "eps": 1e20}]})
    assert s.errors == ("batchnorm2d #1: eps is 1e+20; a number in a layer may be at most 2^53 (about 9.0e15)",)


def test_an_infinite_eps_is_refused():
    spec = NetworkSpec.from_json('{"input": [3, 8, 8], "layers": [{"kind": "batchnorm2d", "eps": Infinity}]}')
    with pytest.raises(SpecError, match="eps must be a number > 0, got inf"):
        build(spec)


def test_a_link_that_inflates_past_the_cap_is_refused_while_inflating():
    token = base64.urlsafe_b64encode(zlib.compress(b" " * (200 << 20), 9)).decode()  # inflates to 200 MB
    tracemalloc.start()
    start = time.perf_counter()
    with pytest.raises(SpecError, match="larger than 1 MB"):
        NetworkSpec.from_token(token)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 16 << 20 and time.perf_counter() - start < 5


@pytest.mark.parametrize("slope", ["Infinity", "-Infinity", "NaN"])
def test_a_leaky_relu_slope_that_is_not_finite_is_refused(slope):
    layer = f'{{"kind": "leakyrelu", "negative_slope": {slope}}}'
    spec = NetworkSpec.from_json(f'{{"input": [3, 8, 8], "layers": [{layer}]}}')
    assert summary(spec).errors == (f"leakyrelu #1: negative_slope must be a finite number, got "
                                    f"{float(slope.replace('Infinity', 'inf'))!r}",)
    with pytest.raises(SpecError, match="negative_slope must be a finite number"):
        build(spec)
