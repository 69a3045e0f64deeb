"""The embedding task through the one training loop: a short training on digit classes lifts the verification AUC on
held-out digits well above the untrained network's; stop and resume give the same weights as a run never stopped;
the run stores, loads and exports; the logistic-unit alternative against scikit-learn's logistic regression."""

from __future__ import annotations

import dataclasses
import math
import threading

import pytest
import torch
from sklearn.linear_model import LogisticRegression

from engine.data import channel_stats
from engine.faces.embed import (
    Embed,
    EmbedEvaluation,
    compare_verifiers,
    fit_pair_classifier,
    identity_data,
    ready_spec,
    verification,
)
from engine.faces.metrics import sample_pairs
from engine.nets.build import build
from engine.training.config import TrainConfig
from engine.training.evaluate import evaluate
from engine.training.events import Callback
from engine.training.export import export_run
from engine.training.loop import fit
from engine.training.runs import RunStore
from engine.training.tasks import task_from_dict
from engine.training.trained import load_trained, run_data

HELD_OUT = (8, 9)


@pytest.fixture(scope="module")
def digits():
    return identity_data("mnist5k", HELD_OUT, seed=0, max_train=1000)


def test_identity_data_leaves_the_held_out_classes_out_of_training(digits):
    assert digits.card.targets == "identities" and digits.card.name == "mnist5k_identities"
    train_ids, val_ids = digits.train.targets.ids, digits.val.targets.ids
    assert not torch.isin(train_ids, torch.tensor(HELD_OUT)).any()
    assert set(val_ids.tolist()) == set(range(10))  # validation: seen and held-out identities
    assert digits.card.train_size == len(digits.train) < 1000
    with pytest.raises(ValueError, match=r"must lie in \[0, 10\)"):
        identity_data("digits", (3, 10))
    with pytest.raises(ValueError, match="at least two"):
        identity_data("digits", tuple(range(9)))
    with pytest.raises(ValueError, match="identities come from"):
        identity_data("cifar100")


def test_the_task_round_trips_and_checks_its_options(digits):
    task = Embed(dim=16, margin=0.3, mining="hard", held_out=[9, 8])
    assert task.held_out == (8, 9)
    assert task_from_dict(task.to_dict()) == task
    assert task.output_shape(digits.card) == (16,)
    assert task.check_data(digits.card) == []
    with pytest.raises(ValueError, match="mining must be one of"):
        Embed(mining="hardest")
    with pytest.raises(ValueError, match="margin must be"):
        Embed(margin=-1)
    from engine.data import load_dataset

    assert "identity per image" in Embed().check_data(load_dataset("digits").card)[0]


def test_training_lifts_held_out_verification_well_above_the_untrained_network(digits):
    task = Embed(dim=32, margin=0.2, mining="semi-hard", held_out=HELD_OUT)
    spec = ready_spec(digits.card.image_shape, 32)
    untrained = evaluate(build(spec, seed=0), digits.val, channel_stats(digits.train), task=task)
    result = fit(spec, digits, TrainConfig(task=task, epochs=3, lr=3e-3, batch_size=64, schedule="onecycle"))
    assert result.status == "finished" and result.metric.name == "auc"
    trained = evaluate(result.model, digits.val, result.stats, task=task)
    assert isinstance(trained, EmbedEvaluation)
    assert trained.metrics["auc"] == pytest.approx(result.history[-1].val["auc"], abs=1e-6)  # the meter's, again
    before, after = untrained.metrics["auc_held_out"], trained.metrics["auc_held_out"]
    assert after > 0.75 and after > before + 0.15, (before, after)
    assert trained.metrics["auc_seen"] > untrained.metrics["auc_seen"] + 0.15
    # the embeddings are unit vectors; the projection is 2-d
    assert torch.allclose(trained.embeddings.norm(dim=1), torch.ones(len(digits.val)), atol=1e-5)
    assert trained.projection.shape == (len(digits.val), 2)
    # the binary alternative, fitted on seen identities, verifies held-out ones about as well as the distance
    c = compare_verifiers(trained)
    assert c.pairs == 4000 and c.auc_logistic > 0.7 and abs(c.auc_logistic - c.auc_distance) < 0.1


def _plain(metrics: dict[str, float]) -> dict[str, float | str]:
    """NaN as a string, so that dicts of metrics compare equal when both are NaN."""
    return {k: "nan" if math.isnan(v) else v for k, v in metrics.items()}


class _StopAt(Callback):
    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop

    def on_batch_end(self, event) -> None:
        if event.epoch == 2 and event.batch == 3:
            self.stop.set()


