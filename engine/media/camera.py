"""A classifier on camera frames: what the live webcam prediction runs on every frame.

``classify_frame`` is a pure function ``(model, frame) -> (annotated frame, top-k)``: the frame (``(H, W, 3)`` uint8
RGB, as a webcam gives it) is centre-cropped to a square — the way webcam samples are cropped for training
(``engine.data.from_samples``) — adapted to the network's input and normalised with the training statistics
(``engine.data.adapt_batch``, exactly as in training), classified, and the top-k classes with their probabilities are
drawn on a copy of the frame with PIL, together with the crop's outline and a small inset of what the network sees.
The Streamlit page only wraps it in the webcam callback (after streamlit-webrtc's examples: a pure frame function,
wrapped once).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from torch import nn

from engine.data import adapt_batch
from engine.data.normalization import Normalization
from engine.device import model_device
from engine.media.images import centre_square
from engine.nets.spec import Shape

TopKList = list[tuple[str, float]]  # (class name, probability), most probable first

_FONT_FRACTION = 0.045  # text height as a fraction of the frame's shorter side
_INSET_FRACTION = 0.25  # the "network sees" inset's side, as a fraction of the shorter side
_BOX = (20, 20, 20, 180)  # RGBA of the panel behind the text
_BAR = (80, 200, 120, 255)
_CROP = (255, 210, 0, 255)
_RED = (220, 30, 30)
_REDUCE_FACTOR = 2  # frames are reduced to this many times the input's side before adapt_batch
_MIN_REDUCED = 64


def frame_input(frame: np.ndarray, input_shape: Shape, stats: Any) -> torch.Tensor:
    """What the network gets for a frame: ``(H, W, 3)`` uint8 RGB → float32 ``(1, *input_shape)``, the centred
    square crop adapted (resized, channels converted) and normalised with ``stats`` (``(mean, std)``, None: none).

    A large crop is first reduced with PIL (antialiased, about 1 ms for a 480×480 crop) to a few times the input's
    side, so that ``adapt_batch`` works on a small image: a webcam frame costs milliseconds, not tens of them."""
    _check_frame(frame)
    top, left, side = centre_square(frame)
    crop = np.ascontiguousarray(frame[top : top + side, left : left + side])
    reduced = max(_MIN_REDUCED, _REDUCE_FACTOR * max(input_shape[1:]))
    if side > reduced:
        crop = np.array(Image.fromarray(crop).resize((reduced, reduced), Image.Resampling.BILINEAR,
                                                     reducing_gap=2.0))
    x = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1)[None]  # (1, 3, s, s) uint8
    return adapt_batch(x, tuple(input_shape), stats)


@torch.inference_mode()
def classify_frame(model: nn.Module, frame: np.ndarray, stats: Any, input_shape: Shape,
                   classes: Sequence[str], k: int = 3) -> tuple[np.ndarray, TopKList]:
    """Classify one frame and draw the answer on it.

    ``frame``: ``(H, W, 3)`` uint8 RGB. ``stats``: the training set's per-channel ``(mean, std)`` (or None).
    ``model`` takes ``(B, *input_shape)`` and gives ``(B, len(classes))`` scores; it is run in eval mode, on its own
    device. Returns the annotated frame — a new ``(H, W, 3)`` uint8 array, the input is not changed — and the top
    ``k`` (capped at the class count) as ``(class, probability)`` pairs, most probable first.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    x = frame_input(frame, input_shape, stats)  # (1, C, h, w)
    logits = model(x.to(model_device(model))).float()  # (1, K)
    if logits.ndim != 2 or logits.shape[1] != len(classes):
        raise ValueError(f"the network gives scores of shape {tuple(logits.shape[1:])} but there are "
                         f"{len(classes)} classes")
    probs = torch.softmax(logits[0], 0).cpu()
    top = probs.topk(min(k, len(classes)))
    result = [(str(classes[i]), float(v)) for v, i in zip(top.values.tolist(), top.indices.tolist(), strict=True)]
    return annotate(frame, result, seen=x[0], stats=stats), result


