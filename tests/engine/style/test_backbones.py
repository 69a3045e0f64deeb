"""The backbones of style transfer (engine.style.backbones): EfficientNet-Lite0's ImageNet weights load strictly into
the extractor, whose activations are the network's own — its head's, pooled and put through the file's classifier,
name the bundled cat photo a cat; the layers' channels and strides are what a real forward pass gives; VGG-19 loads
from a weights file through the resolver and matches torchvision's VGG-19 layer for layer; nothing is downloaded
unless allowed, and an allowed download is verified (tested offline with a file:// URL)."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from engine.nets import weights as W
from engine.nets.weights import imagenet_classes, resolve, resolve_weights
from engine.style.backbones import BACKBONES, VGG19_WEIGHTS, FeatureExtractor, availability, backbone, load_extractor
from engine.training.runs import load_state_dict

CATS = {"tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"}


@pytest.fixture(autouse=True)
def _no_local_weights(tmp_path, monkeypatch):
    """Only the package's file, whatever this machine has in its weights folder or torch cache."""
    monkeypatch.delenv(W.ENV_DIR, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))


def _photo(cat: np.ndarray, side: int = 224) -> torch.Tensor:
    img = Image.fromarray(cat).resize((side, side), Image.BILINEAR)
    return torch.from_numpy(np.array(img)).permute(2, 0, 1).float()[None] / 255


def test_lite0_loads_strictly_and_its_head_names_the_cat(lite0: FeatureExtractor, cat):
    state = load_state_dict(resolve("efficientnet_lite0").path)
    body = lite0.body.state_dict()
    kept = [v for k, v in state.items() if not k.startswith("_fc.")]
    assert len(body) == len(kept) == len(state) - 2  # every tensor but the classifier's, one to one
    assert all(torch.equal(a, b) for a, b in zip(body.values(), kept, strict=True))
    with torch.no_grad():
        head = lite0(_photo(cat), ["head"])["head"]  # (1, 1280, 7, 7)
        logits = head.mean(dim=(2, 3)) @ state["_fc.weight"].T + state["_fc.bias"]
    probs = logits.softmax(1)[0]
    classes = imagenet_classes()
    assert head.shape == (1, 1280, 7, 7)
    assert classes[int(probs.argmax())] in CATS and float(probs.max()) > 0.5
    assert {classes[int(i)] for i in probs.topk(3).indices} <= CATS


def test_the_extractor_gives_the_networks_own_activations(lite0: FeatureExtractor, cat):
    """Oracle: the whole pretrained network (engine.nets.weights) run with forward hooks on the same layers."""
    net = W.pretrained_model("efficientnet_lite0")
    names = ["stem", "block 4", "block 9", "head"]
    seen = {}
    for name in names:
        net[backbone("efficientnet_lite0").layer(name).index].register_forward_hook(
            lambda _m, _i, out, name=name: seen.__setitem__(name, out))
    x = _photo(cat, 160)
    stats = W.imagenet_stats("efficientnet_lite0")
    with torch.no_grad():
        net((x - torch.tensor(stats.mean).view(1, 3, 1, 1)) / torch.tensor(stats.std).view(1, 3, 1, 1))
        ours = lite0(x, names)
    assert list(ours) == ["stem", "block 4", "block 9", "head"]
    for name in names:
        assert torch.allclose(ours[name], seen[name], atol=1e-5), name


