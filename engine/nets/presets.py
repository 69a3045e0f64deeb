"""Classic CNN architectures as specs, for the course's menu of ready-made networks.

Each preset is a ``NetworkSpec`` built from the same layer blocks a student can edit, so a preset opens in the builder,
the summary and the trainer like any hand-made network. Apart from LeNet-5 (the course's small variant), every preset
mirrors the layer structure of the matching ``torchvision.models`` builder, so its parameter count equals
torchvision's exactly and its output is 1000 ImageNet logits for a 3×224×224 input:

- LeNet-5: LeCun et al., "Gradient-Based Learning Applied to Document Recognition" (1998).
- AlexNet: Krizhevsky, Sutskever & Hinton, "ImageNet Classification with Deep Convolutional Neural Networks" (2012).
- VGG-16: Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition" (2014).
- ResNet-18/50: He et al., "Deep Residual Learning for Image Recognition" (2015).
- GoogLeNet: Szegedy et al., "Going Deeper with Convolutions" (2014); 1×1 convolutions after Lin et al.,
  "Network In Network" (2013).
- MobileNetV2: Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks" (2018); depthwise separable
  convolutions after Howard et al., "MobileNets" (2017).
- EfficientNet-Lite0: Tan & Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks" (2019), in
  its "Lite" form for mobile (no squeeze-and-excitation, ReLU6); it mirrors the module whose ImageNet weights
  ``engine.nets.weights`` loads (TensorFlow's "same" padding, batch norm eps 1e-3), not a torchvision builder.

The builders below read like torchvision's ``models/*.py``: one small helper per block.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.nets.spec import (
    AdaptiveAvgPool2d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Flatten,
    Inception,
    LayerSpec,
    Linear,
    MaxPool2d,
    NetworkSpec,
    ReLU,
    ReLU6,
    Residual,
    ZeroPad2d,
)

Layers = tuple[LayerSpec, ...]
IMAGENET = (3, 224, 224)
NUM_CLASSES = 1000


@dataclass(frozen=True)
class Preset:
    """A named architecture: ``spec`` plus the text the menu shows (``title``, ``description``, ``paper``)."""

    name: str
    title: str
    description: str
    paper: str
    spec: NetworkSpec


# --------------------------------------------------------------------------------------------------- LeNet-5


def lenet5() -> NetworkSpec:
    """The course's LeNet-5: ReLU and max pooling instead of the 1998 paper's scaled tanh and trainable
    subsampling, and a plain 10-way linear output instead of RBF units. (1, 32, 32) -> (10,), 61,706 parameters."""
    return NetworkSpec(
        input=(1, 32, 32),
        layers=(
            Conv2d(out_channels=6, kernel_size=5), ReLU(), MaxPool2d(2),  # (6, 28, 28) -> (6, 14, 14)
            Conv2d(out_channels=16, kernel_size=5), ReLU(), MaxPool2d(2),  # (16, 10, 10) -> (16, 5, 5)
            Flatten(),  # (400,)
            Linear(120), ReLU(),
            Linear(84), ReLU(),
            Linear(10),
        ),
    )


# --------------------------------------------------------------------------------------------------- AlexNet


def alexnet() -> NetworkSpec:
    """torchvision's AlexNet (the single-GPU "one weird trick" variant: 64-192-384-256-256 filters).
    (3, 224, 224) -> (1000,)."""
    features = (
        Conv2d(out_channels=64, kernel_size=11, stride=4, padding=2), ReLU(), MaxPool2d(3, stride=2),  # (64, 27, 27)
        Conv2d(out_channels=192, kernel_size=5, padding=2), ReLU(), MaxPool2d(3, stride=2),  # (192, 13, 13)
        Conv2d(out_channels=384, kernel_size=3, padding=1), ReLU(),
        Conv2d(out_channels=256, kernel_size=3, padding=1), ReLU(),
        Conv2d(out_channels=256, kernel_size=3, padding=1), ReLU(), MaxPool2d(3, stride=2),  # (256, 6, 6)
    )
    classifier = (
        AdaptiveAvgPool2d((6, 6)), Flatten(),  # (9216,)
        Dropout(0.5), Linear(4096), ReLU(),
        Dropout(0.5), Linear(4096), ReLU(),
        Linear(NUM_CLASSES),
    )
    return NetworkSpec(input=IMAGENET, layers=features + classifier)


# --------------------------------------------------------------------------------------------------- VGG-16

VGG16_CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


def vgg16() -> NetworkSpec:
    """VGG-16 (configuration D, no batch norm): 3×3 convolutions with padding 1 and 2×2 max pools.
    (3, 224, 224) -> (512, 7, 7) -> (1000,)."""
    features: Layers = ()
    for v in VGG16_CONFIG:
        features += (MaxPool2d(2),) if v == "M" else (Conv2d(out_channels=v, kernel_size=3, padding=1), ReLU())
    classifier = (
        AdaptiveAvgPool2d((7, 7)), Flatten(),  # (25088,)
        Linear(4096), ReLU(), Dropout(0.5),
        Linear(4096), ReLU(), Dropout(0.5),
        Linear(NUM_CLASSES),
    )
    return NetworkSpec(input=IMAGENET, layers=features + classifier)


# --------------------------------------------------------------------------------------------------- ResNet


def _conv_bn(out_channels: int, kernel_size: int, stride: int = 1) -> Layers:
    """A bias-free convolution with 'same'-style padding, then batch norm (its shift makes a bias redundant)."""
    return (Conv2d(out_channels=out_channels, kernel_size=kernel_size, stride=stride, padding=kernel_size // 2,
                   bias=False), BatchNorm2d())


def _basic_block(in_channels: int, planes: int, stride: int) -> Layers:
    """ResNet-18/34's block: two 3×3 convs, plus the input; the ReLU after the add is its own top-level layer."""
    body = _conv_bn(planes, 3, stride) + (ReLU(),) + _conv_bn(planes, 3)
    shortcut = "identity" if stride == 1 and in_channels == planes else "projection"
    return Residual(body=body, shortcut=shortcut), ReLU()


