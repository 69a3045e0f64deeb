"""A trained network out of the playground: a download bundle, ONNX and TorchScript — each as ``bytes``.

- ``bundle``: a zip of ``model.safetensors`` (the state dict), ``spec.json`` (``engine.nets.spec`` JSON) and
  ``meta.json`` (the task and what its output means, classes, normalisation statistics, input shape);
  ``read_bundle`` turns it back into a network without unpickling anything. ``python -m engine codegen spec.json``
  writes a standalone module the weights load into.
- ``to_onnx``: ``torch.onnx.export``. The TorchScript-based exporter (``dynamo=False``) is the default: ~0.1 s
  against ~4 s for the ``torch.export``-based one on LeNet-5, same graph for these layer kinds; its deprecation
  warning is silenced here. A dynamic batch axis; input ``input``, output named by the task (``logits`` for
  classification).
- ``to_torchscript``: ``torch.jit.trace`` (every spec builds a straight-line network, so tracing is exact).
- ``export_run``: any of the three for a stored run of any task, with the run's own task, classes and statistics.

Exports run on a CPU copy of the model in eval mode; the model given is not changed.
"""

from __future__ import annotations

import copy
import io
import json
import warnings
import zipfile
from typing import Any

import torch
from safetensors.torch import save as st_save
from torch import nn

from engine.data.normalization import Normalization
from engine.nets.build import Network, build
from engine.nets.spec import NetworkSpec, SpecError
from engine.training.runs import CheckpointError, RunStore, read_safetensors
from engine.training.tasks import Classify, Task

BUNDLE_FORMAT = "cnnpg-bundle-1"
FORMATS = {"bundle": ".zip", "onnx": ".onnx", "torchscript": ".pt"}  # export_run's kinds and their file suffixes
MAX_BUNDLE_MEMBER = 2 << 30  # bytes: refuse to inflate a member larger than this (a zip bomb)
_README = """CNN Playground model bundle

  model.safetensors  the weights (a PyTorch state dict, safetensors format)
  spec.json          the network (CNN Playground spec JSON)
  meta.json          the task, what the output means, class names, the per-channel mean/std the inputs were
                     normalised with, the input shape

Load it with the playground's engine:
    from engine.training.export import read_bundle
    model, meta = read_bundle(open("bundle.zip", "rb").read())
or as plain PyTorch: `python -m engine codegen spec.json -o net.py`, then
    net = Net(); net.load_state_dict(safetensors.torch.load_file("model.safetensors"))
Inputs: float32 (B, C, H, W) of the input shape, (x / 255 - mean) / std per channel.
"""


def bundle(model: Network, *, classes: list[str] | tuple[str, ...] | None = None, stats: Any = None,
           task: Task | None = None) -> bytes:
    """A zip (bytes) of the model's weights (safetensors), its spec and ``meta.json``: ``task`` (default
    classification, with its options) and ``output`` (what the output means: ``Task.describe_output``),
    ``classes``, ``stats`` as ``{"mean": [...], "std": [...]}``, the input shape."""
    spec = _spec(model)
    task = task if task is not None else Classify()
    meta = {
        "format": BUNDLE_FORMAT,
        "task": task.to_dict(),
        "output": task.describe_output(list(classes or ())),
        "input_shape": list(spec.input),
        "classes": list(classes) if classes is not None else None,
        "stats": stats.to_dict() if (stats := Normalization.coerce(stats)) is not None else None,
    }
    weights = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("model.safetensors", st_save(weights, metadata={"format": BUNDLE_FORMAT}))
        zf.writestr("spec.json", spec.to_json())
        zf.writestr("meta.json", json.dumps(meta, indent=2, ensure_ascii=False))
        zf.writestr("README.txt", _README)
    return out.getvalue()


def read_bundle(data: bytes) -> tuple[Network, dict[str, Any]]:
    """The network (eval mode, CPU) and ``meta.json`` of a ``bundle``. ``ValueError`` for anything else."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            members = {i.filename: i for i in zf.infolist()}
            for name in ("model.safetensors", "spec.json", "meta.json"):
                if name not in members:
                    raise ValueError(f"not a model bundle: it has no {name}")
                if members[name].file_size > MAX_BUNDLE_MEMBER:
                    raise ValueError(f"not a model bundle: {name} would inflate to {members[name].file_size:,} bytes")
            weights, spec_text, meta_text = (zf.read(n) for n in ("model.safetensors", "spec.json", "meta.json"))
    except zipfile.BadZipFile as e:
        raise ValueError(f"not a model bundle: not a zip file ({e})") from None
    try:
        spec = NetworkSpec.from_json(spec_text)
        meta = json.loads(meta_text)
    except (SpecError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"not a model bundle: {e}") from None
    state, _ = read_safetensors(weights, "the bundle's model.safetensors")
    model = build(spec, seed=0)  # a private generator: the weights are replaced next
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise CheckpointError(f"the bundle's weights do not match its spec ({str(e).splitlines()[0]})") from None
    return model.eval(), meta


def to_onnx(model: Network, *, opset: int | None = None, dynamo: bool = False, output_name: str = "logits") -> bytes:
    """An ONNX model (bytes): input ``input`` ``(batch, *spec.input)`` float32, output ``output_name`` (a task's
    ``output_name``); dynamic batch."""
    net, x = _cpu_copy(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        if dynamo:
            program = torch.onnx.export(net, (x,), dynamo=True, input_names=["input"], output_names=[output_name],
                                        dynamic_shapes=({0: torch.export.Dim("batch")},), opset_version=opset)
            return program.model_proto.SerializeToString()
        out = io.BytesIO()
        torch.onnx.export(net, (x,), out, dynamo=False, input_names=["input"], output_names=[output_name],
                          dynamic_axes={"input": {0: "batch"}, output_name: {0: "batch"}}, opset_version=opset)
    return out.getvalue()


def to_torchscript(model: Network) -> bytes:
    """A TorchScript module (bytes, ``torch.jit.load``-able) traced from the model in eval mode."""
    net, x = _cpu_copy(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        traced = torch.jit.trace(net, x)
        out = io.BytesIO()
        torch.jit.save(traced, out)
    return out.getvalue()


def export_run(store: RunStore, run_id: str, kind: str) -> bytes:
    """Run ``run_id``'s network (its last checkpoint) as ``kind``: "bundle" (with the run's task, classes and
    statistics in ``meta.json``), "onnx" (output named by the run's task) or "torchscript"."""
    if kind not in FORMATS:
        raise ValueError(f"kind must be one of {', '.join(FORMATS)}, got {kind!r}")
    run = store.get(run_id)
    model = store.load_model(run_id)
    if kind == "bundle":
        return bundle(model, classes=run.config["dataset"]["classes"], stats=run.config.get("stats"), task=run.task)
    if kind == "onnx":
        return to_onnx(model, output_name=run.task.output_name)
    return to_torchscript(model)


def _cpu_copy(model: Network) -> tuple[nn.Module, torch.Tensor]:
    """A CPU copy in eval mode, and an example batch of two for its input."""
    spec = _spec(model)
    net = copy.deepcopy(model).to("cpu").eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net, torch.zeros(2, *spec.input)


def _spec(model: Network) -> NetworkSpec:
    spec = getattr(model, "spec", None)
    if not isinstance(spec, NetworkSpec):
        raise ValueError(f"export needs an engine.nets.build.Network (it knows its spec), got {type(model).__name__}")
    return spec
