"""Classic CNN architectures as specs, built from the same layer kinds a student can edit, so each opens in the
builder, the summary and the trainer like any hand-made network (``engine.nets.presets`` registers them for the menu).

Apart from LeNet-5 (the course's small variant), every preset
mirrors the layer structure of the matching ``torchvision.models`` builder, so its parameter count equals
torchvision's exactly and its output is 1000 ImageNet logits for a 3×224×224 input:

- LeNet-5: LeCun et al., "Gradient-Based Learning Applied to Document Recognition" (1998).
- AlexNet: Krizhevsky, Sutskever & Hinton, "ImageNet Classification with Deep Convolutional Neural Networks" (2012).
- VGG-16 and VGG-19: Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition"
  (2014). VGG-19 is not a preset of the menu; neural style transfer uses its convolutions (``engine.style``).
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


# --------------------------------------------------------------------------------------------------- VGG

VGG16_CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")
VGG19_CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M")


def vgg16() -> NetworkSpec:
    """VGG-16 (configuration D, no batch norm): 3×3 convolutions with padding 1 and 2×2 max pools.
    (3, 224, 224) -> (512, 7, 7) -> (1000,)."""
    return _vgg(VGG16_CONFIG)


def vgg19() -> NetworkSpec:
    """VGG-19 (configuration E, no batch norm), the network of Gatys et al.'s style transfer and of the course:
    torchvision's ``vgg19`` layer for layer, so its weights load by order. (3, 224, 224) -> (512, 7, 7) -> (1000,)."""
    return _vgg(VGG19_CONFIG)


def _vgg(config: tuple[int | str, ...]) -> NetworkSpec:
    features: Layers = ()
    for v in config:
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
    return _efficientnet_lite0()[0]


def efficientnet_lite0_stages() -> tuple[int, ...]:
    """Where EfficientNet-Lite0's parts end: the index in ``efficientnet_lite0().layers`` of the last layer of the stem,
    of each of the 16 MBConv blocks in order, and of the head's 1×1 convolution (its ReLU6) — 18 indices."""
    return _efficientnet_lite0()[1]


def _efficientnet_lite0() -> tuple[NetworkSpec, tuple[int, ...]]:
    layers, size = _tf_conv_bn(32, 3, 2, IMAGENET[1])  # stem: (32, 112, 112)
    ends = [len(layers) - 1]
    in_channels = 32
    for repeats, k, s, t, c in EFFICIENTNET_LITE0_SETTING:
        for i in range(repeats):
            block, size = _mbconv(in_channels, c, k, s if i == 0 else 1, t, size)
            layers += block
            ends.append(len(layers) - 1)
            in_channels = c
    layers += _tf_conv_bn(1280, 1, 1, size)[0]  # (1280, 7, 7)
    ends.append(len(layers) - 1)
    layers += (AdaptiveAvgPool2d(1), Flatten(), Dropout(0.2), Linear(NUM_CLASSES))
    return NetworkSpec(input=IMAGENET, layers=layers), tuple(ends)