def _bottleneck(in_channels: int, planes: int, stride: int) -> Layers:
    """ResNet-50's block: 1×1 reduce, 3×3 (strided, as torchvision's "v1.5"), 1×1 expand to 4·planes."""
    body = _conv_bn(planes, 1) + (ReLU(),) + _conv_bn(planes, 3, stride) + (ReLU(),) + _conv_bn(4 * planes, 1)
    shortcut = "identity" if stride == 1 and in_channels == 4 * planes else "projection"
    return Residual(body=body, shortcut=shortcut), ReLU()


def _resnet(bottleneck: bool, blocks_per_stage: tuple[int, int, int, int]) -> NetworkSpec:
    """Stem (7×7/2 conv, 3×3/2 max pool), four stages of 64-128-256-512 planes, global average pool, linear.
    (3, 224, 224) -> (C, 7, 7) -> (1000,)."""
    block, expansion = (_bottleneck, 4) if bottleneck else (_basic_block, 1)
    layers = (*_conv_bn(64, 7, stride=2), ReLU(), MaxPool2d(3, stride=2, padding=1))  # (64, 56, 56)
    in_channels = 64
    for stage, (planes, n) in enumerate(zip((64, 128, 256, 512), blocks_per_stage, strict=True)):
        for i in range(n):
            stride = 2 if stage > 0 and i == 0 else 1
            layers += block(in_channels, planes, stride)
            in_channels = planes * expansion
    layers += (AdaptiveAvgPool2d(1), Flatten(), Linear(NUM_CLASSES))
    return NetworkSpec(input=IMAGENET, layers=layers)


def resnet18() -> NetworkSpec:
    return _resnet(bottleneck=False, blocks_per_stage=(2, 2, 2, 2))


def resnet50() -> NetworkSpec:
    return _resnet(bottleneck=True, blocks_per_stage=(3, 4, 6, 3))


# --------------------------------------------------------------------------------------------------- GoogLeNet


def _basic_conv(out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0) -> Layers:
    """torchvision's ``BasicConv2d``: bias-free conv, batch norm with eps 0.001, ReLU."""
    return (Conv2d(out_channels=out_channels, kernel_size=kernel_size, stride=stride, padding=padding, bias=False),
            BatchNorm2d(eps=0.001), ReLU())


