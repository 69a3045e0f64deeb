"""The classic sets torchvision knows — MNIST, Fashion-MNIST, CIFAR-10 — from files on this machine, or downloaded
when (and only when) the user asks.

Files are looked for under a data root in torchvision's own layout, so a folder that torchvision filled works here and
the other way round: ``ROOT/MNIST/raw/``, ``ROOT/FashionMNIST/raw/`` (IDX files, plain or ``.gz``) and
``ROOT/cifar-10-batches-py/``. Fashion-MNIST is also read from Debian's ``dataset-fashion-mnist`` package
(``/usr/share/datasets/fashion-mnist/``). The root is the ``root`` argument, else ``$CNNPG_DATA_DIR``, else
``~/.cache/cnn-playground/data``.

IDX files are parsed by ``engine.data.idx`` (no pickle). CIFAR-10's python batches are pickles: they are read by
torchvision's ``CIFAR10``, which first checks every file's MD5 against the published one, so only the official files
are ever unpickled. Downloads go to the same layout, from the URLs and with the MD5 sums torchvision lists, reporting
progress through a ``progress(fraction, message)`` callback.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tarfile
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from engine.data.idx import read_images_and_labels
from engine.data.types import DatasetUnavailableError, ImageSet

Progress = Callable[[float, str], None]

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
DIGIT_CLASSES = tuple(str(d) for d in range(10))

_IDX_FOLDERS = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}  # torchvision's class names = its folder names
_IDX_SIZES_MB = {"mnist": 11, "fashion_mnist": 30}
_CIFAR_FOLDER = "cifar-10-batches-py"
_CIFAR_FILES = [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch", "batches.meta"]


def data_root(root: str | Path | None = None) -> Path:
    """Where downloaded data sets live: ``root``, else ``$CNNPG_DATA_DIR``, else ``~/.cache/cnn-playground/data``."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("CNNPG_DATA_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "cnn-playground" / "data"


# ----------------------------------------------------------------------------------------------------- IDX sets


def _idx_pair(folder: Path, split: str) -> tuple[Path, Path] | None:
    """The (images, labels) files of ``split`` ("train" or "t10k") in ``folder``, plain or gzipped, if both exist."""
    found = []
    for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
        for name in (f"{split}-{kind}", f"{split}-{kind}.gz"):
            if (folder / name).is_file():
                found.append(folder / name)
                break
    return (found[0], found[1]) if len(found) == 2 else None


def idx_folder(name: str, root: str | Path | None = None) -> Path | None:
    """The folder holding all four IDX files of ``name`` ("mnist" or "fashion_mnist"), or None."""
    candidates = [data_root(root) / _IDX_FOLDERS[name] / "raw"]
    if name == "fashion_mnist":
        candidates.append(DEBIAN_FASHION_MNIST)
    for folder in candidates:
        if _idx_pair(folder, "train") and _idx_pair(folder, "t10k"):
            return folder
    return None


def idx_availability(name: str, root: str | Path | None = None) -> tuple[bool, str]:
    folder = idx_folder(name, root)
    if folder is not None:
        return True, f"IDX files in {folder}"
    where = data_root(root) / _IDX_FOLDERS[name] / "raw"
    how = f"download it when you ask (about {_IDX_SIZES_MB[name]} MB, needs internet) into {where}"
    if name == "fashion_mnist":
        how = (f"install Debian's package (apt-get install dataset-fashion-mnist, files in {DEBIAN_FASHION_MNIST}), "
               f"or {how}")
    label = "Fashion-MNIST" if name == "fashion_mnist" else "MNIST"
    return False, f"{label} is not on this machine: {how}"


def load_idx_set(name: str, root: str | Path | None = None, download: bool = False,
                 progress: Progress | None = None) -> tuple[ImageSet, ImageSet]:
    """(train, test) of MNIST or Fashion-MNIST: ``(N, 1, 28, 28)`` uint8, labels 0..9. Downloads only when
    ``download`` and the files are not there; DatasetUnavailableError with the reason otherwise."""
    folder = idx_folder(name, root)
    if folder is None and download:
        folder = _download_idx(name, data_root(root), progress)
    if folder is None:
        raise DatasetUnavailableError(idx_availability(name, root)[1])
    classes = FASHION_CLASSES if name == "fashion_mnist" else DIGIT_CLASSES
    sets = []
    for split in ("train", "t10k"):
        images, labels = _idx_pair(folder, split)  # type: ignore[misc]  (idx_folder checked both exist)
        x, y = read_images_and_labels(images, labels, len(classes))
        sets.append(ImageSet(torch.from_numpy(x.copy())[:, None], torch.from_numpy(y), classes))
    return sets[0], sets[1]


