"""Read IDX files (the format of MNIST and Fashion-MNIST, LeCun et al.), plain or gzipped, without unpickling anything.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions), the dimensions as
big-endian 32-bit integers, then the data. These sets use type 0x08 (unsigned bytes): images ``(N, H, W)`` and
labels ``(N,)``. Everything the header claims is checked against the bytes actually there.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

_UBYTE = 0x08
_MAX_BYTES = 512 * 1024 * 1024  # far more than any set here; refuses a gzip that inflates without end


def read_idx(path: str | Path, ndim: int) -> np.ndarray:
    """The unsigned-byte IDX array in ``path`` (``.gz`` or not), with ``ndim`` dimensions; ValueError naming the file
    if it is not such a file."""
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path} is not an IDX file (its first two bytes must be zero)")
    if raw[2] != _UBYTE:
        raise ValueError(f"{path} holds IDX type 0x{raw[2]:02x}; only unsigned bytes (0x08) are read")
    if raw[3] != ndim:
        raise ValueError(f"{path} has {raw[3]} dimensions; expected {ndim}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path} is truncated: its header is incomplete")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    count = int(np.prod(dims, dtype=np.int64))
    if len(raw) - header != count:
        raise ValueError(f"{path} declares shape {dims} ({count} bytes of data) but holds {len(raw) - header}")
    return np.frombuffer(raw, dtype=np.uint8, count=count, offset=header).reshape(dims)


def read_images_and_labels(images: Path, labels: Path, num_classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(N, H, W)`` uint8 and labels ``(N,)`` int64 from a pair of IDX files, checked to agree."""
    x = read_idx(images, 3)
    y = read_idx(labels, 1).astype(np.int64)
    if len(x) != len(y):
        raise ValueError(f"{images} holds {len(x)} images but {labels} holds {len(y)} labels")
    if len(y) and int(y.max()) >= num_classes:
        raise ValueError(f"{labels} has label {int(y.max())}; expected labels 0..{num_classes - 1}")
    return x, y


def _read_bytes(path: Path) -> bytes:
    if path.suffix == ".gz":
        with gzip.open(path, "rb") as f:
            raw = f.read(_MAX_BYTES + 1)
    else:
        with open(path, "rb") as f:
            raw = f.read(_MAX_BYTES + 1)
    if len(raw) > _MAX_BYTES:
        raise ValueError(f"{path} is larger than {_MAX_BYTES // 2**20} MiB; not an MNIST-style file")
    return raw

