"""The FaceNet backend: MTCNN finds the faces, FaceNet's Inception-ResNet-v1 embeds them in 512 numbers.

FaceNet (Schroff et al., 2015) learns the embedding with the triplet loss; the network here is Inception-ResNet-v1
(Szegedy et al., 2016) as David Sandberg's ``facenet`` trained it on VGGFace2 (model 20180402-114759: 99.65% on LFW),
ported to PyTorch by facenet-pytorch, whose released state dict is the weights file. The module below is written
here with facenet-pytorch's parameter names (its package does not import without its dependencies); its output is the
embedding normalised to length 1.

The weights (107 MB) are not in any wheel. They are resolved by ``engine.nets.weights.resolve_weights``: a file in
``$CNNPG_WEIGHTS_DIR`` or torch's cache (``$TORCH_HOME/hub/checkpoints``), or — only when the user allows it — a
download of facenet-pytorch's release file, verified by its SHA-256 (``WEIGHTS``). Read with
``torch.load(weights_only=True)``; the classifier of the 8,631 training identities (``logits.*``) is dropped.

A face is cropped as facenet-pytorch's MTCNN does by default: its box (no margin), resized to 160×160 (bilinear),
pixels mapped to ``(x − 127.5) / 128``. Thresholds from deepface's table for this very model ("Facenet512"):
0.30 cosine and 1.04 euclidean on the unit vectors (deepface's ``euclidean_l2``).
"""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image
from torch import nn

from engine.data.normalization import Normalization
from engine.faces.backend import TITLES, Face, FaceBackend
from engine.nets.presets import Weights
from engine.nets.weights import WeightsSource, resolve_weights

CROP = 160
TITLE = TITLES["facenet"]
WEIGHTS = Weights(
    file="20180402-114759-vggface2.pt", dataset="VGGFace2",
    stats=Normalization((127.5 / 255,) * 3, (128 / 255,) * 3), licence="MIT (facenet-pytorch; Sandberg's facenet)",
    url="https://github.com/timesler/facenet-pytorch/releases/download/v2.2.9/20180402-114759-vggface2.pt",
    sha256_prefix="281cebca86628")  # the file's SHA-256 begins 281cebca8662831a…; 111,898,327 bytes


def _conv(cin: int, cout: int, kernel, stride: int = 1, padding=0) -> nn.Sequential:
    """Conv (no bias) → BatchNorm (TensorFlow's eps) → ReLU, named ``conv``/``bn`` as the state dict's."""
    block = nn.Sequential()
    block.add_module("conv", nn.Conv2d(cin, cout, kernel, stride, padding, bias=False))
    block.add_module("bn", nn.BatchNorm2d(cout, eps=0.001))
    block.add_module("relu", nn.ReLU())
    return block