def annotate(frame: np.ndarray, top: TopKList, seen: torch.Tensor | None = None, stats: Any = None) -> np.ndarray:
    """A copy of ``frame`` with the top-k list (names, percentages, bars) in a panel at the top left, the centred
    square's outline, and — when ``seen`` (the network's ``(C, h, w)`` input, normalised with ``stats``) is given —
    an inset of it at the bottom right, enlarged with nearest-neighbour so its pixels show."""
    _check_frame(frame)
    h, w = frame.shape[:2]
    image = Image.fromarray(np.ascontiguousarray(frame))  # a copy: the frame is not changed
    draw = ImageDraw.Draw(image)
    short = min(h, w)
    size = max(10, round(short * _FONT_FRACTION))
    font = ImageFont.load_default(size=size)
    pad, line = size // 2, round(size * 1.5)
    top_, left, side = centre_square(frame)
    draw.rectangle((left, top_, left + side - 1, top_ + side - 1), outline=_CROP[:3], width=max(1, short // 160))
    if top:
        texts = [f"{name}  {100 * p:.0f}%" for name, p in top]
        text_w = max(draw.textlength(t, font=font) for t in texts)
        bar_w = max(size * 4, round(text_w * 0.6))
        box = (0, 0, min(w, round(text_w + bar_w + 3 * pad)), min(h, pad + line * len(texts)))
        panel = image.crop(box).convert("RGBA")  # only the panel is blended: the rest of the frame is not touched
        shade = Image.new("RGBA", panel.size, _BOX)
        image.paste(Image.alpha_composite(panel, shade).convert("RGB"), box[:2])
        for i, (t, (_, p)) in enumerate(zip(texts, top, strict=True)):
            y = pad + i * line
            draw.text((pad, y), t, fill=(255, 255, 255), font=font)
            x0 = round(pad * 2 + text_w)
            draw.rectangle((x0, y + size // 4, x0 + round(bar_w * p), y + size), fill=_BAR[:3])
    if seen is not None:
        inset = _inset(seen, stats, max(8, round(short * _INSET_FRACTION)))
        image.paste(inset, (w - inset.width - pad, h - inset.height - pad))
    return np.asarray(image, dtype=np.uint8).copy()


def square_sample(frame: np.ndarray, side: int) -> np.ndarray:
    """A webcam sample to keep: the frame's centred square, resized to ``(side, side, 3)`` uint8 (bilinear, reduced
    with antialiasing). Small enough to keep hundreds per class in memory."""
    _check_frame(frame)
    if isinstance(side, bool) or not isinstance(side, int) or side < 1:
        raise ValueError(f"side must be a positive integer, got {side!r}")
    top, left, sq = centre_square(frame)
    crop = Image.fromarray(np.ascontiguousarray(frame[top : top + sq, left : left + sq]))
    return np.asarray(crop.resize((side, side), Image.Resampling.BILINEAR, reducing_gap=2.0), dtype=np.uint8).copy()


def fit_drawing(image: np.ndarray, background: tuple[int, int, int] = (0, 0, 0), margin: float = 0.15,
                threshold: int = 30) -> np.ndarray | None:
    """A drawing made to look like a data set's sample: cropped to the box around the strokes, centred on a square of
    ``background`` with ``margin`` (a fraction of the side) on each side — how MNIST's digits were centred.
    ``image``: ``(H, W, 3)`` or ``(H, W, 4)`` uint8 (a canvas's RGBA; transparent pixels count as background).
    Pixels differing from ``background`` by more than ``threshold`` (summed over R, G, B) are strokes. Returns
    ``(S, S, 3)`` uint8, or None when nothing is drawn."""
    a = np.asarray(image)
    if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] not in (3, 4):
        raise ValueError(f"a drawing must be a (H, W, 3 or 4) uint8 array, got {a.dtype} of shape {a.shape}")
    if not 0.0 <= margin < 0.5:
        raise ValueError(f"margin must be in [0, 0.5), got {margin!r}")
    bg = np.asarray(background, dtype=np.int32)
    rgb = a[..., :3].astype(np.int32)
    if a.shape[2] == 4:  # transparent: background
        alpha = a[..., 3:4].astype(np.int32)
        rgb = (rgb * alpha + bg * (255 - alpha)) // 255
    ink = np.abs(rgb - bg).sum(-1) > threshold  # (H, W)
    if not ink.any():
        return None
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    box = rgb[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = box.shape[:2]
    side = round(max(h, w) / (1.0 - 2.0 * margin))
    out = np.empty((side, side, 3), np.int32)
    out[:] = bg
    top, left = (side - h) // 2, (side - w) // 2
    out[top : top + h, left : left + w] = box
    return out.astype(np.uint8)


def mark_recording(frame: np.ndarray, label: str) -> np.ndarray:
    """A copy of ``frame`` (``(H, W, 3)`` uint8) with a red border and "● REC <label>" at the top left: what the
    webcam shows while samples of a class are being recorded."""
    _check_frame(frame)
    h, w = frame.shape[:2]
    out = frame.copy()
    b = max(2, min(h, w) // 60)
    out[:b], out[-b:], out[:, :b], out[:, -b:] = _RED, _RED, _RED, _RED
    image = Image.fromarray(out)
    draw = ImageDraw.Draw(image)
    size = max(10, round(min(h, w) * _FONT_FRACTION))
    font = ImageFont.load_default(size=size)
    text = f"REC  {label}"
    x, y = 2 * b + size // 2, 2 * b + size // 2
    draw.rectangle((2 * b, 2 * b, x + size * 1.4 + draw.textlength(text, font=font) + size // 2, y + size * 1.4),
                   fill=(20, 20, 20))
    draw.ellipse((x, y + size * 0.2, x + size, y + size * 1.2), fill=_RED)
    draw.text((x + size * 1.4, y), text, fill=(255, 255, 255), font=font)
    return np.asarray(image, dtype=np.uint8).copy()


def _inset(seen: torch.Tensor, stats: Any, side: int) -> Image.Image:
    """The network's input as a picture: normalisation undone, gray or RGB, enlarged to ``side`` pixels."""
    x = seen.detach().float().cpu()  # (C, h, w)
    stats = Normalization.coerce(stats)
    if stats is not None:
        x = stats.denormalize(x[None])[0]
    a = (x.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()  # (h, w, C)
    im = Image.fromarray(a[..., 0] if a.shape[2] == 1 else a).convert("RGB")
    ratio = side / max(im.size)
    return im.resize((max(1, round(im.width * ratio)), max(1, round(im.height * ratio))), Image.Resampling.NEAREST)


def _check_frame(frame: Any) -> None:
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        shape = getattr(frame, "shape", None)
        raise ValueError(f"a frame must be a (H, W, 3) uint8 RGB array, got {getattr(frame, 'dtype', type(frame))} "
                         f"of shape {shape}")
    if min(frame.shape[:2]) < 1:
        raise ValueError(f"the frame is empty: shape {frame.shape}")