def _download_idx(name: str, root: Path, progress: Progress | None) -> Path:
    from torchvision import datasets  # only when the user asked for a download

    cls = datasets.FashionMNIST if name == "fashion_mnist" else datasets.MNIST
    folder = root / _IDX_FOLDERS[name] / "raw"
    for i, (filename, md5) in enumerate(cls.resources):
        gz = folder / filename
        if not gz.is_file():
            urls = [mirror + filename for mirror in cls.mirrors]
            download(urls, gz, md5, _sub_progress(progress, i, len(cls.resources)), label=filename)
        with gzip.open(gz, "rb") as src, open(folder / filename.removesuffix(".gz"), "wb") as dst:
            shutil.copyfileobj(src, dst)  # torchvision's layout keeps both; its MNIST class reads the plain file
    return folder


# ----------------------------------------------------------------------------------------------------- CIFAR-10


def cifar10_availability(root: str | Path | None = None) -> tuple[bool, str]:
    folder = data_root(root) / _CIFAR_FOLDER
    missing = [f for f in _CIFAR_FILES if not (folder / f).is_file()]
    if not missing:
        return True, f"CIFAR-10 batches in {folder}"
    return False, (f"CIFAR-10 is not on this machine ({folder} lacks {', '.join(missing)}): download it when you ask "
                   f"(about 170 MB, needs internet)")


def load_cifar10(root: str | Path | None = None, download: bool = False,
                 progress: Progress | None = None) -> tuple[ImageSet, ImageSet]:
    """(train, test) of CIFAR-10: ``(N, 3, 32, 32)`` uint8, labels 0..9."""
    base = data_root(root)
    if not cifar10_availability(root)[0]:
        if not download:
            raise DatasetUnavailableError(cifar10_availability(root)[1])
        _download_cifar10(base, progress)
    from torchvision import datasets

    sets = []
    for train in (True, False):
        try:
            ds = datasets.CIFAR10(str(base), train=train, download=False)  # checks each file's MD5, then unpickles
        except RuntimeError as e:
            raise DatasetUnavailableError(f"the CIFAR-10 files in {base / _CIFAR_FOLDER} are damaged or not the "
                                          f"official ones ({e}); delete the folder and download again") from None
        x = torch.from_numpy(np.ascontiguousarray(ds.data.transpose(0, 3, 1, 2)))  # (N, 32, 32, 3) -> (N, 3, 32, 32)
        sets.append(ImageSet(x, torch.as_tensor(ds.targets, dtype=torch.int64), CIFAR10_CLASSES))
    return sets[0], sets[1]


def _download_cifar10(root: Path, progress: Progress | None) -> None:
    from torchvision import datasets

    archive = root / datasets.CIFAR10.filename
    if not archive.is_file():
        download([datasets.CIFAR10.url], archive, datasets.CIFAR10.tgz_md5, progress, label="CIFAR-10")
    if progress:
        progress(1.0, "unpacking CIFAR-10")
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(root, filter="data")  # the "data" filter refuses absolute paths, '..', links out of root


# ----------------------------------------------------------------------------------------------------- download


def download(urls: list[str], dest: Path, md5: str, progress: Progress | None = None, label: str = "",
             timeout: float = 30.0) -> Path:
    """Fetch the first of ``urls`` that works into ``dest``, verifying its MD5; ``progress(fraction, message)`` as it
    goes. DatasetUnavailableError naming every URL tried and why, when none works (no internet, say)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    errors = []
    for url in urls:
        try:
            digest = _fetch(url, part, progress, label or dest.name, timeout)
        except (urllib.error.URLError, OSError, ValueError) as e:
            errors.append(f"{url}: {getattr(e, 'reason', e)}")
            continue
        if digest != md5:
            errors.append(f"{url}: the file's MD5 is {digest}, expected {md5}")
            part.unlink(missing_ok=True)
            continue
        part.replace(dest)
        return dest
    part.unlink(missing_ok=True)
    raise DatasetUnavailableError(f"could not download {label or dest.name} ({'; '.join(errors)}). Is this machine "
                                  f"online? Otherwise copy the files into {dest.parent}")


def _fetch(url: str, part: Path, progress: Progress | None, label: str, timeout: float) -> str:
    md5 = hashlib.md5(usedforsecurity=False)
    with urllib.request.urlopen(url, timeout=timeout) as response, open(part, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0)
        done = 0
        while chunk := response.read(1 << 20):
            out.write(chunk)
            md5.update(chunk)
            done += len(chunk)
            if progress:
                size = f"{done / 1e6:.1f} of {total / 1e6:.1f} MB" if total else f"{done / 1e6:.1f} MB"
                progress(min(done / total, 1.0) if total else 0.0, f"downloading {label}: {size}")
    return md5.hexdigest()


def _sub_progress(progress: Progress | None, i: int, n: int) -> Progress | None:
    """Progress of part ``i`` of ``n`` as a fraction of the whole."""
    if progress is None:
        return None
    return lambda f, msg: progress((i + f) / n, msg)
