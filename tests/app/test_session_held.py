"""``playground.cache.Held``: one session's results within a byte budget, the oldest dropped first; and the shared
read-only networks (``shared_network``) — one copy for every session, never changed by a page."""

from __future__ import annotations

import numpy as np
import torch

from engine.nets.build import build
from engine.nets.presets import get_preset
from engine.nets.spec import NetworkSpec
from playground.cache import Held, nbytes, shared_network

MIB = 1024 * 1024


def test_nbytes_counts_tensors_and_arrays_through_containers():
    value = {"a": [torch.zeros(1024, dtype=torch.float32), (np.zeros((2, 512), dtype=np.uint8), "x")]}
    assert 4096 + 1024 <= nbytes(value) < 4096 + 1024 + 200


def test_past_the_budget_the_oldest_results_go_first_and_the_newest_stays():
    kept = Held(3 * MIB)
    made = []

    def make(i: int):
        made.append(i)
        return torch.zeros(MIB // 4, dtype=torch.float32)  # 1 MiB

    for i in range(5):
        kept.keep(("maps", i), lambda i=i: make(i))
    assert [k[1] for k in kept._items] == [2, 3, 4] and kept.used == 3 * MIB
    kept.keep(("maps", 3), lambda: make(-1))  # still held: not made again, and now the newest
    assert made == [0, 1, 2, 3, 4]
    kept.keep(("maps", 0), lambda: make(0))  # dropped: made again, on demand
    assert made[-1] == 0 and [k[1] for k in kept._items] == [4, 3, 0]  # 3 was used after 4
    huge = kept.put(("eval", 1), torch.zeros(MIB, dtype=torch.float32))  # 4 MiB, over the budget alone
    assert list(kept._items) == [("eval", 1)] and kept.get(("eval", 1)) is huge
    kept.drop("eval")
    assert kept.used == 0 and ("eval", 1) not in kept


def test_the_builders_network_is_one_read_only_copy_with_the_seeds_weights():
    spec = get_preset("lenet5")
    model = shared_network(spec, 3)
    assert shared_network(NetworkSpec.from_json(spec.to_json()), 3) is model  # an equal spec, from another session
    assert shared_network(spec, 4) is not model
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    oracle = build(spec, seed=3)
    for (name, got), (_, want) in zip(model.state_dict().items(), oracle.state_dict().items(), strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=0, msg=name)
