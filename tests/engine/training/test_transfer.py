"""``engine.training.transfer``: freezing the right parameters, a fresh head, counts that add up, and training that
changes only what is trainable (frozen batch norms keep their statistics), through a stop and a resume too."""

from __future__ import annotations

import dataclasses
import threading

import pytest
import torch
from safetensors.torch import save_file

from engine.data import ImageSet, LoadedData, load_dataset
from engine.nets.build import build
from engine.nets.spec import NetworkSpec
from engine.training.config import TrainConfig
from engine.training.events import BatchEvent, Callback
from engine.training.loop import fit
from engine.training.runs import RunStore
from engine.training.tasks.classify import fit_head
from engine.training.transfer import (
    freeze,
    from_run,
    from_weights,
    frozen_summary,
    head_index,
    param_report,
    replace_head,
    source_spec,
    start_transfer,
    transfer,
    transfer_report,
)

SPEC = NetworkSpec.from_dict({"input": [1, 8, 8], "layers": [
    {"kind": "conv2d", "out_channels": 8, "padding": 1}, {"kind": "batchnorm2d"}, {"kind": "relu"},  # 0-2
    {"kind": "residual", "body": [{"kind": "conv2d", "out_channels": 8, "padding": 1},  # 3
                                  {"kind": "batchnorm2d"}, {"kind": "relu"}]},
    {"kind": "maxpool2d"}, {"kind": "flatten"},  # 4-5: (128,)
    {"kind": "linear", "out_features": 16}, {"kind": "relu"},  # 6-7
    {"kind": "linear", "out_features": 10},  # 8: the head
]})
FROZEN = 4  # conv, bn, relu and the residual block


@pytest.fixture(scope="module")
def digits() -> LoadedData:
    data = load_dataset("digits")
    return LoadedData(dataclasses.replace(data.card, train_size=300), data.train.subset(range(300)), data.val)


@pytest.fixture(scope="module")
def source(digits: LoadedData, tmp_path_factory: pytest.TempPathFactory) -> tuple[RunStore, str]:
    store = RunStore(tmp_path_factory.mktemp("runs"))
    return store, fit(SPEC, digits, TrainConfig(epochs=1), store=store).run_id


def _three_classes(data: LoadedData) -> LoadedData:
    classes = ("0-3", "4-6", "7-9")
    fold = torch.tensor([0, 0, 0, 0, 1, 1, 1, 2, 2, 2])
    train = ImageSet(data.train.images, fold[data.train.labels], classes)
    val = ImageSet(data.val.images, fold[data.val.labels], classes)
    return LoadedData(dataclasses.replace(data.card, name="digits-3", classes=classes), train, val)


def _snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def test_transfer_freezes_the_first_layers_and_replaces_the_head(source) -> None:
    store, run_id = source
    trained = from_run(store, run_id)
    new = transfer(trained, num_classes=3, freeze_upto=FROZEN)
    assert new.spec.layers[8].out_features == 3 and head_index(new.spec) == 8
    for name, p in new.named_parameters():
        assert p.requires_grad == (int(name.split(".")[0]) >= FROZEN), name
    old, now = trained.state_dict(), new.state_dict()
    for k in now:
        if k.startswith("8."):
            assert now[k].shape[0] == 3
        else:
            assert torch.equal(now[k], old[k]), k
    assert trained.spec.layers[8].out_features == 10  # the source is untouched


def test_param_report_and_summary_count_trainable_and_frozen(source) -> None:
    store, run_id = source
    new = transfer(from_run(store, run_id), num_classes=3, freeze_upto=FROZEN)
    report = param_report(new)
    frozen = sum(p.numel() for i in range(FROZEN) for p in new[i].parameters())
    assert report.frozen == frozen
    assert report.trainable == sum(p.numel() for p in new.parameters()) - frozen
    assert [r.name for r in report.layers][:2] == ["conv2d #1", "batchnorm2d #2"]
    assert report.layers[8].trainable == 16 * 3 + 3 and report.layers[0].frozen == 8 * 9 + 8
    summary = frozen_summary(new)
    top = [r for r in summary.rows if r.depth == 0]
    assert [r.frozen_params for r in top] == [r.frozen for r in report.layers]
    assert [r.params for r in top] == [r.trainable for r in report.layers]
    assert summary.trainable_params == report.trainable
    nested = [r for r in summary.rows if r.depth == 1]
    assert nested and all(r.params == 0 for r in nested)
    assert sum(r.frozen_params for r in nested) == top[3].frozen_params


