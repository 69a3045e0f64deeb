"""Which accelerator to compute on: CUDA, Apple MPS, Intel XPU, else the CPU; and the mixed-precision policy."""

from __future__ import annotations

import itertools

import torch

CHOICES = ("auto", "cuda", "mps", "xpu", "cpu")


def available() -> list[str]:
    """The devices this machine can use, best first; always ends with "cpu"."""
    found = []
    if torch.cuda.is_available():
        found.append("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        found.append("mps")
    if hasattr(torch, "xpu") and torch.xpu.is_available():
        found.append("xpu")
    return [*found, "cpu"]


def resolve(choice: str = "auto") -> torch.device:
    """``"auto"`` -> the best available device; a named device -> itself if available, else ``ValueError``."""
    if choice not in CHOICES:
        raise ValueError(f"device must be one of {', '.join(CHOICES)}, got {choice!r}")
    have = available()
    if choice == "auto":
        return torch.device(have[0])
    if choice not in have:
        raise ValueError(f"device {choice!r} is not available on this machine; available: {', '.join(have)}")
    return torch.device(choice)


def describe(device: torch.device) -> str:
    """A human name: "cuda (NVIDIA H200)", "cpu (2 threads)"."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        n = torch.get_num_threads()
        return f"cpu ({n} thread{'s' * (n != 1)})"
    return device.type


def amp_dtype(device: torch.device) -> torch.dtype | None:
    """The autocast dtype to train with on ``device``, or None for full precision (CPU, MPS)."""
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return None


def model_device(model: torch.nn.Module) -> torch.device:
    """The device a model's parameters (else its buffers) live on; the CPU for a model with neither."""
    tensor = next(itertools.chain(model.parameters(), model.buffers()), None)
    return tensor.device if tensor is not None else torch.device("cpu")