def test_a_run_stops_resumes_exactly_and_exports(tmp_path):
    data = identity_data("digits", (7,), seed=1, max_train=300)
    task = Embed(dim=8, mining="random", held_out=(7,))
    spec = ready_spec(data.card.image_shape, 8)
    config = TrainConfig(task=task, epochs=3, lr=3e-3, batch_size=32, seed=4)
    whole = fit(spec, data, config)
    store = RunStore(tmp_path)
    stop = threading.Event()
    first = fit(spec, data, config, store=store, stop=stop, callbacks=[_StopAt(stop)])
    assert first.status == "stopped"
    run = store.get(first.run_id)
    again, why = run_data(run)  # what the Training page's Resume trains on: the identities again, from the record
    assert why == "" and again.card == data.card
    assert torch.equal(again.train.images, data.train.images)
    assert torch.equal(again.val.targets.ids, data.val.targets.ids)
    resumed = fit(None, again, None, store=store, run_id=first.run_id)
    assert resumed.status == "finished"
    for a, b in zip(whole.model.state_dict().values(), resumed.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert [_plain(e.val) for e in resumed.history] == [_plain(e.val) for e in whole.history]
    info = store.info(first.run_id)
    assert (info.task, info.metric) == ("embed", "auc")
    trained = load_trained(store, first.run_id)
    assert trained.task == task
    emb = trained.predict(data.val.images[:3])
    assert emb.shape == (3, 8) and torch.allclose(emb.norm(dim=1), torch.ones(3), atol=1e-5)
    assert len(export_run(store, first.run_id, "bundle")) > 1000


def test_a_run_recorded_without_its_datas_origin_comes_back_when_its_size_matches(tmp_path):
    store = RunStore(tmp_path)
    config = TrainConfig(task=Embed(dim=8, held_out=(7,)), epochs=1, batch_size=64, seed=2)
    for max_train, loads in ((None, True), (300, False)):
        data = identity_data("digits", (7,), seed=2, max_train=max_train)
        run = store.get(fit(ready_spec(data.card.image_shape, 8), data, config, store=store).run_id)
        assert run.config["dataset"]["origin"]["held_out"] == [7]
        older = dataclasses.replace(run, config={**run.config, "dataset": {
            k: v for k, v in run.config["dataset"].items() if k != "origin"}})  # a record from before origins
        again, why = run_data(older)  # the base set and held-out classes from its name and task, every image
        if loads:
            assert why == "" and torch.equal(again.train.images, data.train.images)
        else:
            assert again is None and why.startswith(f"This run trained on {data.card.title} with "
                                                    f"{len(data.train)} training images; loaded again it has")


def test_the_meter_over_batches_measures_what_the_whole_set_gives():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, (300,), generator=g)
    out = torch.randn(300, 6, generator=g) + ids[:, None].float()
    task = Embed(dim=6, held_out=(4,))
    meter = task.meter("cpu")
    for i in range(0, 300, 64):
        meter.update(out[i:i + 64], ids[i:i + 64])
    state = meter.state_dict()
    again = task.meter("cpu")
    again.load_state_dict(state)
    whole = verification(torch.nn.functional.normalize(out, dim=1), ids, (4,))
    assert _plain(meter.compute()) == _plain(whole) == _plain(again.compute())
    assert 0.5 < whole["auc"] <= 1.0 and 0.5 < whole["auc_seen"] <= 1.0
    assert math.isnan(whole["auc_held_out"])  # one held-out identity: no different pairs among them


def test_the_logistic_unit_is_scikit_learn_s_logistic_regression():
    g = torch.Generator().manual_seed(2)
    ids = torch.randint(6, (200,), generator=g)
    emb = torch.nn.functional.normalize(torch.randn(200, 5, generator=g, dtype=torch.float64) + ids[:, None] * 0.3,
                                        dim=1)
    first, second, same = sample_pairs(ids, 300, seed=0)
    unit = fit_pair_classifier(emb, first, second, same, l2=1e-2)
    x = (emb[first] - emb[second]).abs().numpy()
    # ours: mean loss + l2/2·‖w‖²; scikit-learn: C·Σ loss + ½‖w‖², the same minimum at C = 1 / (l2 · P)
    ref = LogisticRegression(C=1.0 / (1e-2 * len(x)), tol=1e-10, max_iter=10000).fit(x, same.numpy())
    assert torch.allclose(unit.weight, torch.as_tensor(ref.coef_[0]), atol=1e-4)
    assert unit.bias == pytest.approx(float(ref.intercept_[0]), abs=1e-4)
    p = unit.probability(emb[first], emb[second])
    assert torch.allclose(p, torch.as_tensor(ref.predict_proba(x)[:, 1]), atol=1e-5)
