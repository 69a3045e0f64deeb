"""The training page with the multi-object scenes: the data set is for detection, so the page picks the YOLO task
(it used to pick localisation, which refuses several objects per image at the first batch), says what the network's
output must be for it, and a YOLO network trains there into a detection run with its mAP."""

from __future__ import annotations

from apptest_helpers import await_job, button, open_page

from engine.data import dataset_card
from engine.detection.detect import Detect
from engine.detection.networks import ready_network
from engine.training.runs import RunStore

TIMEOUT = 300  # seconds the one-epoch job may take on a loaded 2-core machine


def test_multi_scenes_defaults_to_detection_and_trains_a_detection_run(runs_dir):
    at = open_page("training.py")
    at.selectbox(key="_w_tr_dataset").set_value("multi_scenes").run()
    assert not at.exception, [e.value for e in at.exception]
    card = dataset_card("multi_scenes")
    # the builder's LeNet-5 does not give the grid: the page says what detection needs and offers its fix
    assert any("detection (YOLO)" in w.value and "27×6×6" in w.value for w in at.warning), [w.value for w in at.warning]
    assert at.button(key="_w_tr_fix_head").label == Detect().fix_label(card)
    assert button(at, "Train").disabled
    at.session_state["spec"] = ready_network(Detect(), card)  # a YOLO network, as the builder would give it
    at.run()
    assert not at.warning, [w.value for w in at.warning]
    at.select_slider(key="_w_tr_max_train_multi_scenes").set_value(500).run()  # the fewest scenes on offer
    at.number_input(key="_w_tr_epochs").set_value(1).run()
    button(at, "Train").click().run()
    job = await_job(at, "train_job", TIMEOUT)
    assert job.status == "finished", (job.status, getattr(job, "error", None))
    (run,) = RunStore(runs_dir).list()
    assert (run.task, run.dataset, run.status, run.epochs, run.metric) == ("detect", "multi_scenes", "finished", 1,
                                                                           "map50")
    assert run.best is not None and 0.0 <= run.best <= 1.0
    assert not at.exception, [e.value for e in at.exception]