def test_training_changes_only_the_trainable_parameters(source, digits: LoadedData, tmp_path) -> None:
    store, run_id = source
    new = transfer(from_run(store, run_id), num_classes=3, freeze_upto=FROZEN)
    before = _snapshot(new)
    data = _three_classes(digits)
    stop = threading.Event()

    class StopAtThree(Callback):
        def on_batch_end(self, event: BatchEvent) -> None:
            if event.batch == 3:
                stop.set()

    runs = RunStore(tmp_path)
    first = fit(new, data, TrainConfig(epochs=2, device="cpu"), callbacks=[StopAtThree()], stop=stop, store=runs)
    assert first.stopped
    result = fit(None, data, None, store=runs, run_id=first.run_id)  # resumed: the frozen set comes back
    assert result.status == "finished"
    after = _snapshot(result.model)
    for k in before:
        layer = int(k.split(".")[0])
        if layer < FROZEN:  # weights and batch-norm running statistics alike
            assert torch.equal(after[k], before[k]), k
        elif k.endswith(("weight", "bias")):
            assert not torch.equal(after[k], before[k]), k
    assert all(p.requires_grad == (int(n.split(".")[0]) >= FROZEN) for n, p in result.model.named_parameters())


def test_from_weights_accepts_a_state_dict_or_a_file(tmp_path) -> None:
    model = build(SPEC, seed=0)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    save_file(state, tmp_path / "w.safetensors")
    for source in (state, tmp_path / "w.safetensors"):
        loaded = from_weights(SPEC, source)
        assert not loaded.training
        assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), state.values(), strict=True))
    with pytest.raises(ValueError, match="do not fit the spec"):
        from_weights(SPEC, {"0.weight": torch.zeros(1)})


def test_replace_head_keeps_frozen_flags_and_draws_the_head_from_its_seed() -> None:
    """The new head is the seed's: what ``torch.manual_seed(seed)`` and a build of the new spec give (the oracle),
    another seed gives another head, and torch's global generator is neither read nor moved."""
    model = freeze(build(SPEC, seed=0), 2)
    torch.manual_seed(99)
    before = torch.get_rng_state()
    a, other = replace_head(model, 4, seed=1), replace_head(model, 4, seed=2)
    assert torch.equal(torch.get_rng_state(), before)
    torch.manual_seed(1)
    oracle = build(fit_head(SPEC, 4))
    assert torch.equal(a[8].weight, oracle[8].weight) and torch.equal(a[8].bias, oracle[8].bias)
    assert not torch.equal(a[8].weight, other[8].weight)
    assert a[8].weight.requires_grad
    assert not a[0].weight.requires_grad and a[3].body[0].weight.requires_grad
    assert torch.equal(a[0].weight, model[0].weight)  # the rest keeps the source's weights


def test_bad_freeze_points_are_refused() -> None:
    model = build(SPEC)
    with pytest.raises(ValueError, match="upto must be an integer from 0 to 9"):
        freeze(model, 10)
    with pytest.raises(ValueError, match="would freeze the new head"):
        transfer(model, 3, freeze_upto=9)
    freeze(model, 9)
    assert not any(p.requires_grad for p in model.parameters())
    freeze(model, 0)
    assert all(p.requires_grad for p in model.parameters())


def test_transfer_report_counts_like_the_built_network(source) -> None:
    store, run_id = source
    report = transfer_report(SPEC, 3, FROZEN)
    built = param_report(transfer(from_run(store, run_id), 3, FROZEN))
    assert report == built
    with pytest.raises(ValueError, match="would freeze the new head"):
        transfer_report(SPEC, 3, 9)


def test_start_transfer_from_a_run(source, digits: LoadedData) -> None:
    store, run_id = source
    data = _three_classes(digits)
    model, name = start_transfer(run_id, data, FROZEN, seed=4, store=store)
    assert name == f"{store.info(run_id).name} → {data.card.title}"
    assert model.spec.layers[8].out_features == 3
    assert [p.requires_grad for p in model[0].parameters()] == [False, False]
    expected = transfer(from_run(store, run_id), 3, FROZEN, seed=4)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), expected.state_dict().values(),
                                                 strict=True))
    assert source_spec(run_id, store) == SPEC
    with pytest.raises(ValueError, match="no run 'nope'"):
        start_transfer("nope", data, 0, seed=0, store=store)
