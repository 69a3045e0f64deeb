"""A look inside a network: its first layer's filters and the feature maps every layer produces for one input.

After CNN Explainer (Wang et al., "CNN Explainer: Learning Convolutional Neural Networks with Interactive
Visualization", IEEE VIS 2020): every convolutional layer's output is a stack of 2-D maps, one per filter, and seeing
them for a real input shows what each filter responds to. The first layer's filters, drawn as small images, show the
edge and colour detectors a trained network learns (Krizhevsky et al., "ImageNet Classification with Deep
Convolutional Neural Networks", 2012, figure 3; Zeiler & Fergus, "Visualizing and Understanding Convolutional
Networks", 2014).

``feature_maps`` records the maps with forward hooks — the network runs unchanged, exactly as in prediction — and
names each layer as the builder and the summary do ("conv2d #4", "conv2d #3.2" inside a residual block). Outputs are
copied as they are produced: an in-place activation after a convolution would otherwise overwrite its maps.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from engine.device import model_device
from engine.nets.build import Node, path_index, trace

KINDS_CONV = ("conv2d",)  # layers whose maps "feature_maps" records by default
FeatureMaps = list[tuple[str, torch.Tensor]]  # (layer name, (B, C, H, W) float32 CPU tensor), in forward order


@dataclass(frozen=True)
class Filters:
    """A convolution's weights ``(K, C/groups, kh, kw)`` (a detached CPU copy) and the layer's name."""

    name: str
    weight: torch.Tensor

    @property
    def rgb(self) -> bool:
        """Whether each filter can be drawn as a colour image: it sees three input channels."""
        return self.weight.shape[1] == 3


def layer_modules(model: nn.Module, kinds: Iterable[str] | None = KINDS_CONV) -> list[tuple[str, nn.Module]]:
    """The leaf layers of ``model`` whose spec kind is in ``kinds`` (None: every leaf layer), named like the summary
    ("conv2d #4"), in forward order; a projection shortcut's convolution is "conv2d #3.shortcut". A plain
    ``nn.Module`` without a spec: its ``nn.Conv2d`` modules (any leaf when ``kinds`` is None), by qualified name."""
    kinds = None if kinds is None else tuple(kinds)
    spec = getattr(model, "spec", None)
    if spec is None:
        return [(name, m) for name, m in model.named_modules()
                if not list(m.children()) and name and (kinds is None or isinstance(m, nn.Conv2d))]
    out = []
    for node in _leaves(trace(spec)):
        module = model.get_submodule(_qualified(node.path))
        if kinds is None or node.layer.kind in kinds:
            out.append((node.name, module))
    for name, module in model.named_modules():  # convolutions of projection shortcuts (not layers of the spec)
        if ".shortcut." in f".{name}." and isinstance(module, nn.Conv2d) and (kinds is None or "conv2d" in kinds):
            block = name.split(".shortcut")[0]
            out.append((f"conv2d #{_human(block)}.shortcut", module))
    return _forward_order(model, out)


def feature_maps(model: nn.Module, x: torch.Tensor, kinds: Iterable[str] | None = KINDS_CONV) -> FeatureMaps:
    """Run ``model`` on ``x`` ``(B, *input)`` — adapted and normalised as in training (``engine.data.adapt_batch``) —
    in eval mode without gradients, and return the output of each layer of ``kinds`` (default: every convolution;
    None: every leaf layer) whose output is an image stack: ``(name, (B, C, H, W) float32 CPU tensor)``, in the order
    the layers ran. The model's mode and hooks are left as they were; a model in eval mode may be shared with other
    threads meanwhile (each call records only its own pass)."""
    if x.ndim != 4:
        raise ValueError(f"x must be a batch (B, C, H, W), got shape {tuple(x.shape)}")
    layers = layer_modules(model, kinds)
    names = {id(m): name for name, m in layers}
    recorded: FeatureMaps = []
    caller = threading.get_ident()

    def hook(module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
        # A model shared read-only between sessions may run in another thread while these hooks are on: record only
        # this call's own forward pass (it runs in this thread).
        if threading.get_ident() == caller and isinstance(output, torch.Tensor) and output.ndim == 4:
            recorded.append((names[id(module)], output.detach().float().cpu().clone()))  # clone: in-place layers

    handles = [m.register_forward_hook(hook) for m in {id(m): m for _, m in layers}.values()]
    training = model.training
    try:
        model.eval()
        with torch.inference_mode():
            model(x.to(model_device(model)))
    finally:
        for h in handles:
            h.remove()
        model.train(training)
    return recorded


def first_layer_filters(model: nn.Module) -> Filters:
    """The first convolution's filters (the first one the input meets). ValueError when there is none."""
    convs = layer_modules(model, KINDS_CONV)
    if not convs:
        raise ValueError("the network has no convolutional layer, so there are no filters to show")
    name, conv = convs[0]
    return Filters(name, conv.weight.detach().float().cpu().clone())


