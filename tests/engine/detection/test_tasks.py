"""Localisation and landmarks through the one training loop: they learn (mean IoU above 0.7 on held-out scenes;
landmarks within a fraction of the eye distance), and stop, resume exactly, store and export like classification."""

from __future__ import annotations

import threading

import pytest
import torch

from engine.data import load_dataset
from engine.data.targets import Boxes
from engine.detection import target as T
from engine.detection.networks import ready_network, ready_spec
from engine.detection.tasks import Landmarks, Localise, LocaliseEvaluation
from engine.nets.spec import NetworkSpec
from engine.training.config import TrainConfig
from engine.training.evaluate import evaluate
from engine.training.events import Callback
from engine.training.export import export_run
from engine.training.loop import fit
from engine.training.runs import RunStore
from engine.training.trained import load_trained


def _net(outputs: int, dropout: float = 0.0) -> NetworkSpec:
    """The pages' ready network (engine.detection.networks): what these runs prove is what the page trains."""
    return ready_spec(outputs, dropout=dropout)


FAST = dict(lr=5e-3, schedule="onecycle", batch_size=32)


@pytest.fixture(scope="module")
def scenes():
    return load_dataset("scenes", seed=0, max_train=3000)


def test_localisation_learns_boxes_and_classes(scenes):
    result = fit(_net(9), scenes, TrainConfig(task=Localise(), epochs=10, **FAST))
    assert result.status == "finished" and result.metric.name == "correct"
    last = result.history[-1].val
    assert last["iou"] > 0.7 and last["presence_accuracy"] > 0.95 and last["class_accuracy"] > 0.8
    ev = evaluate(result.model, scenes.val, result.stats, task=Localise())
    assert isinstance(ev, LocaliseEvaluation) and ev.metrics["iou"] == pytest.approx(last["iou"], abs=1e-4)
    # the evaluation's IoU is torchvision's, on the boxes it decoded
    has = ev.true_present
    assert torch.allclose(ev.iou[has], T.iou(ev.boxes[has], ev.true_boxes[has]))
    assert (ev.true_labels[~has] == -1).all() and (ev.iou[~has] == 0).all()


def test_the_ready_network_is_the_builder_s_format_and_fits_each_task(scenes):
    from engine.nets.summary import summary
    from engine.training.fitting import fit_problems

    faces = load_dataset("faces", seed=0, max_train=20)
    for task, data, width in ((Localise(), scenes, 9), (Landmarks(), faces, 10)):
        spec = ready_network(task, data.card)
        assert fit_problems(spec, data.card, task) == [] and summary(spec).output_shape == (width,)
        assert NetworkSpec.from_json(spec.to_json()) == spec  # what the builder loads and shares
        assert [layer.kind for layer in spec.layers].count("maxpool2d") == 3 and spec.input == (3, 48, 48)


def test_a_network_of_the_wrong_width_gets_the_one_click_fix(scenes):
    from engine.training.fitting import fit_problems

    spec = _net(10)
    problems = fit_problems(spec, scenes.card, Localise())
    assert problems and "5 + 4 values" in Localise().fix_label(scenes.card)
    fixed = Localise().fit_output(spec, scenes.card)
    assert fit_problems(fixed, scenes.card, Localise()) == [] and fixed.layers[-1].out_features == 9


def test_landmarks_are_learnt_in_order():
    faces = load_dataset("faces", seed=0, max_train=2000)
    result = fit(_net(10), faces, TrainConfig(task=Landmarks(), epochs=8, **FAST))
    nme = result.history[-1].val["nme"]
    assert result.metric.name == "nme" and not result.metric.higher_is_better
    assert nme < 0.2 < result.history[0].val["nme"]  # a fifth of the distance between the eyes, and it improved
    ev = evaluate(result.model, faces.val, result.stats, task=Landmarks())
    assert ev.points.shape == (len(faces.val), 5, 2) and ev.metrics["nme"] == pytest.approx(nme, abs=1e-4)