@pytest.mark.parametrize("name", BACKBONES.names())
def test_each_layers_channels_and_stride_are_a_forward_passes(name):
    """The layer table against a forward pass of the network (random weights, on the meta device: shapes only)."""
    from engine.nets.build import build

    b = backbone(name)
    net = build(b.spec(), device="meta")
    x = torch.zeros(1, 3, 224, 224, device="meta")
    shapes = []
    for module in list(net)[: b.layers[-1].index + 1]:
        x = module(x)
        shapes.append(tuple(x.shape))
    for layer in b.layers:
        _, c, h, _ = shapes[layer.index]
        assert (layer.channels, layer.stride) == (c, 224 // h), layer
    assert b.content_layer in b.layer_names and set(b.style_layers) <= set(b.layer_names)
    assert "channels" in b.layers[0].label and "px" in b.layers[0].label


def test_lite0_names_its_parts_and_vgg19_its_convolutions():
    lite = backbone("efficientnet_lite0").layer_names
    assert lite[0] == "stem" and lite[-1] == "head" and len(lite) == 18 and lite[4] == "block 4"
    vgg = backbone("vgg19").layer_names
    assert len(vgg) == 16 and vgg[:3] == ("conv1_1", "conv1_2", "conv2_1") and vgg[-1] == "conv5_4"
    with pytest.raises(ValueError, match="has no layer 'conv9_9'; choose one of conv1_1"):
        backbone("vgg19").layer("conv9_9")
    with pytest.raises(ValueError, match="unknown style backbone 'alexnet'"):
        backbone("alexnet")


# --------------------------------------------------------------------------------------------------- VGG-19


@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory):
    """A VGG-19 weights file in torchvision's format (random weights, torchvision's own feature layers) — the real one
    is 548 MB and is never downloaded in tests. Its classifier is one small stand-in tensor: the loader leaves it."""
    from torchvision.models.vgg import cfgs, make_layers

    torch.manual_seed(0)
    features = make_layers(cfgs["E"])
    state = {f"features.{k}": v for k, v in features.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(2, 2)
    folder = tmp_path_factory.mktemp("weights")
    torch.save(state, folder / VGG19_WEIGHTS.file)
    return folder, features.eval()


def test_vgg19_is_not_available_offline_unless_its_file_is_there(vgg_file, monkeypatch, tmp_path):
    ok, why = availability("vgg19")
    assert not ok and "no weights for VGG-19 found" in why and "allow the download" in why
    ok, why = availability("vgg19", allow_download=True)  # allowed: offered, but nothing is fetched by asking
    assert ok and "will be downloaded" in why
    assert not (tmp_path / "torch_home" / "hub" / "checkpoints" / VGG19_WEIGHTS.file).exists()
    with pytest.raises(FileNotFoundError, match="no weights for VGG-19 found"):
        load_extractor("vgg19")
    monkeypatch.setenv(W.ENV_DIR, str(vgg_file[0]))
    ok, why = availability("vgg19")
    assert ok and str(vgg_file[0]) in why


def test_vgg19_loads_from_the_resolver_and_matches_torchvision(vgg_file, monkeypatch):
    folder, features = vgg_file
    monkeypatch.setenv(W.ENV_DIR, str(folder))
    vgg = load_extractor("vgg19")
    assert str(folder) in vgg.source
    x = torch.rand(1, 3, 48, 48, generator=torch.Generator().manual_seed(1))
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (VGG19_WEIGHTS.stats.mean, VGG19_WEIGHTS.stats.std))
    names = ["conv1_1", "conv3_1", "conv4_2", "conv5_1"]
    with torch.no_grad():
        ours = vgg(x, names)
        for name in names:
            index = backbone("vgg19").layer(name).index
            assert torch.allclose(ours[name], features[: index + 1]((x - mean) / std), atol=1e-5), name


def test_an_allowed_download_is_verified(tmp_path):
    """``resolve_weights`` downloads only when allowed, into torch's cache, and keeps the file only when its SHA-256
    starts as the weights say (a file:// URL stands in for the network)."""
    source = tmp_path / "served.pth"
    torch.save({"w": torch.ones(3)}, source)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    k = replace(VGG19_WEIGHTS, file="tiny-weights.pth", url=source.as_uri(), sha256_prefix=digest[:8])
    with pytest.raises(FileNotFoundError, match="allow the download"):
        resolve_weights(k, "Tiny")
    got = resolve_weights(k, "Tiny", allow_download=True)
    assert got.origin == "download" and got.path == tmp_path / "torch_home" / "hub" / "checkpoints" / k.file
    assert torch.equal(load_state_dict(got.path)["w"], torch.ones(3))
    assert resolve_weights(k, "Tiny").origin == "torch_cache"  # found there next time
    bad = replace(k, file="other.pth", sha256_prefix="00000000" if digest[:8] != "00000000" else "11111111")
    with pytest.raises(FileNotFoundError, match="failed"):
        resolve_weights(bad, "Tiny", allow_download=True)
    assert not (tmp_path / "torch_home" / "hub" / "checkpoints" / "other.pth").exists()