def filter_images(weight: torch.Tensor, per_filter: bool = True) -> torch.Tensor:
    """Filters ``(K, C, kh, kw)`` as pictures ``(K, C, kh, kw)`` in [0, 1]: each filter (or all of them together when
    ``per_filter`` is False, which keeps their relative strengths) shifted and scaled so that its lowest weight is 0
    and its highest 1; a constant filter is 0.5 grey."""
    if weight.ndim != 4:
        raise ValueError(f"weight must be (K, C, kh, kw), got shape {tuple(weight.shape)}")
    w = weight.detach().float()
    dims = (1, 2, 3) if per_filter else (0, 1, 2, 3)
    lo, hi = w.amin(dim=dims, keepdim=True), w.amax(dim=dims, keepdim=True)
    span = hi - lo
    return torch.where(span > 0, (w - lo) / span.clamp_min(1e-12), torch.full_like(w, 0.5))


def strongest_channels(maps: torch.Tensor, n: int) -> list[int]:
    """Indices of the ``n`` channels of one sample's maps ``(C, H, W)`` with the largest mean activation, strongest
    first (ties by index)."""
    if maps.ndim != 3:
        raise ValueError(f"maps must be (C, H, W), got shape {tuple(maps.shape)}")
    means = maps.float().mean(dim=(1, 2))
    order = sorted(range(len(means)), key=lambda c: (-float(means[c]), c))
    return order[: max(0, n)]


def shrink(maps: torch.Tensor, max_side: int) -> torch.Tensor:
    """Maps ``(..., H, W)`` averaged down (area interpolation) so that neither side exceeds ``max_side``, for drawing;
    unchanged when they are small enough."""
    h, w = maps.shape[-2:]
    if max(h, w) <= max_side:
        return maps
    scale = max_side / max(h, w)
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    flat = maps.reshape(-1, 1, h, w).float()
    return torch.nn.functional.interpolate(flat, size=size, mode="area").reshape(*maps.shape[:-2], *size)


def spread(n: int, k: int) -> list[int]:
    """At most ``k`` of the indices ``0..n−1``, evenly spread, the first and the last included (which layers an
    overview across ``n`` layers shows)."""
    if n < 0 or k < 1:
        raise ValueError(f"need n ≥ 0 and k ≥ 1, got n={n}, k={k}")
    if n <= k:
        return list(range(n))
    if k == 1:
        return [0]
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)})


# --------------------------------------------------------------------------------------------------- helpers


def _leaves(nodes: list[Node]) -> list[Node]:
    """The traced layers that are modules of their own (composites' children, not the composites)."""
    out = []
    for node in nodes:
        for n in node.flat():
            if not n.children:
                out.append(n)
    return out


def _qualified(path: tuple) -> str:
    """A layer path ((3, "body", 1) or (5, "branches", 2, 0)) as the module's qualified name in the network."""
    return ".".join(str(p) for p in path)


def _human(qualified: str) -> str:
    """A qualified module name ("3.body.1") as the summary's layer index ("4.2")."""
    path = tuple(int(p) if p.isdigit() else p for p in qualified.split("."))
    return path_index(path)


def _forward_order(model: nn.Module, layers: list[tuple[str, nn.Module]]) -> list[tuple[str, nn.Module]]:
    """``layers`` in the order their modules are registered in ``model`` (the order the forward runs them, for the
    spec's sequential networks; a block's shortcut after its body)."""
    rank = {id(m): i for i, (_, m) in enumerate(model.named_modules(remove_duplicate=False))}
    return sorted(layers, key=lambda nm: rank.get(id(nm[1]), len(rank)))

