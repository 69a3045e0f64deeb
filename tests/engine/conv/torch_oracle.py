"""The convolution tests' oracle: PyTorch on float64 copies of numpy arrays."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def as_tensor(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(a, dtype=np.float64, order="C"))  # a copy: torch refuses negative strides


def torch_conv(x, w, b, stride, padding, dilation) -> np.ndarray:
    """F.conv2d on one (C, H, W) sample, float64."""
    tb = None if b is None else as_tensor(b)
    return F.conv2d(as_tensor(x)[None], as_tensor(w), tb, stride=stride, padding=padding, dilation=dilation)[0].numpy()
