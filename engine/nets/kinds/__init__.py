"""Every layer kind, one module per family; importing this package registers them all in ``KINDS``, in menu order
(docs/layer-kinds.md)."""

from engine.nets.kinds.activations import Dropout, LeakyReLU, ReLU, ReLU6, SeededDropout, Sigmoid, Tanh
from engine.nets.kinds.base import KINDS, Argument, LayerSpec, Path, Shape, SpecError, register
from engine.nets.kinds.composites import Inception, InceptionBlock, Residual, ResidualBlock
from engine.nets.kinds.conv import Conv2d
from engine.nets.kinds.norm import BatchNorm2d
from engine.nets.kinds.pool import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from engine.nets.kinds.shape import Flatten, Linear, ZeroPad2d

__all__ = [
    "KINDS", "AdaptiveAvgPool2d", "Argument", "AvgPool2d", "BatchNorm2d", "Conv2d", "Dropout", "Flatten", "Inception",
    "InceptionBlock", "LayerSpec", "LeakyReLU", "Linear", "MaxPool2d", "Path", "ReLU", "ReLU6", "Residual",
    "ResidualBlock", "SeededDropout", "Shape", "Sigmoid", "SpecError", "Tanh", "ZeroPad2d", "register",
]