def test_shuffled_landmark_labels_teach_only_the_mean_position():
    # The same faces with each training image's point order shuffled (validation keeps the true order): squared error
    # then pulls every output to the mean of the image's points, so the predicted points collapse together and the
    # error stays near that of guessing the centroid for every point, far above the ordered run's (< 0.2, above).
    faces = load_dataset("faces_shuffled", seed=0, max_train=500)
    result = fit(_net(10), faces, TrainConfig(task=Landmarks(), epochs=5, **FAST))
    ev = evaluate(result.model, faces.val, result.stats, task=Landmarks())
    spread = lambda p: (p - p.mean(dim=1, keepdim=True)).norm(dim=2).mean()  # noqa: E731 mean distance to the centroid
    assert spread(ev.points) < 0.4 * spread(ev.true_points)
    centroid = T.point_error(T.centroid_points(ev.true_points), ev.true_points).mean()
    assert ev.metrics["nme"] > 0.45 and abs(ev.metrics["nme"] - centroid) < 0.2


class _StopAt(Callback):
    def __init__(self, stop: threading.Event, batch: int) -> None:
        self.stop, self.batch = stop, batch

    def on_batch_end(self, event) -> None:
        if event.epoch == 2 and event.batch == self.batch:
            self.stop.set()


def test_a_localisation_run_stops_resumes_exactly_and_exports(tmp_path):
    data = load_dataset("scenes", seed=2, max_train=256)
    config = TrainConfig(task=Localise(), epochs=3, lr=3e-3, batch_size=32, seed=4)
    whole = fit(_net(9, dropout=0.2), data, config)  # dropout: the fit's own generator must resume exactly too
    store = RunStore(tmp_path)
    stop = threading.Event()
    first = fit(_net(9, dropout=0.2), data, config, store=store, stop=stop, callbacks=[_StopAt(stop, 3)])
    assert first.status == "stopped"
    resumed = fit(None, data, None, store=store, run_id=first.run_id)
    assert resumed.status == "finished"
    for a, b in zip(whole.model.state_dict().values(), resumed.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    info = store.info(first.run_id)
    assert (info.task, info.metric) == ("localise", "correct")
    trained = load_trained(store, first.run_id)
    decoded = trained.predict(data.val.images[:3])
    assert decoded.boxes.shape == (3, 4) and decoded.present.shape == (3,)
    bundle = export_run(store, first.run_id, "bundle")
    assert len(bundle) > 1000


def test_evaluations_rank_their_worst_images_as_a_sort_by_hand_does():
    data = load_dataset("scenes", seed=3, max_train=20)
    outputs = torch.randn(len(data.val), 9, generator=torch.Generator().manual_seed(0))
    ev = Localise().evaluate(outputs, data.val.targets)
    meter = Localise().meter("cpu")
    meter.update(outputs, Localise().collate(data.val.targets.batch(range(len(data.val)))))
    assert ev.correct.float().mean().item() == pytest.approx(meter.compute()["correct"])  # the metric's own rule
    key = [(bool(ev.correct[i]), float(ev.iou[i]) if ev.true_present[i] else 1.0, i) for i in range(len(ev.iou))]
    assert ev.worst(30) == [i for *_, i in sorted(key)[:30]]
    faces = load_dataset("faces", seed=3, max_train=20)
    lm = Landmarks().evaluate(torch.rand(len(faces.val), 10, generator=torch.Generator().manual_seed(1)),
                              faces.val.targets)
    assert lm.worst(5) == sorted(range(len(lm.errors)), key=lambda i: -float(lm.errors[i]))[:5]


def test_positions_need_their_frame():
    targets = Boxes((torch.tensor([[1.0, 2.0, 5.0, 6.0]]),), (torch.tensor([0]),), ("a",))
    with pytest.raises(ValueError, match="do not say the size of their images"):
        Localise().collate(targets.batch([0]))
