"""The training page, run headless through the real entry with real training on the digits set.

Training runs in a background thread (engine.jobs.runner): a test clicks Train, then waits on the job and reruns the app
until it is done, as the page's live fragment would. Runs go to a temporary run store.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from apptest_helpers import ENTRY, await_job, button, metric, open_page
from PIL import Image, ImageFile
from streamlit.testing.v1 import AppTest

from engine.faces.embed import Embed, identity_data, ready_spec
from engine.jobs import runner as jobs
from engine.nets.presets import get_preset
from engine.nets.spec import Linear
from engine.training.config import TrainConfig
from engine.training.loop import fit
from engine.training.runs import RunStore
from playground.training import zip_decode

TIMEOUT = 120  # seconds a job may take on a loaded 2-core machine


@pytest.fixture
def page(runs_dir):
    return open_page("training.py")


def _dataset(at, name: str):
    at.selectbox(key="_w_tr_dataset").set_value(name).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _train(at, epochs: int = 1):
    at.number_input(key="_w_tr_epochs").set_value(epochs).run()
    button(at, "Train").click().run()
    return _await_job(at)


def _await_job(at):
    return await_job(at, "train_job", TIMEOUT)


def _charts(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def _array(value) -> np.ndarray:
    """A plotly JSON array: a list, or plotly's typed-array form {"dtype", "bdata" (base64), "shape"}."""
    if isinstance(value, dict):
        shape = [int(n) for n in str(value.get("shape", "-1")).split(",")]
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).reshape(shape)
    return np.asarray(value)


def _trace_names(at) -> set[str]:
    return {t.get("name") for fig in _charts(at) for t in fig["data"]}


def _percent(text: str) -> float:
    return float(text.rstrip("%")) / 100


def _plan(page) -> str:
    return next(c.value for c in page.caption if c.value.startswith("Trains **LeNet-5** on **MNIST, 5,000 digits**"))


def test_a_fresh_page_trains_at_the_first_click_and_says_how_long_it_expects(page, runs_dir):
    assert page.selectbox(key="_w_tr_dataset").value == "mnist5k"  # the set the builder's LeNet-5 fits as it is
    assert not page.warning
    train = button(page, "Train")
    assert not train.disabled
    plan = _plan(page)
    assert "Expected time: being measured (a few batches, in the background)…" in plan or "Expected time: about" in plan
    deadline = time.monotonic() + 120  # measured off the script thread, one network at a time for the server
    while "being measured" in plan and time.monotonic() < deadline:
        time.sleep(0.5)
        plan = _plan(page.run())
    assert re.search(r"Expected time: about [\d.]+ (s|min)", plan), plan
    assert "ms per training batch of 64 on cpu" in plan
    train.click().run()  # no other change: the page's own defaults
    job = _await_job(page)
    assert job.status == "finished", job.error
    (run,) = RunStore(runs_dir).list()
    assert (run.dataset, run.status) == ("mnist5k", "finished") and run.best > 0.5


