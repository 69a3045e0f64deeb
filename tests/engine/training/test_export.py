"""``engine.training.export``: ONNX (run by onnxruntime), TorchScript and the download bundle all compute what the model
computes."""

from __future__ import annotations

import io
import json
import warnings
import zipfile

import numpy as np
import pytest
import torch

from engine.nets.build import build
from engine.nets.presets import get_preset
from engine.nets.spec import NetworkSpec
from engine.training.export import bundle, read_bundle, to_onnx, to_torchscript

RESIDUAL = NetworkSpec.from_dict({"input": [3, 16, 16], "layers": [
    {"kind": "conv2d", "out_channels": 8, "padding": 1}, {"kind": "batchnorm2d"}, {"kind": "relu"},
    {"kind": "residual", "body": [{"kind": "conv2d", "out_channels": 8, "padding": 1}, {"kind": "batchnorm2d"},
                                  {"kind": "relu", "inplace": True}]},
    {"kind": "adaptiveavgpool2d"}, {"kind": "flatten"}, {"kind": "dropout"}, {"kind": "linear", "out_features": 5},
]})
SPECS = {"lenet5": get_preset("lenet5"), "residual": RESIDUAL}


def _model(spec: NetworkSpec) -> torch.nn.Module:
    torch.manual_seed(0)
    model = build(spec)
    for m in model.modules():  # non-trivial batch-norm statistics, so eval mode matters
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    return model


def _input(spec: NetworkSpec, batch: int = 3) -> torch.Tensor:
    return torch.randn(batch, *spec.input, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("name", SPECS)
def test_onnx_runs_like_torch(name: str) -> None:
    ort = pytest.importorskip("onnxruntime")
    spec = SPECS[name]
    model = _model(spec).train()  # exporting must not depend on (or change) the mode it is in
    data = to_onnx(model)
    assert model.training
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["input"]
    x = _input(spec, batch=3)  # exported with a batch of 2: the batch axis is dynamic
    (got,) = session.run(["logits"], {"input": x.numpy()})
    with torch.no_grad():
        want = model.eval()(x).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_onnx_is_a_valid_model() -> None:
    onnx = pytest.importorskip("onnx")
    proto = onnx.load_from_string(to_onnx(_model(get_preset("lenet5"))))
    onnx.checker.check_model(proto)
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and [d.dim_value for d in dims[1:]] == [1, 32, 32]


@pytest.mark.parametrize("name", SPECS)
def test_torchscript_runs_like_torch(name: str) -> None:
    spec = SPECS[name]
    model = _model(spec).eval()
    data = to_torchscript(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        scripted = torch.jit.load(io.BytesIO(data))
    x = _input(spec)
    with torch.no_grad():
        assert torch.allclose(scripted(x), model(x), atol=1e-6)


def test_bundle_round_trip() -> None:
    model = _model(RESIDUAL)
    data = bundle(model, classes=list("abcde"), stats=((0.1, 0.2, 0.3), (0.4, 0.5, 0.6)))
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert set(zf.namelist()) == {"model.safetensors", "spec.json", "meta.json", "README.txt"}
        assert NetworkSpec.from_json(zf.read("spec.json")) == RESIDUAL
        meta = json.loads(zf.read("meta.json"))
    assert meta["classes"] == list("abcde") and meta["input_shape"] == [3, 16, 16]
    assert meta["stats"]["mean"] == pytest.approx([0.1, 0.2, 0.3])
    loaded, meta2 = read_bundle(data)
    assert meta2 == meta and not loaded.training
    x = _input(RESIDUAL)
    with torch.no_grad():
        assert torch.equal(loaded(x), model.eval()(x))


def test_read_bundle_rejects_other_files() -> None:
    with pytest.raises(ValueError, match="not a zip file"):
        read_bundle(b"not a zip")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("spec.json", "{}")
    with pytest.raises(ValueError, match="no model.safetensors"):
        read_bundle(buf.getvalue())
    model = _model(get_preset("lenet5"))
    good = zipfile.ZipFile(io.BytesIO(bundle(model)))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in ("spec.json", "meta.json"):
            zf.writestr(name, good.read(name))
        zf.writestr("model.safetensors", b"\x80\x04pickle")
    with pytest.raises(ValueError, match="not a safetensors file"):
        read_bundle(buf.getvalue())


def test_export_needs_a_network() -> None:
    with pytest.raises(ValueError, match="engine.nets.build.Network"):
        to_onnx(torch.nn.Linear(2, 2))
