"""Sliding windows, and the same windows computed at once by a fully convolutional network (course notes 1.3.3–1.3.4).

A classifier that takes ``n``×``n`` images can look for an object in a larger image by cropping every ``n``×``n`` window
``s`` pixels apart and classifying each crop: one forward pass per window, and neighbouring windows recompute almost
the same convolutions. Sermanet et al., "OverFeat: Integrated Recognition, Localization and Detection using
Convolutional Networks" (2014), observed that the fully connected layers are convolutions in disguise: a linear layer
of ``u`` units on a ``C×h×w`` volume is a convolution with ``u`` filters of size ``h×w``, and every later linear layer
a 1×1 convolution. The converted network takes the larger image whole and gives one class-score vector per window, in
one pass, sharing the overlapping work. Its windows are the network's input size apart by the product of the trunk's
strides; other window sizes are had by resizing the image (an image pyramid).

The equality is exact when the trunk pads nothing: then every output cell of the converted network computes what the
classifier computes on its window. With padding, cells near a window's edge see the real neighbouring pixels instead of
zeros, so the two score maps differ near the edges (``ScoreMap``s of both are still computed; the page says so).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from engine.data import Normalization, adapt_batch
from engine.device import model_device
from engine.nets.build import Network, build
from engine.nets.spec import Conv2d, Flatten, Linear, NetworkSpec, walk
from engine.nets.summary import summary

ELEMENTWISE = ("relu", "relu6", "leakyrelu", "sigmoid", "tanh", "dropout")  # may sit between the linear layers
BATCH = 256


@dataclass(frozen=True)
class ScoreMap:
    """Class probabilities of every window: ``probs`` ``(rows, cols, K)``; window ``(r, c)`` covers image pixels
    ``[c·stride, c·stride + window) × [r·stride, r·stride + window)`` (x × y). ``passes``: forward passes of the
    network it took; ``seconds``: how long."""

    probs: torch.Tensor
    window: float
    stride: float
    passes: int
    seconds: float

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.probs.shape[0]), int(self.probs.shape[1])

    def boxes(self) -> torch.Tensor:
        """Every window as an ``xyxy`` box ``(rows·cols, 4)`` in image pixels, row by row."""
        rows, cols = self.shape
        y, x = torch.meshgrid(torch.arange(rows) * self.stride, torch.arange(cols) * self.stride, indexing="ij")
        x, y = x.flatten().float(), y.flatten().float()
        return torch.stack([x, y, x + self.window, y + self.window], dim=1)


def window_count(size: int, window: int, stride: int) -> int:
    """How many windows fit along one side: ⌊(size − window)/stride⌋ + 1 (0 when the window is larger)."""
    return 0 if window > size else (size - window) // stride + 1


def sliding_windows(model: nn.Module, image: torch.Tensor, window: int, stride: int, stats: Normalization | None,
                    input_shape: tuple[int, int, int] | None = None, batch: int = BATCH) -> ScoreMap:
    """Classify every ``window``×``window`` crop of ``image`` (``(C, H, W)`` uint8) taken ``stride`` pixels apart, each
    crop adapted to the network's input like any image (resized, channels converted, normalised with ``stats``):
    one forward pass per window."""
    _check_window(image, window, stride)
    input_shape = tuple(input_shape or model.spec.input)
    device = model_device(model)
    start = time.perf_counter()
    x = image[None].float()  # (1, C, H, W)
    crops = F.unfold(x, window, stride=stride)  # (1, C·w·w, L)
    rows, cols = window_count(image.shape[1], window, stride), window_count(image.shape[2], window, stride)
    crops = crops[0].T.reshape(-1, image.shape[0], window, window).to(torch.uint8)  # (L, C, w, w), row by row
    was = model.training
    model.eval()
    probs = []
    with torch.inference_mode():
        for i in range(0, len(crops), batch):
            logits = model(adapt_batch(crops[i:i + batch], input_shape, stats).to(device))
            probs.append(torch.softmax(logits.float(), dim=1).cpu())
    model.train(was)
    out = torch.cat(probs).reshape(rows, cols, -1)
    return ScoreMap(out, window, stride, len(crops), time.perf_counter() - start)


# --------------------------------------------------------------------------------------------------- FC -> conv


def trunk_stride(spec: NetworkSpec) -> int:
    """The distance, in input pixels, between neighbouring outputs of the layers before the first flatten: the product
    of their strides (a square grid is assumed; ``ValueError`` otherwise)."""
    total = 1
    for _, layer in walk(_trunk(spec)):
        stride = getattr(layer, "stride", 1)
        if stride is None:  # pooling's default: the kernel size
            stride = layer.kernel_size
        sh, sw = (stride, stride) if isinstance(stride, int) else stride
        if sh != sw:
            raise ValueError(f"{layer.kind} has stride {stride}: the sliding-window grid needs equal strides")
        total *= sh
    return total


def convolutional_spec(spec: NetworkSpec, input_hw: tuple[int, int] | None = None) -> NetworkSpec:
    """``spec`` with its fully connected head turned into convolutions: the first linear layer after the flatten
    becomes a convolution with one filter per unit, each the size of the volume it read; every later linear layer a
    1×1 convolution; elementwise layers stay. ``input_hw``: the input size of the converted network (default the
    classifier's own, giving a 1×1 map)."""
    s = summary(spec)
    if not s.ok:
        raise ValueError("the network is invalid: " + "; ".join(s.errors))
    trunk = _trunk(spec)
    if len(trunk) == len(spec.layers):
        raise ValueError("the network has no flatten layer: it is fully convolutional already")
    flatten = spec.layers[len(trunk)]
    if (flatten.start_dim, flatten.end_dim) not in ((1, -1), (1, 3)):
        raise ValueError("the flatten must flatten the whole C×H×W volume (start_dim 1, end_dim −1)")
    volume = s.rows[_top_row(s, len(trunk))].in_shape  # (C, h, w) that the flatten reads
    if len(volume) != 3:
        raise ValueError(f"the flatten reads a {len(volume)}-dimensional input; it must read a C×H×W volume")
    head, first = [], True
    for layer in spec.layers[len(trunk) + 1:]:
        if isinstance(layer, Linear):
            kernel = (volume[1], volume[2]) if first else 1
            head.append(Conv2d(out_channels=layer.out_features, kernel_size=kernel, bias=layer.bias))
            first = False
        elif layer.kind in ELEMENTWISE:
            head.append(layer)
        else:
            raise ValueError(f"after the flatten only linear layers and {', '.join(ELEMENTWISE)} can be turned into "
                             f"convolutions, not {layer.kind}")
    if first:
        raise ValueError("the network has no linear layer after its flatten")
    c, h, w = spec.input
    new_input = (c, *(input_hw or (h, w)))
    return dataclasses.replace(spec, input=new_input, layers=(*trunk, *head))


def convolutionalize(model: Network, input_hw: tuple[int, int] | None = None) -> Network:
    """A fully convolutional network computing ``model`` at every window position (see ``convolutional_spec``), with
    ``model``'s weights: each linear layer's ``(u, C·h·w)`` weight reshaped to ``(u, C, h, w)`` (flatten's order is
    C, then H, then W). In eval mode, on ``model``'s device."""
    spec = model.spec
    new_spec = convolutional_spec(spec, input_hw)
    n_trunk = len(_trunk(spec))
    fcn = build(new_spec, device=model_device(model))
    old, new = model.state_dict(), fcn.state_dict()
    mapped = {}
    for key, value in old.items():
        index, rest = key.split(".", 1)
        i = int(index)
        j = i if i < n_trunk else i - 1  # the flatten is gone
        target = f"{j}.{rest}"
        mapped[target] = value.reshape(new[target].shape)
    fcn.load_state_dict(mapped)
    return fcn.eval()


def convolutional_windows(fcn: Network, image: torch.Tensor, window: int, stats: Normalization | None,
                          classifier_input: tuple[int, int, int]) -> ScoreMap:
    """Every window's class probabilities in one pass of the converted network ``fcn`` over ``image`` (``(C, H, W)``
    uint8). Windows of ``window`` pixels are had by resizing the image by ``input / window`` first, so the network's
    own input size covers them; they lie ``trunk stride × window / input`` pixels apart."""
    c_in, n_in, _ = classifier_input
    _check_window(image, window, 1)
    start = time.perf_counter()
    scale = n_in / window
    h, w = (max(n_in, round(d * scale)) for d in image.shape[1:])
    x = adapt_batch(image[None], (c_in, h, w), stats).to(model_device(fcn))  # resized once, normalised
    was = fcn.training
    fcn.eval()
    with torch.inference_mode():
        logits = fcn(x)  # (1, K, rows, cols): a Network's layers do not depend on the spec's input size
    fcn.train(was)
    probs = torch.softmax(logits.float(), dim=1)[0].permute(1, 2, 0).cpu()  # (rows, cols, K)
    stride = trunk_stride(fcn.spec) / scale
    return ScoreMap(probs, window, stride, 1, time.perf_counter() - start)


# --------------------------------------------------------------------------------------------------- the two maps


def conv_stride(spec: NetworkSpec, window: int) -> float:
    """How far apart, in image pixels, the convolutional form's windows of ``window`` pixels lie: the trunk's
    stride, scaled by ``window / input`` (the image is resized by ``input / window``)."""
    return trunk_stride(spec) * window / spec.input[1]


def edge_layers(spec: NetworkSpec) -> list[str]:
    """Why the trunk's output cells do not each depend on their own window alone, one sentence per layer: padding
    (inside the image the converted network sees real neighbouring pixels where the classifier saw the padding),
    a pooling that rounds up (it reads past a window's edge), an adaptive pooling (its output covers the whole input,
    whatever its size: the converted network would not slide at all)."""
    out = []
    for path, layer in walk(_trunk(spec)):
        name = f"{layer.kind} (layer {'.'.join(str(i + 1) for i in path)})"
        pad = getattr(layer, "padding", 0)
        if layer.kind == "zeropad2d" or pad == "same" and layer.kernel_size not in (1, (1, 1)) or \
                isinstance(pad, int | tuple) and any(pad if isinstance(pad, tuple) else (pad,)):
            out.append(f"{name} pads its input: in the large image its border cells see the neighbouring pixels, "
                       f"where the classifier on one window saw padding")
        if getattr(layer, "ceil_mode", False):
            out.append(f"{name} rounds its output size up (ceil_mode): its last windows reach past the edge")
        if layer.kind == "adaptiveavgpool2d":
            out.append(f"{name} pools to a fixed size whatever the input: on the large image it would pool over "
                       f"everything, not window by window")
    return out


def differences(spec: NetworkSpec, window: int) -> list[str]:
    """Why the convolutional form's probabilities for a window may differ from the loop's for the same window (an
    empty list: they are equal to float rounding). Where the two grids of windows meet is ``agreement``'s matter."""
    out = edge_layers(spec)
    c, h, w = spec.input
    if h != w:
        out.append(f"the classifier's input is {h}×{w}, not square: square windows are stretched to it, the image "
                   f"is not")
    elif window != h:
        out.append(f"the window ({window} px) is not the classifier's input ({h} px): the loop resizes each crop, the "
                   f"convolutional form the whole image once (by {h}/{window}); at a crop's edge the resizing filter "
                   f"reads pixels outside it in the image but not in the crop")
    return out


@dataclass(frozen=True)
class Agreement:
    """The loop's map against the convolutional form's, on the windows both computed: ``compared`` windows (the
    loop's every window when its stride is ``step`` times the convolutional form's, else none) and the largest
    difference of any class probability there (None when none were compared); ``note`` says which windows."""

    compared: int
    max_difference: float | None
    step: int | None
    note: str


def agreement(loop: ScoreMap, conv: ScoreMap) -> Agreement:
    """Compare two score maps of the same window size: the loop's window ``(r, c)`` is the convolutional form's
    ``(k·r, k·c)`` when the loop's stride is ``k`` times the convolutional form's."""
    if loop.window != conv.window:
        raise ValueError(f"the maps are of different windows: {loop.window} and {conv.window} px")
    ratio = loop.stride / conv.stride
    k = round(ratio)
    if k < 1 or abs(ratio - k) > 1e-6:
        return Agreement(0, None, None, f"the loop's windows, every {loop.stride:g} px, are not on the convolutional "
                                        f"form's grid (every {conv.stride:g} px): no window is computed by both; "
                                        f"a stride of {conv.stride:g} px or a multiple of it lines them up")
    rows, cols = min(loop.shape[0], -(-conv.shape[0] // k)), min(loop.shape[1], -(-conv.shape[1] // k))
    a = loop.probs[:rows, :cols]
    b = conv.probs[::k, ::k][:rows, :cols]
    note = "every window" if k == 1 else f"the loop's windows: every {k}th of the convolutional form's, each way"
    if (rows, cols) != loop.shape:
        note += f" ({rows}×{cols} of the loop's {loop.shape[0]}×{loop.shape[1]}: the rest fall past its edge)"
    return Agreement(rows * cols, float((a - b).abs().max()) if rows * cols else None, k, note)


@dataclass(frozen=True)
class HeadLayer:
    """One layer of the classifier's head and what it became: ``before`` (e.g. "linear 400 → 32") reads
    ``volume``; ``after`` (e.g. "conv2d, 32 filters of 16×5×5") has the same ``params``."""

    before: str
    after: str
    volume: tuple[int, ...]
    params: int


def head_conversion(spec: NetworkSpec) -> list[HeadLayer]:
    """The fully connected layers of ``spec`` next to the convolutions ``convolutional_spec`` makes of them."""
    new = convolutional_spec(spec)
    s, t = summary(spec), summary(new)
    n_trunk = len(_trunk(spec))
    out = []
    for i, layer in enumerate(spec.layers[n_trunk + 1:], start=n_trunk + 1):
        if not isinstance(layer, Linear):
            continue
        row, conv_row = s.rows[_top_row(s, i)], t.rows[_top_row(t, i - 1)]
        conv = new.layers[i - 1]
        kh, kw = (conv.kernel_size, conv.kernel_size) if isinstance(conv.kernel_size, int) else conv.kernel_size
        volume = tuple(conv_row.in_shape)
        out.append(HeadLayer(f"linear {row.in_shape[-1]} → {layer.out_features}",
                             f"conv2d, {conv.out_channels} filters of {volume[0]}×{kh}×{kw}", volume,
                             conv_row.params))
    return out


# --------------------------------------------------------------------------------------------------- helpers


def _trunk(spec: NetworkSpec) -> tuple:
    """The top-level layers before the first flatten."""
    for i, layer in enumerate(spec.layers):
        if isinstance(layer, Flatten):
            return spec.layers[:i]
    return spec.layers


def _top_row(s, index: int) -> int:
    """The summary row of top-level layer ``index``."""
    tops = [i for i, r in enumerate(s.rows) if r.depth == 0]
    return tops[index]


def _check_window(image: torch.Tensor, window: int, stride: int) -> None:
    if image.dtype != torch.uint8 or image.ndim != 3:
        raise ValueError(f"the image must be uint8 (C, H, W), got {image.dtype} {tuple(image.shape)}")
    for name, v in (("window", window), ("stride", stride)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    h, w = image.shape[1:]
    if window > min(h, w):
        raise ValueError(f"a window of {window} pixels does not fit the {h}×{w} image; use at most {min(h, w)}")
