"""``LoadedData.origin``: how a named set was loaded, so that another machine loads the same set (a job on a Ray
cluster: docs/ray.md); sets made otherwise have none. Oracle: the set loaded again from its origin, image for image."""

from __future__ import annotations

import torch

from engine.data import load_dataset
from engine.data.uploads import from_samples


def test_a_named_set_says_how_it_was_loaded_and_loads_the_same_again():
    data = load_dataset("digits", seed=3, max_train=100)
    assert data.origin == {"name": "digits", "seed": 3, "max_train": 100}
    again = load_dataset(data.origin["name"], seed=data.origin["seed"], max_train=data.origin["max_train"])
    assert torch.equal(again.train.images, data.train.images) and torch.equal(again.val.images, data.val.images)
    other = load_dataset("digits", seed=4, max_train=100)
    assert not torch.equal(other.train.images, data.train.images)  # the seed is part of what makes the set


def test_a_set_made_from_samples_has_no_origin():
    images = [torch.full((8, 8, 3), i * 20, dtype=torch.uint8).numpy() for i in range(10)]
    data = from_samples(images, [i % 2 for i in range(10)], ["a", "b"])
    assert data.origin is None