def _inception(ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int, ch5x5: int, pool_proj: int) -> Inception:
    """Four parallel branches concatenated on channels; 1×1 convs shrink the channels before the costly 3×3s.
    The "5×5" branch uses a 3×3 kernel, as torchvision does (a known deviation, pytorch/vision#906)."""
    return Inception(branches=(
        _basic_conv(ch1x1, 1),
        _basic_conv(ch3x3red, 1) + _basic_conv(ch3x3, 3, padding=1),
        _basic_conv(ch5x5red, 1) + _basic_conv(ch5x5, 3, padding=1),
        (MaxPool2d(3, stride=1, padding=1, ceil_mode=True), *_basic_conv(pool_proj, 1)),
    ))


def _ceil_pool(kernel_size: int) -> MaxPool2d:
    return MaxPool2d(kernel_size, stride=2, ceil_mode=True)


def googlenet() -> NetworkSpec:
    """GoogLeNet (Inception v1) without the auxiliary classifiers. (3, 224, 224) -> (1024, 7, 7) -> (1000,)."""
    layers = (
        *_basic_conv(64, 7, stride=2, padding=3), _ceil_pool(3),  # (64, 56, 56)
        *_basic_conv(64, 1), *_basic_conv(192, 3, padding=1), _ceil_pool(3),  # (192, 28, 28)
        _inception(64, 96, 128, 16, 32, 32),  # 3a: (256, 28, 28)
        _inception(128, 128, 192, 32, 96, 64),  # 3b: (480, 28, 28)
        _ceil_pool(3),  # (480, 14, 14)
        _inception(192, 96, 208, 16, 48, 64),  # 4a: (512, 14, 14)
        _inception(160, 112, 224, 24, 64, 64),  # 4b
        _inception(128, 128, 256, 24, 64, 64),  # 4c
        _inception(112, 144, 288, 32, 64, 64),  # 4d: (528, 14, 14)
        _inception(256, 160, 320, 32, 128, 128),  # 4e: (832, 14, 14)
        _ceil_pool(2),  # (832, 7, 7)
        _inception(256, 160, 320, 32, 128, 128),  # 5a: (832, 7, 7)
        _inception(384, 192, 384, 48, 128, 128),  # 5b: (1024, 7, 7)
        AdaptiveAvgPool2d(1), Flatten(), Dropout(0.2), Linear(NUM_CLASSES),
    )
    return NetworkSpec(input=IMAGENET, layers=layers)


# --------------------------------------------------------------------------------------------------- MobileNetV2

# (expansion t, output channels c, repeats n, first stride s), as in Table 2 of the paper
MOBILENET_V2_SETTING = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                        (6, 160, 3, 2), (6, 320, 1, 1))


def _conv_bn_relu6(out_channels: int, kernel_size: int, stride: int = 1, groups: int = 1) -> Layers:
    return (Conv2d(out_channels=out_channels, kernel_size=kernel_size, stride=stride, padding=(kernel_size - 1) // 2,
                   groups=groups, bias=False), BatchNorm2d(), ReLU6())


def _inverted_residual(in_channels: int, out_channels: int, stride: int, expand_ratio: int) -> Layers:
    """Expand with a 1×1 conv, filter with a depthwise 3×3 (groups = channels), project back with a *linear* 1×1
    (no activation: the bottleneck is too narrow for ReLU not to destroy information). The input is added back
    only when the block keeps the shape (stride 1, same channels)."""
    hidden = round(in_channels * expand_ratio)
    expand = _conv_bn_relu6(hidden, 1) if expand_ratio != 1 else ()
    body = expand + _conv_bn_relu6(hidden, 3, stride, groups=hidden) + _conv_bn(out_channels, 1)
    if stride == 1 and in_channels == out_channels:
        return (Residual(body=body, shortcut="identity"),)
    return body


def mobilenet_v2() -> NetworkSpec:
    """MobileNetV2 at width 1.0. (3, 224, 224) -> (1280, 7, 7) -> (1000,)."""
    layers = _conv_bn_relu6(32, 3, stride=2)  # (32, 112, 112)
    in_channels = 32
    for t, c, n, s in MOBILENET_V2_SETTING:
        for i in range(n):
            layers += _inverted_residual(in_channels, c, s if i == 0 else 1, t)
            in_channels = c
    layers += _conv_bn_relu6(1280, 1)  # (1280, 7, 7)
    layers += (AdaptiveAvgPool2d(1), Flatten(), Dropout(0.2), Linear(NUM_CLASSES))
    return NetworkSpec(input=IMAGENET, layers=layers)


# --------------------------------------------------------------------------------------------------- EfficientNet-Lite0