class _Residual(nn.Module):
    """An Inception-ResNet block: parallel branches, concatenated, a 1×1 convolution back to ``channels``, scaled and
    added to the input (then a ReLU, except in the last block)."""

    def __init__(self, channels: int, branches: list[nn.Module], width: int, scale: float, relu: bool = True):
        super().__init__()
        for i, b in enumerate(branches):
            self.add_module(f"branch{i}", b)
        self.n, self.scale, self.relu = len(branches), scale, relu
        self.conv2d = nn.Conv2d(width, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2d(torch.cat([getattr(self, f"branch{i}")(x) for i in range(self.n)], 1))
        out = out * self.scale + x
        return torch.relu(out) if self.relu else out


def _block35(scale: float) -> _Residual:
    return _Residual(256, [_conv(256, 32, 1),
                           nn.Sequential(_conv(256, 32, 1), _conv(32, 32, 3, 1, 1)),
                           nn.Sequential(_conv(256, 32, 1), _conv(32, 32, 3, 1, 1), _conv(32, 32, 3, 1, 1))],
                     96, scale)


def _block17(scale: float) -> _Residual:
    return _Residual(896, [_conv(896, 128, 1),
                           nn.Sequential(_conv(896, 128, 1), _conv(128, 128, (1, 7), 1, (0, 3)),
                                         _conv(128, 128, (7, 1), 1, (3, 0)))], 256, scale)


def _block8(scale: float, relu: bool = True) -> _Residual:
    return _Residual(1792, [_conv(1792, 192, 1),
                            nn.Sequential(_conv(1792, 192, 1), _conv(192, 192, (1, 3), 1, (0, 1)),
                                          _conv(192, 192, (3, 1), 1, (1, 0)))], 384, scale, relu)


class _Concat(nn.Module):
    """Branches side by side (the reduction blocks ``mixed_6a``, ``mixed_7a``)."""

    def __init__(self, *branches: nn.Module):
        super().__init__()
        for i, b in enumerate(branches):
            self.add_module(f"branch{i}", b)
        self.n = len(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([getattr(self, f"branch{i}")(x) for i in range(self.n)], 1)


class InceptionResnetV1(nn.Module):
    """``(B, 3, 160, 160)`` faces, ``(x − 127.5) / 128`` -> ``(B, 512)`` unit-length embeddings."""

    def __init__(self) -> None:
        super().__init__()
        self.conv2d_1a = _conv(3, 32, 3, 2)
        self.conv2d_2a = _conv(32, 32, 3)
        self.conv2d_2b = _conv(32, 64, 3, 1, 1)
        self.maxpool_3a = nn.MaxPool2d(3, 2)
        self.conv2d_3b = _conv(64, 80, 1)
        self.conv2d_4a = _conv(80, 192, 3)
        self.conv2d_4b = _conv(192, 256, 3, 2)
        self.repeat_1 = nn.Sequential(*[_block35(0.17) for _ in range(5)])
        self.mixed_6a = _Concat(_conv(256, 384, 3, 2),
                                nn.Sequential(_conv(256, 192, 1), _conv(192, 192, 3, 1, 1), _conv(192, 256, 3, 2)),
                                nn.MaxPool2d(3, 2))
        self.repeat_2 = nn.Sequential(*[_block17(0.10) for _ in range(10)])
        self.mixed_7a = _Concat(nn.Sequential(_conv(896, 256, 1), _conv(256, 384, 3, 2)),
                                nn.Sequential(_conv(896, 256, 1), _conv(256, 256, 3, 2)),
                                nn.Sequential(_conv(896, 256, 1), _conv(256, 256, 3, 1, 1), _conv(256, 256, 3, 2)),
                                nn.MaxPool2d(3, 2))
        self.repeat_3 = nn.Sequential(*[_block8(0.20) for _ in range(5)])
        self.block8 = _block8(1.0, relu=False)
        self.last_linear = nn.Linear(1792, 512, bias=False)
        self.last_bn = nn.BatchNorm1d(512, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in (self.conv2d_1a, self.conv2d_2a, self.conv2d_2b, self.maxpool_3a, self.conv2d_3b,
                      self.conv2d_4a, self.conv2d_4b, self.repeat_1, self.mixed_6a, self.repeat_2, self.mixed_7a,
                      self.repeat_3, self.block8):
            x = layer(x)
        x = self.last_bn(self.last_linear(x.mean((2, 3))))
        return nn.functional.normalize(x, p=2, dim=1)


def locate(allow_download: bool = False) -> WeightsSource:
    """The weights file (``engine.nets.weights.resolve_weights``); ``FileNotFoundError`` saying where it looked and
    how to get it. A download happens only when ``allow_download`` (the user ticked it), verified by SHA-256."""
    return resolve_weights(WEIGHTS, TITLE, name="facenet", allow_download=allow_download)


def missing() -> str | None:
    """Why FaceNet cannot run here (no weights file on this machine, and how to get one), or None."""
    from engine.faces import mtcnn

    if (why := mtcnn.missing()) is not None:
        return why
    try:
        locate()
    except FileNotFoundError as e:
        return str(e)
    return None


def load_network(path) -> InceptionResnetV1:
    """The network with the weights of ``path`` (``weights_only``; the ``logits.*`` classifier dropped), eval mode."""
    with open(path, "rb") as f:
        state = torch.load(io.BytesIO(f.read()), map_location="cpu", weights_only=True)
    state = {k: v for k, v in state.items() if not k.startswith("logits.")}
    net = InceptionResnetV1()
    net.load_state_dict(state, strict=True)
    return net.eval()


class FacenetBackend(FaceBackend):
    """MTCNN's detector, the box crop at 160×160, FaceNet's 512-d unit-length embedding."""

    name = "facenet"
    title = TITLE
    dim = 512
    crop_size = CROP
    metric = "cosine"
    threshold = 0.30
    thresholds = {"cosine": 0.30, "euclidean": 1.04}  # deepface's for Facenet512 (euclidean on unit vectors)

    def __init__(self) -> None:
        super().__init__()
        from engine.faces.mtcnn_backend import MtcnnDetector

        self.source = locate()
        self.net = load_network(self.source.path)
        self.detector = MtcnnDetector()

    def detect(self, image: np.ndarray) -> list[Face]:
        with self.lock:
            return self.detector.detect(_rgb(image))

    def align(self, image: np.ndarray, face: Face) -> np.ndarray:
        h, w = image.shape[:2]
        x0, y0, x1, y1 = (int(v) for v in face.box)  # facenet-pytorch's extract_face: the box, clipped
        box = (max(x0, 0), max(y0, 0), min(x1, w), min(y1, h))
        crop = Image.fromarray(_rgb(image)).crop(box).resize((CROP, CROP), Image.BILINEAR)
        return np.asarray(crop)

    @torch.inference_mode()
    def embed(self, crops: list[np.ndarray]) -> np.ndarray:
        if not crops:
            return np.zeros((0, self.dim), np.float32)
        for c in crops:
            if c.shape != (CROP, CROP, 3) or c.dtype != np.uint8:
                raise ValueError(f"FaceNet embeds {CROP}×{CROP}×3 uint8 crops, got {c.shape} {c.dtype}")
        x = torch.from_numpy(np.stack(crops).astype(np.float32)).permute(0, 3, 1, 2)
        with self.lock:
            return self.net((x - 127.5) / 128.0).numpy().astype(np.float32)  # (N, 512)


def _rgb(image: np.ndarray) -> np.ndarray:
    from engine.faces.dlib_backend import _rgb as rgb

    return rgb(image)