def test_a_network_that_fits_no_set_as_it_is_opens_on_the_first_with_the_fix(runs_dir):
    lenet = get_preset("lenet5")
    three = dataclasses.replace(lenet, layers=(*lenet.layers[:-1], Linear(out_features=3)))
    at = AppTest.from_file(ENTRY, default_timeout=120)
    at.session_state["spec"] = three
    at.run()
    at.switch_page("../pages/training.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="_w_tr_dataset").value == "mnist5k"
    assert any("the one-click fix does this" in w.value for w in at.warning)


def test_train_digits_one_epoch_shows_the_curves_and_the_evaluation(page, runs_dir):
    _dataset(page, "digits")
    assert not page.warning  # LeNet-5 gives 10 scores: nothing to fix
    job = _train(page)
    assert job.status == "finished", job.error
    assert any(s.value.startswith("Finished LeNet-5 on Handwritten digits 8×8") for s in page.success)
    assert {"training loss", "validation loss", "training accuracy", "validation accuracy"} <= _trace_names(page)
    accuracy = _percent(metric(page, "validation accuracy"))
    assert accuracy > 0.5  # LeNet-5 reaches ~73 % after one epoch on 8×8 digits resized to 32×32
    assert int(metric(page, "validation images")) == 359
    assert int(metric(page, "mistakes").replace(",", "")) == round((1 - accuracy) * 359)
    confusion = next(f for f in _charts(page) if f["data"][0]["type"] == "heatmap")
    assert _array(confusion["data"][0]["text"]).sum() == 359  # the counts add up to the validation set
    # the run is stored, active for the other pages, and downloadable
    (run,) = RunStore(runs_dir).list()
    assert page.session_state["active_run"] == run.id == job.result.run_id
    assert (run.status, run.epochs, run.dataset) == ("finished", 1, "digits")
    assert (run.task, run.metric) == ("classify", "accuracy") and run.best == pytest.approx(accuracy, abs=5e-4)
    assert len(page.get("download_button")) == 3


def test_lenet5_on_digits_adapts_the_input_and_faces_need_the_head_fixed(page):
    _dataset(page, "digits")
    assert any("8×8 gray → resized to 32×32, 1 channel" in i.value for i in page.info)
    assert not page.warning and not [b for b in page.button if b.label.startswith("Set the output")]
    assert not button(page, "Train").disabled

    _dataset(page, "lfw_faces")
    (warning,) = page.warning
    assert "the network gives 10 scores but Face or not (LFW crops) has 2 classes" in warning.value
    assert button(page, "Train").disabled
    button(page, "Set the output to 2 classes").click().run()
    spec = page.session_state["spec"]
    assert isinstance(spec.layers[-1], Linear) and spec.layers[-1].out_features == 2
    assert spec.layers[:-1] == get_preset("lenet5").layers[:-1]
    assert not page.warning and not button(page, "Train").disabled
    assert any("25×25 gray → resized to 32×32" in i.value for i in page.info)


def _zip(classes: dict[str, int], size: int = 12) -> bytes:
    out = io.BytesIO()
    rng = np.random.default_rng(0)
    with zipfile.ZipFile(out, "w") as zf:
        for name, n in classes.items():
            for i in range(n):
                png = io.BytesIO()
                Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(png, "PNG")
                zf.writestr(f"{name}/{i}.png", png.getvalue())
    return out.getvalue()


def _upload(page, name: str, raw: bytes):
    """Upload a zip, then wait for its decoding (off the script thread) and run the page again to draw the outcome,
    as the page's progress fragment would."""
    page.file_uploader(key="_w_tr_zip").set_value((name, raw, "application/zip")).run()
    assert not page.exception, [e.value for e in page.exception]
    job = zip_decode.kept(name, raw, page.session_state["seed"])
    if job is not None:
        assert job.wait(TIMEOUT), f"{name} is still {job.status} after {TIMEOUT} s"
        page.run()
    return page


def test_an_uploaded_zip_becomes_the_data_and_a_bad_one_is_an_error(page):
    page.button_group(key="_w_tr_source").set_value("zip").run()
    _upload(page, "notes.zip", b"this is not a zip")
    assert not page.exception
    assert any("notes.zip: this file is not a zip archive" in e.value for e in page.error)
    assert button(page, "Train").disabled

    _upload(page, "pets.zip", _zip({"cats": 4, "dogs": 5}))
    assert not page.exception and not page.error
    assert any("Your images (pets.zip)" in m.value for m in page.markdown)
    assert metric(page, "classes") == "2"
    assert "output: the network gives 10 scores but Your images (pets.zip) has 2 classes" in page.warning[0].value

    _upload(page, "one.zip", _zip({"cats": 3}))
    assert any("only one class folder ('cats')" in e.value for e in page.error)


def test_a_refused_zip_is_remembered_and_not_read_again_on_each_rerun(page):
    """Issue 9: a zip of small PNGs that declare 4000×4000 each is refused from the headers, and the refusal is kept
    under the upload's digest: the reruns that follow show it from session state instead of reading the zip again."""
    png = io.BytesIO()
    Image.new("1", (4000, 4000)).save(png, "PNG", optimize=True)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(14):  # 14 × 16 megapixels: over the 200 megapixels a zip may declare
            zf.writestr(f"{'ab'[i % 2]}/{i}.png", png.getvalue())
    page.button_group(key="_w_tr_source").set_value("zip").run()
    _upload(page, "bomb.zip", out.getvalue())
    assert not page.exception
    refused = "bomb.zip: the 14 images declare 224 megapixels in all, 1.1 times the limit of 200 megapixels"
    assert [e.value for e in page.error if e.value.startswith("bomb.zip")] == [page.session_state["train_upload_failed"]
                                                                              ["message"]]
    assert page.session_state["train_upload_failed"]["message"].startswith(refused)
    # What a rerun shows comes from the remembered refusal, not from reading the zip: change it, and the page follows.
    page.session_state["train_upload_failed"] = dict(page.session_state["train_upload_failed"], message="remembered")
    page.run()
    assert not page.exception and "remembered" in [e.value for e in page.error]
    assert button(page, "Train").disabled
    # another zip is read (the remembered refusal is only for the upload it was made for)
    _upload(page, "pets.zip", _zip({"cats": 2, "dogs": 2}))
    assert not page.exception and not page.error and metric(page, "classes") == "2"


def _decodes(monkeypatch) -> list[int]:
    """Every image PIL decodes (``ImageFile.load``), from any thread."""
    decoded: list[int] = []
    load = ImageFile.ImageFile.load

    def counting(self):
        decoded.append(1)
        return load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", counting)
    return decoded


def test_a_zip_is_decoded_off_the_page_with_progress_once_and_can_be_cancelled(page, monkeypatch):
    """Issue 9: a big zip froze the page while it decoded in the script thread, and every rerun decoded it again.
    Here the page run that receives the upload ends at once with a progress bar; the set arrives when the decoding
    is done; reruns and a visit to another page do not decode it again; a cancelled decoding stops and can be
    started again."""
    raw = _zip({"cats": 60, "dogs": 60}, size=256)
    decoded = _decodes(monkeypatch)
    page.button_group(key="_w_tr_source").set_value("zip").run()
    slow = threading.Event()  # holds the decoding at its first image until the page has drawn its progress
    real = zip_decode.Decoding._progress

    def held_back(self, done, total):
        if done == 1:
            slow.wait(TIMEOUT)
        real(self, done, total)

    monkeypatch.setattr(zip_decode.Decoding, "_progress", held_back)
    page.file_uploader(key="_w_tr_zip").set_value(("big.zip", raw, "application/zip")).run()
    assert not page.exception
    job = zip_decode.kept("big.zip", raw, page.session_state["seed"])
    assert job is not None and not job.finished
    bars = page.get("progress")
    assert len(bars) == 1 and "big.zip" in bars[0].proto.text
    assert button(page, "Train").disabled
    page.switch_page("../pages/builder.py").run()  # the page can be left meanwhile
    assert not page.exception
    slow.set()
    assert job.wait(TIMEOUT) and job.status == "done", job.status
    page.switch_page("../pages/training.py").run()
    assert not page.exception and not page.error
    assert metric(page, "training images") == "96" and metric(page, "classes") == "2"
    assert zip_decode.kept("big.zip", raw, page.session_state["seed"]) is job
    n = len(decoded)
    assert n > 0
    for _ in range(3):
        page.run()
    assert len(decoded) == n and metric(page, "classes") == "2"  # reruns never decode again

    # Cancel: another zip, held at its first image, cancelled from the page; it stops there.
    other = _zip({"cats": 40, "dogs": 40}, size=256)
    slow.clear()
    page.file_uploader(key="_w_tr_zip").set_value(("other.zip", other, "application/zip")).run()
    job = zip_decode.kept("other.zip", other, page.session_state["seed"])
    page.button(key="_w_tr_zip_cancel").click().run()
    slow.set()
    assert job.wait(TIMEOUT) and job.status == "cancelled" and job.done <= 1
    page.run()
    assert any("other.zip: decoding cancelled" in i.value for i in page.info)
    page.button(key="_w_tr_zip_again").click().run()
    again = zip_decode.kept("other.zip", other, page.session_state["seed"])
    assert again is not job and again.wait(TIMEOUT) and again.status == "done"
    page.run()
    assert metric(page, "classes") == "2" and any("Your images (other.zip)" in m.value for m in page.markdown)


def test_stop_then_resume_continues_the_same_run(page, runs_dir):
    _dataset(page, "digits")
    page.number_input(key="_w_tr_epochs").set_value(200).run()
    button(page, "Train").click().run()
    job = page.session_state["train_job"]
    while job.log.snapshot().latest is None and not job.done:
        time.sleep(0.05)
    page.run()
    page.button(key="_w_tr_stop").click().run()
    _await_job(page)
    assert job.status == "stopped"
    assert any(w.value.startswith("Stopped (stopped by the user)") for w in page.warning)
    store = RunStore(runs_dir)
    (run,) = store.list()
    assert run.status == "stopped" and run.epochs < 200
    # Stop did not wait for an evaluation, and the page does not make one unasked: a button does
    assert job.result.evaluation is None and not any(m.label == "validation accuracy" for m in page.metric)
    page.button(key="_w_tr_eval_later").click().run()
    assert int(metric(page, "validation images")) == 359
    assert not any(b.key == "_w_tr_eval_later" for b in page.button)

    target = run.epochs + 1
    page.number_input(key=f"_w_tr_resume_to_{run.id}").set_value(target).run()
    page.button(key="_w_tr_resume").click().run()
    resumed = _await_job(page)
    assert resumed is not job and resumed.status == "finished", resumed.error
    (again,) = store.list()  # the same run, grown
    assert (again.id, again.status, again.epochs) == (run.id, "finished", target)
    assert [e["epoch"] for e in store.get(run.id).history] == list(range(1, target + 1))


def test_transfer_from_a_trained_run_to_new_classes(page, runs_dir):
    _dataset(page, "digits")
    source = _train(page).result.run_id
    _dataset(page, "lfw_faces")
    page.select_slider(key=f"_w_tr_freeze_{source}").set_value(6).run()  # conv, relu, pool, conv, relu, pool
    assert metric(page, "frozen parameters") == f"{156 + 2416:,}"
    assert metric(page, "trainable parameters") == f"{48120 + 10164 + 85 * 2 :,}"
    assert metric(page, "new head") == "linear #12 → 2"
    button(page, "Fine-tune on Face or not (LFW crops)").click().run()
    job = _await_job(page)
    assert job.status == "finished", job.error
    new = job.result.run_id
    store = RunStore(runs_dir)
    assert new != source and store.info(new).dataset == "lfw_faces"
    assert store.get(new).spec.layers[-1] == Linear(2)
    state = store.load_checkpoint(new).state
    assert state["frozen"] == ["0.weight", "0.bias", "3.weight", "3.bias"]
    assert page.session_state["active_run"] == new
    assert page.session_state["spec"] == get_preset("lenet5")  # the builder's network is unchanged


def test_two_sessions_train_at_once_without_disturbing_each_other(runs_dir):
    a, b = open_page("training.py"), open_page("training.py")
    _dataset(a, "digits")
    _dataset(b, "lfw_faces")
    button(b, "Set the output to 2 classes").click().run()
    for at in (a, b):
        at.number_input(key="_w_tr_epochs").set_value(2).run()
        button(at, "Train").click().run()
    job_a, job_b = a.session_state["train_job"], b.session_state["train_job"]
    assert job_a is not job_b
    for at, job, data in ((a, _await_job(a), "digits"), (b, _await_job(b), "lfw_faces")):
        assert job.status == "finished", job.error
        history = job.result.result.history
        assert [e.epoch for e in history] == [1, 2]
        assert RunStore(runs_dir).info(at.session_state["active_run"]).dataset == data
    assert job_b.submitted < job_a.ended  # b was submitted while a trained: both were in flight together
    assert job_a.result.result.history != job_b.result.result.history
    assert job_a.result.evaluation.classes != job_b.result.evaluation.classes


def test_a_busy_server_queues_the_job_says_where_it_waits_and_starts_it(page, monkeypatch, runs_dir):
    release = jobs.threading.Event()
    busy = jobs.JobRunner(max_jobs=1, isolation="thread")  # the test's own job below is a lambda
    other = busy.submit(lambda job: release.wait(TIMEOUT), owner="someone-else-0123")
    monkeypatch.setattr(jobs, "_runner", busy)
    try:
        _dataset(page, "digits")
        page.number_input(key="_w_tr_epochs").set_value(1).run()
        button(page, "Train").click().run()
        assert not page.exception
        job = page.session_state["train_job"]
        assert job.status == "queued" and busy.position(job) == 1
        assert any("Waiting in the queue (next to start): 1 of at most 1 jobs are running" in p.proto.text
                   for p in page.get("progress")), [p.proto.text for p in page.get("progress")]
        release.set()
        assert other.wait(TIMEOUT)
        _await_job(page)
        assert job.status == "finished", job.error  # it started by itself once the place was free
    finally:
        release.set()


def test_the_settings_and_the_finished_run_survive_a_page_switch(page):
    _dataset(page, "digits")
    job = _train(page, epochs=1)
    page.select_slider(key="_w_tr_lr").set_value(3e-3).run()
    page.switch_page("../pages/builder.py").run()
    page.switch_page("../pages/training.py").run()
    assert not page.exception
    assert page.selectbox(key="_w_tr_dataset").value == "digits"
    assert page.number_input(key="_w_tr_epochs").value == 1
    assert page.select_slider(key="_w_tr_lr").value == 3e-3
    assert page.session_state["train_job"] is job and page.session_state["active_run"] == job.result.run_id
    assert any(s.value.startswith("Finished LeNet-5") for s in page.success)
    assert metric(page, "validation accuracy").endswith("%")


def test_rename_compare_and_delete_runs(page, runs_dir):
    _dataset(page, "digits")
    first = _train(page).result.run_id
    second = _train(page).result.run_id
    store = RunStore(runs_dir)
    page.text_input(key=f"_w_tr_name_{second}").set_value("LeNet on digits, again").run()
    page.button(key="_w_tr_rename").click().run()
    assert store.info(second).name == "LeNet on digits, again"
    compare = next(w for w in page.multiselect if w.key.startswith("_w_tr_compare"))
    assert set(compare.value) == {first, second}  # the active run and the one before, overlaid
    overlay = next(f for f in _charts(page) if any("solid: validation" in a.get("text", "")
                                                   for a in f["layout"].get("annotations", [])))
    assert {t["name"] for t in overlay["data"]} == {"LeNet on digits, again", first}

    page.checkbox(key=f"_w_tr_sure_{second}").check().run()
    page.button(key="_w_tr_delete").click().run()
    assert not page.exception
    assert [r.id for r in store.list()] == [first]
    assert page.session_state["active_run"] is None


def test_a_run_whose_trainer_was_killed_shows_interrupted_and_resumes(runs_dir):
    """A real ``kill -9`` of a training process mid-epoch (tests/engine/training/runs/trainer.py), then the page: the
    run is "interrupted", says so, and Resume trains it on from its last checkpoint."""
    repo = Path(__file__).parents[2]
    trainer = repo / "tests" / "engine" / "training" / "runs" / "trainer.py"
    proc = subprocess.Popen([sys.executable, str(trainer), str(runs_dir), "hang"], cwd=repo,
                            env={**os.environ, "PYTHONPATH": str(repo)}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + TIMEOUT
    while not (runs_dir / "hung").exists():
        assert proc.poll() is None and time.time() < deadline
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)

    page = open_page("training.py")
    _dataset(page, "digits")
    table = page.dataframe[0].value
    assert list(table["status"]) == ["interrupted"] and list(table["epochs"]) == [1]
    assert any(c.value.startswith("Interrupted: its server stopped while it trained") for c in page.caption)
    (run,) = RunStore(runs_dir).list()
    page.number_input(key=f"_w_tr_resume_to_{run.id}").set_value(2).run()
    page.button(key="_w_tr_resume").click().run()
    resumed = _await_job(page)
    assert resumed.status == "finished", resumed.error
    (again,) = RunStore(runs_dir).list()
    assert (again.id, again.status, again.epochs) == (run.id, "finished", 2)


def test_a_one_shot_lab_run_resumes_here_on_its_identities(runs_dir):
    """A run of the One-shot lab trained on a set derived from a named one (digits, one class held out as an unseen
    identity): the Training page's Resume loads those identities again from the run's record and trains it on."""
    data = identity_data("digits", (7,), seed=0, max_train=300)
    config = TrainConfig(task=Embed(dim=8, held_out=(7,)), epochs=1, batch_size=64, device="cpu")
    run_id = fit(ready_spec(data.card.image_shape, 8), data, config, store=RunStore(runs_dir)).run_id
    page = open_page("training.py")
    page.number_input(key=f"_w_tr_resume_to_{run_id}").set_value(2).run()
    page.button(key="_w_tr_resume").click().run()
    assert not page.warning, [w.value for w in page.warning]
    resumed = _await_job(page)
    assert resumed.status == "finished", resumed.error
    run = RunStore(runs_dir).get(run_id)
    assert (run.info.status, run.info.epochs, run.config["dataset"]["train_size"]) == ("finished", 2, len(data.train))
    page.run()  # the finished job's outcome and the run's evaluation on its identities
    assert not page.exception, [e.value for e in page.exception]
    assert any(s.value.startswith("Finished") for s in page.success), [s.value for s in page.success]


def test_a_job_that_waited_when_the_server_was_killed_is_reported_once(page, runs_dir, monkeypatch):
    """A real ``kill -9`` of a "server" holding this browser's second training job in its queue
    (tests/engine/jobs/job_server.py); the restarted server's page says once that it did not run, and why."""
    repo = Path(__file__).parents[2]
    proc = subprocess.Popen([sys.executable, str(repo / "tests" / "engine" / "jobs" / "job_server.py"), "queue",
                             str(runs_dir), page.session_state["owner"]], cwd=repo,
                            env={**os.environ, "PYTHONPATH": str(repo)}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + TIMEOUT
    while not (runs_dir / "queued").exists():
        assert proc.poll() is None and time.time() < deadline
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    monkeypatch.setattr(jobs, "_runner", jobs.JobRunner(state_dir=runs_dir / jobs.QUEUE_FOLDER))  # the restart

    page.run()
    said = [w.value for w in page.warning if "did not run" in w.value]
    assert said == ["Your job “second” did not run: the server restarted before it started; start it again."]
    page.run()
    assert not [w for w in page.warning if "did not run" in w.value]  # once
