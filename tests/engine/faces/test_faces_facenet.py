"""The FaceNet backend: the network is facenet-pytorch's InceptionResnetV1 (its own module, from the wheel's source,
is the oracle: same parameter names, same outputs); without a weights file the backend says why and how to get it;
with one — random weights of the same module saved to a temporary ``$CNNPG_WEIGHTS_DIR`` — it works end to end.
Nothing is downloaded here."""

from __future__ import annotations

import importlib.util
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from faces_photos import photo

from engine.faces import facenet
from engine.faces.backend import BACKENDS, available, backend
from engine.faces.gallery import Gallery
from engine.faces.pipeline import embed_one
from engine.faces.verify import verify
from engine.nets.weights import ENV_DIR


def _reference_module():
    """facenet-pytorch's ``inception_resnet_v1`` from the installed wheel, without its download helpers (``requests``
    and ``tqdm`` are not installed; nothing here downloads)."""
    spec = importlib.util.find_spec("facenet_pytorch")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / "inception_resnet_v1.py"
    source = path.read_text()
    for line in ("import requests", "from requests.adapters import HTTPAdapter",
                 "from .utils.download import download_url_to_file"):
        source = source.replace(line, "")
    module = types.ModuleType("facenet_reference")
    exec(compile(source, str(path), "exec"), module.__dict__)
    return module


@pytest.fixture()
def no_weights(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_DIR, str(tmp_path / "weights"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory):
    """Random weights of the network (and a random 8,631-identity classifier, as the released file has) saved as
    the released file's name in a temporary weights folder."""
    folder = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    net = facenet.InceptionResnetV1()
    with torch.no_grad():  # running statistics away from 0/1, so the BatchNorms' buffers are exercised
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d | torch.nn.BatchNorm1d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    state = dict(net.state_dict())
    state["logits.weight"] = torch.randn(8631, 512) * 0.01
    state["logits.bias"] = torch.zeros(8631)
    torch.save(state, folder / facenet.WEIGHTS.file)
    return folder


def test_the_network_is_facenet_pytorchs():
    reference = _reference_module().InceptionResnetV1().eval()
    ours = facenet.InceptionResnetV1().eval()
    assert list(ours.state_dict()) == list(reference.state_dict())  # the released file's names, in order
    reference.load_state_dict(ours.state_dict())
    x = torch.randn(2, 3, 160, 160)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x))
    assert sum(p.numel() for p in ours.parameters()) == 23_482_624


def test_without_weights_the_backend_says_why_and_how(no_weights):
    why = available()["facenet"]
    assert why is not None
    assert facenet.WEIGHTS.file in why and "$CNNPG_WEIGHTS_DIR" in why and facenet.WEIGHTS.url in why
    with pytest.raises(ValueError, match="cannot run here.*20180402-114759-vggface2.pt"):
        backend("facenet")
    with pytest.raises(FileNotFoundError):
        facenet.locate(allow_download=False)
    assert not (no_weights / "torch").exists() or not any((no_weights / "torch").rglob("*.pt"))  # nothing fetched


def test_the_download_is_verified_by_the_released_files_hash():
    w = facenet.WEIGHTS
    assert w.url == "https://github.com/timesler/facenet-pytorch/releases/download/v2.2.9/20180402-114759-vggface2.pt"
    assert "281cebca8662831adb987a874bdcb36e73f5b1c6dc5ee5878f305e985625d99b".startswith(w.sha256_prefix)
    assert len(w.sha256_prefix) >= 8


def test_with_weights_it_works_end_to_end(weights_dir, monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_DIR, str(weights_dir))
    assert available()["facenet"] is None
    faces = BACKENDS.get("facenet").build()  # not backend(): random weights must not stay cached for this process
    assert faces.source.origin == "env" and faces.dim == 512 and faces.metric == "cosine"
    result = verify(photo("obama.jpg"), photo("obama2.jpg"), faces)
    assert result.backend == "facenet" and result.metric == "cosine" and result.threshold == 0.30
    assert result.a.crop.shape == (160, 160, 3)
    assert np.allclose(np.linalg.norm(result.a.vector), 1.0, atol=1e-5)
    assert 0.0 <= result.distance <= 2.0 and isinstance(result.same, bool)
    # the embedding is the reference network's on the crop, with the same weights and input scaling
    reference = _reference_module().InceptionResnetV1(pretrained=None).eval()
    state = torch.load(weights_dir / facenet.WEIGHTS.file, weights_only=True)
    reference.load_state_dict({k: v for k, v in state.items() if not k.startswith("logits.")})
    x = (torch.from_numpy(result.a.crop.astype(np.float32)).permute(2, 0, 1)[None] - 127.5) / 128
    with torch.no_grad():
        np.testing.assert_allclose(result.a.vector, reference(x)[0].numpy(), atol=1e-5)
    # the gallery keeps its vectors apart from another backend's: a FaceNet probe meets FaceNet rows only
    gallery = Gallery(tmp_path)
    gallery.enrol("", "Barack", [embed_one(photo("obama.jpg"), faces)], "facenet")
    match = gallery.identify("", result.b.vector, "facenet", 2.0, "cosine")
    assert match.nearest == "Barack" and match.known
    other = embed_one(photo("obama2.jpg"), backend("mtcnn"))
    assert gallery.identify("", other.vector, "mtcnn", 2.0).nearest is None  # no MTCNN + dlib rows
