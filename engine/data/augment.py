"""Data augmentation: new training images from the ones we have, with the label unchanged.

Flip, crop and rotation move pixels: targets that are positions in the image (boxes, points) would have to move with
them. Their geometry is not written yet, so ``check_targets`` refuses those augmentations for such targets, naming
them; colour augmentations leave positions alone and suit every kind of target.

A cat flipped left-right, shifted a few pixels, tilted, or photographed under warmer light is still a cat, so
showing the network such variants teaches it what does *not* matter, and acts against overfitting when the data set
is small. Here: horizontal flip, random crop (pad with zeros, cut a window of the original size at a random offset,
i.e. a random shift), rotation, colour jitter (brightness, contrast, saturation), colour shift (a random offset per
channel) and the PCA colour augmentation of AlexNet (Krizhevsky, Sutskever & Hinton, "ImageNet Classification with
Deep Convolutional Neural Networks", NeurIPS 2012, section 4.1): find the principal components of the RGB values of
all training pixels — eigenvectors ``p_i`` and eigenvalues ``λ_i`` of their 3×3 covariance — and add
``Σ α_i λ_i p_i`` to every pixel of an image, with ``α_i ~ N(0, σ)`` drawn once per image. Colours then vary along
the directions they naturally vary in the data (mostly overall intensity and warm/cool tint); the picture's structure
is untouched, since every pixel moves by the same vector. For gray images PCA colour does nothing.

Every random parameter is drawn per image, but the work is done on the whole batch at once with tensor ops (flip with
``torch.where``, crop as one gather, rotation as one ``affine_grid``/``grid_sample``), so the data loader keeps up
with training on a couple of CPU cores. Randomness comes from an explicit ``torch.Generator``: reproducible by seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from engine.data.normalization import LUMA
from engine.data.targets import Targets

MOVES_PIXELS = {"hflip": "horizontal flip", "crop_padding": "random crop", "rotation": "rotation"}


@dataclass(frozen=True)
class AugmentConfig:
    """Which augmentations to apply, all off by default. ``crop_padding``: zero-pad by this many pixels, then crop
    back to the original size at a random offset; ``rotation``: maximum angle in degrees (uniform in ±rotation);
    ``color_jitter``: strength s of brightness, contrast and saturation factors drawn from [1 − s, 1 + s];
    ``color_shift``: each channel shifted by up to ± this (in [0, 1] units); ``pca_color``: σ of AlexNet's α
    (AlexNet used 0.1)."""

    hflip: bool = False
    crop_padding: int = 0
    rotation: float = 0.0
    color_jitter: float = 0.0
    color_shift: float = 0.0
    pca_color: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.hflip, bool):
            raise ValueError(f"hflip must be True or False, got {self.hflip!r}")
        pad = self.crop_padding
        if isinstance(pad, bool) or not isinstance(pad, int) or not 0 <= pad <= 64:
            raise ValueError(f"crop_padding must be an integer from 0 to 64 pixels, got {self.crop_padding!r}")
        for field, hi in (("rotation", 180.0), ("color_jitter", 1.0), ("color_shift", 1.0), ("pca_color", 10.0)):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= hi:
                raise ValueError(f"{field} must be a number from 0 to {hi:g}, got {value!r}")

    @property
    def active(self) -> bool:
        """Whether any augmentation is on."""
        return self != AugmentConfig()

    def moving(self) -> list[str]:
        """The active augmentations that move pixels (by field name), in ``MOVES_PIXELS`` order."""
        return [name for name in MOVES_PIXELS if getattr(self, name)]

    def describe(self) -> str:
        """In words, for the page: "horizontal flip, random crop (padding 4 px), rotation up to ±15°" or "none"."""
        parts = []
        if self.hflip:
            parts.append("horizontal flip")
        if self.crop_padding:
            parts.append(f"random crop (padding {self.crop_padding} px)")
        if self.rotation:
            parts.append(f"rotation up to ±{self.rotation:g}°")
        if self.color_jitter:
            parts.append(f"colour jitter ±{self.color_jitter:.0%}")
        if self.color_shift:
            parts.append(f"colour shift ±{self.color_shift:g}")
        if self.pca_color:
            parts.append(f"PCA colour (σ = {self.pca_color:g})")
        return ", ".join(parts) or "none"


def check_targets(config: AugmentConfig | None, targets: Targets) -> None:
    """``ValueError`` when ``config`` moves pixels and ``targets`` are positions in the image (boxes, points): those
    augmentations would have to move them too, which they do not do yet. Class ids and identities take every
    augmentation."""
    if config is None or not targets.geometric:
        return
    moving = [MOVES_PIXELS[name] for name in config.moving()]
    if moving:
        raise ValueError(f"{', '.join(moving)} move{'s' * (len(moving) == 1)} pixels, and this data's {targets.kind} "
                         f"are positions in the image that would have to move with them, which is not done yet: turn "
                         f"{'it' if len(moving) == 1 else 'them'} off (the colour augmentations suit {targets.kind})")


def pca_basis(images: torch.Tensor, max_pixels: int = 1_000_000) -> tuple[torch.Tensor, torch.Tensor]:
    """Principal components of the RGB values of ``images`` ``(N, 3, H, W)`` uint8, in [0, 1] units: eigenvalues
    ``(3,)`` (descending) and eigenvectors as the columns of ``(3, 3)``, float32. Uses an evenly spaced sample of at
    most ``max_pixels`` pixels."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"PCA colour needs RGB images (N, 3, H, W), got shape {tuple(images.shape)}")
    pixels = images.permute(1, 0, 2, 3).reshape(3, -1)  # (3, N·H·W)
    step = max(1, pixels.shape[1] // max_pixels)
    sample = pixels[:, ::step].double() / 255.0  # (3, P)
    cov = torch.cov(sample)  # (3, 3)
    eigvals, eigvecs = torch.linalg.eigh(cov)  # ascending
    return eigvals.flip(0).clamp_min(0).float(), eigvecs.flip(1).float()


def augment_batch(x: torch.Tensor, config: AugmentConfig, generator: torch.Generator,
                  pca: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """Augment a batch: ``x`` ``(B, C, H, W)`` uint8 → ``(B, C, H, W)`` float32 in [0, 1], same size. Each image
    gets its own random parameters from ``generator``. ``pca`` = ``pca_basis(training images)``, needed when
    ``config.pca_color`` is on and the images are RGB (ignored for gray)."""
    if x.dtype != torch.uint8 or x.ndim != 4:
        raise ValueError(f"augment_batch takes uint8 (B, C, H, W), got {x.dtype} of shape {tuple(x.shape)}")
    b, c = x.shape[:2]
    if config.hflip:
        flip = torch.rand(b, generator=generator) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    if config.crop_padding:
        x = _random_crop(x, config.crop_padding, generator)
    out = x.float().div_(255.0)
    if config.rotation:
        out = _rotate(out, config.rotation, generator)
    if config.color_jitter:
        out = _jitter(out, config.color_jitter, generator)
    if config.color_shift:
        out = out + (torch.rand(b, c, 1, 1, generator=generator) * 2 - 1) * config.color_shift
    if config.pca_color and c == 3:
        if pca is None:
            raise ValueError("PCA colour augmentation needs the training set's colour basis (pca_basis)")
        eigvals, eigvecs = pca
        alpha = torch.randn(b, 3, generator=generator) * config.pca_color  # (B, 3)
        delta = (alpha * eigvals) @ eigvecs.T  # (B, 3): Σ_i α_i λ_i p_i
        out = out + delta[:, :, None, None]
    return out.clamp_(0.0, 1.0)


def _random_crop(x: torch.Tensor, pad: int, generator: torch.Generator) -> torch.Tensor:
    """Zero-pad by ``pad`` and cut an H×W window at a random offset per image, as one gather."""
    b, c, h, w = x.shape
    wp = w + 2 * pad
    padded = F.pad(x, (pad, pad, pad, pad)).reshape(b, c, -1)  # (B, C, (H+2p)·(W+2p))
    oy = torch.randint(0, 2 * pad + 1, (b,), generator=generator)
    ox = torch.randint(0, 2 * pad + 1, (b,), generator=generator)
    rows = oy[:, None, None] + torch.arange(h)[None, :, None]  # (B, H, 1)
    cols = ox[:, None, None] + torch.arange(w)[None, None, :]  # (B, 1, W)
    flat = (rows * wp + cols).reshape(b, 1, h * w).expand(b, c, h * w)  # (B, C, H·W) positions in the padded image
    return padded.gather(2, flat).reshape(b, c, h, w)


def _rotate(x: torch.Tensor, max_degrees: float, generator: torch.Generator) -> torch.Tensor:
    """Rotate each image about its centre by a uniform angle in ±max_degrees."""
    degrees = (torch.rand(x.shape[0], generator=generator) * 2 - 1) * max_degrees
    return rotate(x, degrees)


def rotate(x: torch.Tensor, degrees: torch.Tensor) -> torch.Tensor:
    """Rotate each image ``x`` ``(B, C, H, W)`` float about its centre by its angle in ``degrees`` ``(B,)``,
    counter-clockwise as seen on screen (torchvision's convention), bilinear; corners from outside filled with 0."""
    b, _, h, w = x.shape
    angle = torch.deg2rad(degrees.float())
    cos, sin = torch.cos(angle), torch.sin(angle)
    zero = torch.zeros_like(cos)
    # affine_grid works in [-1, 1] coordinates per axis; the H/W factors keep a non-square image's rotation rigid
    theta = torch.stack([torch.stack([cos, -sin * h / w, zero], 1), torch.stack([sin * w / h, cos, zero], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)  # (B, H, W, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _gray(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, 1, H, W) luma."""
    if x.shape[1] == 1:
        return x
    w = torch.tensor(LUMA, dtype=x.dtype)[None, :, None, None]
    return (x * w).sum(1, keepdim=True)


def _jitter(x: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """Brightness, contrast and (RGB) saturation factors, each uniform in [1 − s, 1 + s] per image, as torchvision's
    ColorJitter: brightness scales, contrast blends with the mean gray, saturation with the pixel's gray."""
    b = x.shape[0]
    factor = lambda: (1 + (torch.rand(b, generator=generator) * 2 - 1) * strength)[:, None, None, None]  # noqa: E731
    x = (x * factor()).clamp_(0.0, 1.0)
    mean = _gray(x).mean(dim=(1, 2, 3), keepdim=True)
    x = (mean + (x - mean) * factor()).clamp_(0.0, 1.0)
    if x.shape[1] == 3:
        g = _gray(x)
        x = (g + (x - g) * factor()).clamp_(0.0, 1.0)
    return x