# (repeats, kernel, first stride, expansion, output channels) of each stage, as the EfficientNet-Lite0 checkpoint's
# blocks are laid out (16 MBConv blocks)
EFFICIENTNET_LITE0_SETTING = ((1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
                              (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320))
TF_BN_EPS, TF_BN_MOMENTUM = 1e-3, 0.01  # TensorFlow's batch norm: epsilon 1e-3, decay 0.99


def _tf_same_conv(out_channels: int, kernel_size: int, stride: int, size: int, groups: int = 1) -> tuple[Layers, int]:
    """A convolution (no bias) with TensorFlow's "same" padding for a ``size``×``size`` input: ⌈size / stride⌉ out;
    the padding it needs is split with the extra cell on the right and bottom, which a strided convolution in PyTorch
    cannot do alone — a zero-padding layer comes first then. Returns the layers and the output size."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel_size - size, 0)
    before, after = total // 2, total - total // 2
    conv = Conv2d(out_channels=out_channels, kernel_size=kernel_size, stride=stride, groups=groups, bias=False,
                  padding=before if before == after else 0)
    pad = () if before == after else (ZeroPad2d((before, after, before, after)),)
    return (*pad, conv), out


def _tf_conv_bn(out_channels: int, kernel_size: int, stride: int, size: int, groups: int = 1,
                relu: bool = True) -> tuple[Layers, int]:
    conv, out = _tf_same_conv(out_channels, kernel_size, stride, size, groups)
    return (*conv, BatchNorm2d(eps=TF_BN_EPS, momentum=TF_BN_MOMENTUM), *((ReLU6(),) if relu else ())), out


def _mbconv(in_channels: int, out_channels: int, kernel_size: int, stride: int, expand_ratio: int,
            size: int) -> tuple[Layers, int]:
    """MobileNetV2's inverted residual with a k×k depthwise filter: 1×1 expand (unless the ratio is 1), depthwise,
    linear 1×1 project; the identity shortcut when stride 1 keeps the channels."""
    hidden = in_channels * expand_ratio
    expand = _tf_conv_bn(hidden, 1, 1, size)[0] if expand_ratio != 1 else ()
    depthwise, out = _tf_conv_bn(hidden, kernel_size, stride, size, groups=hidden)
    body = expand + depthwise + _tf_conv_bn(out_channels, 1, 1, out, relu=False)[0]
    if stride == 1 and in_channels == out_channels:
        return (Residual(body=body, shortcut="identity"),), out
    return body, out


def efficientnet_lite0() -> NetworkSpec:
    """EfficientNet-Lite0: (3, 224, 224) -> (1280, 7, 7) -> (1000,), 4,652,008 parameters. Inputs are expected as
    ``(x·255 − 127) / 128`` (``engine.nets.weights.imagenet_stats``)."""
    layers, size = _tf_conv_bn(32, 3, 2, IMAGENET[1])  # stem: (32, 112, 112)
    in_channels = 32
    for repeats, k, s, t, c in EFFICIENTNET_LITE0_SETTING:
        for i in range(repeats):
            block, size = _mbconv(in_channels, c, k, s if i == 0 else 1, t, size)
            layers += block
            in_channels = c
    layers += _tf_conv_bn(1280, 1, 1, size)[0]  # (1280, 7, 7)
    layers += (AdaptiveAvgPool2d(1), Flatten(), Dropout(0.2), Linear(NUM_CLASSES))
    return NetworkSpec(input=IMAGENET, layers=layers)


# --------------------------------------------------------------------------------------------------- the menu


def _menu(*presets: Preset) -> dict[str, Preset]:
    """Presets by name, in menu order; a name can appear only once."""
    out: dict[str, Preset] = {}
    for p in presets:
        if p.name in out:
            raise ValueError(f"preset name {p.name!r} is used twice")
        out[p.name] = p
    return out


PRESETS: dict[str, Preset] = _menu(
    Preset(
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
    ),
    Preset(
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
    ),
    Preset(
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
    ),
    Preset(
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
    ),
    Preset(
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
    ),
    Preset(
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
    ),
    Preset(
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
    ),
)


def preset_names() -> list[str]:
    """The preset names in menu order."""
    return list(PRESETS)


def get_preset(name: str) -> NetworkSpec:
    """The spec of the preset called ``name``; a ``ValueError`` naming it and the valid names if there is none."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; valid presets: {', '.join(PRESETS)}")
    return PRESETS[name].spec
