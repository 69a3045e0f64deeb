"""``engine.training.trained``: a stored run as typed values — its data loaded again with the same split, its
settings for a resume, and its model ready to predict like the network that trained (the oracle)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from engine.data import LoadedData, from_samples, load_dataset
from engine.nets.spec import NetworkSpec
from engine.training.config import TrainConfig
from engine.training.evaluate import predict
from engine.training.loop import fit
from engine.training.runs import RunError, RunStore
from engine.training.tasks import Classify
from engine.training.trained import load_trained, resume_settings, run_classes, run_data, run_stats

SPEC = NetworkSpec.from_dict({"input": [1, 8, 8], "layers": [
    {"kind": "conv2d", "out_channels": 4, "padding": 1}, {"kind": "relu"}, {"kind": "flatten"},
    {"kind": "linear", "out_features": 10},
]})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    store = RunStore(tmp_path_factory.mktemp("runs"))
    data = load_dataset("digits", seed=4, max_train=300)
    config = TrainConfig(epochs=1, seed=4, device="cpu", task=Classify(label_smoothing=0.05))
    result = fit(SPEC, data, config, store=store, name="digits run")
    return store, result, data


def test_load_trained_predicts_like_the_trained_network(trained) -> None:
    store, result, data = trained
    model = load_trained(store, result.run_id)
    assert (model.name, model.task, model.dataset, model.seed, model.epochs) == (
        "digits run", Classify(label_smoothing=0.05), "digits", 4, 1)
    assert model.classes == data.card.classes and model.input_shape == (1, 8, 8)
    assert model.stats == result.stats
    images = data.val.images[:6]
    got, want = model.predict(images, k=3), predict(result.model, images, result.stats, k=3)
    assert torch.equal(got.indices, want.indices) and torch.allclose(got.probs, want.probs)
    single = model.predict(images[0], k=1)
    assert single.indices.shape == (1, 1)
    with pytest.raises(RunError, match="no run 'missing'"):
        load_trained(store, "missing")


def test_a_runs_named_data_comes_back_with_its_split(trained) -> None:
    store, result, data = trained
    run = store.get(result.run_id)
    again, why = run_data(run)
    assert why == "" and again.card == data.card
    assert torch.equal(again.train.images, data.train.images) and torch.equal(again.val.labels, data.val.labels)
    calls = []
    run_data(run, load=lambda name, seed, max_train: calls.append((name, seed, max_train)) or data)
    assert calls == [("digits", 4, 300)]  # the page passes its cached loader
    assert run_stats(run) == result.stats and run_classes(run) == data.card.classes
    settings = resume_settings(run, epochs=3, device="cpu")
    assert settings == dataclasses.replace(TrainConfig.from_dict(run.config["train"]), epochs=3)


def test_the_users_own_images_only_when_they_are_loaded(tmp_path) -> None:
    rng = torch.Generator().manual_seed(0)
    images = [torch.randint(0, 256, (12, 12, 3), dtype=torch.uint8, generator=rng).numpy() for _ in range(8)]
    mine = from_samples(images, [0, 1] * 4, ["left", "right"], image_size=8)
    store = RunStore(tmp_path)
    spec = dataclasses.replace(SPEC, input=(3, 8, 8), layers=(*SPEC.layers[:-1], dataclasses.replace(
        SPEC.layers[-1], out_features=2)))
    run = store.get(fit(spec, mine, TrainConfig(epochs=1, device="cpu"), store=store).run_id)
    assert run_data(run, mine) == (mine, "")
    other = LoadedData(dataclasses.replace(mine.card, classes=("up", "down")), mine.train, mine.val)
    data, why = run_data(run, other)
    assert data is None and why.startswith("This run trained on Your webcam samples, which is not loaded now")
