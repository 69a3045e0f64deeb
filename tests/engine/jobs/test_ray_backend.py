"""Jobs on a Ray cluster (``engine.jobs.ray_backend``), on a real local Ray instance (conftest.py, ``ray_cluster``):
a digits training job runs through Ray with live events, is stopped mid-epoch, resumed, and ends with the weights a
local fit with the same seed reaches, in the run store here; a worker that dies mid-job leaves an "interrupted" run
that resumes to the same weights; the GPU placement rule on a simulated GPU node (a custom resource); a job no node
can hold is refused with the reason; named data sets go by name, uploaded ones travel up to a cap; an unreachable
cluster or a server without Ray says so, and falls back to this server only when configured to.

Oracles: ``engine.training.loop.fit`` run here with the same seed (the weights, the history); the run store's files
and rows; Ray's own record of the resources a task was given.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

import pytest
import torch
from ray_helpers import SMALL_CNN, DieAt, Slow, done, refuse, until

from engine.data import LoadedData, load_dataset
from engine.faces.embed import Embed, identity_data, ready_spec
from engine.jobs.job import Job
from engine.jobs.ray_backend import ADDRESS_ENV, FALLBACK_ENV, INSTALL, MAX_DATA_ENV, RayBackend, from_env
from engine.jobs.runner import JobRunner
from engine.jobs.training import train_job
from engine.training.config import TrainConfig
from engine.training.loop import fit
from engine.training.runs import RunStore

CONFIG = TrainConfig(epochs=3, batch_size=32, lr=3e-3, seed=1)
REPO = Path(__file__).parents[3]


@pytest.fixture(scope="module")
def digits() -> LoadedData:
    return load_dataset("digits")


@pytest.fixture(scope="module")
def oracle(digits) -> dict[str, torch.Tensor]:
    """The weights of the same fit, never stopped, in this process: what the Ray jobs must reach."""
    return fit(SMALL_CNN, digits, CONFIG).model.state_dict()


def _same_weights(got: dict[str, torch.Tensor], want: dict[str, torch.Tensor]) -> None:
    assert got.keys() == want.keys()
    for name in want:  # a Ray worker runs torch on one thread, this process on several: sums may round apart
        torch.testing.assert_close(got[name], want[name], rtol=1e-5, atol=1e-6, msg=name)


def test_training_job_with_live_events_stopped_mid_epoch_resumed_to_the_local_weights(ray_cluster, tmp_path,
                                                                                       digits, oracle):
    store = RunStore(tmp_path / "runs")
    runner = JobRunner(max_jobs=2, isolation="thread", backend=RayBackend("auto"))
    job = runner.submit(train_job, SMALL_CNN, digits, CONFIG, store=store, owner="ada", callbacks=[Slow(0.03)])

    def in_epoch_two() -> bool:
        latest = job.log.snapshot().latest
        return latest is not None and (latest.epoch, latest.batch) >= (2, 3)

    until(in_epoch_two, "no live batch event of epoch 2 came back")
    assert not job.done and job.status == "running"
    snap = job.log.snapshot()
    assert len(snap.epochs) == 1 and snap.start is not None and len(snap.batch_losses) >= snap.start.batches
    run_id = snap.start.run_id
    assert store.info(run_id).status == "running" and store.info(run_id).epochs == 1  # epoch 1 is home already
    job.request_stop()
    done(job)
    assert (job.status, job.reason) == ("stopped", "stopped by the user")
    assert job.placement["backend"] == "ray" and job.placement["node"] == ray_cluster.util.get_node_ip_address()

    info = store.info(run_id)
    assert (info.status, info.epochs, info.owner) == ("stopped", 1, "ada")
    assert info.device.endswith(f" on {job.placement['node']}")
    assert store.get(run_id).config["placement"]["node"] == job.placement["node"]
    progress = store.load_checkpoint(run_id).state["progress"]
    assert progress["epoch"] == 1 and progress["batch"] > 0  # 1 epoch finished, in the middle of epoch 2: resumable

    again = done(runner.submit(train_job, None, digits, None, store=store, run_id=run_id, owner="ada"))
    assert again.status == "finished", again.error
    assert len(again.log.snapshot().epochs) == 3  # the epochs before the resume, then its own
    info = store.info(run_id)
    assert (info.status, info.epochs) == ("finished", 3)
    _same_weights(store.load_checkpoint(run_id).model, oracle)
    assert store.load_model(run_id) is not None  # the weights came home as a run's safetensors checkpoint


def test_a_lost_worker_leaves_an_interrupted_run_that_resumes(ray_cluster, tmp_path, digits, oracle):
    store = RunStore(tmp_path / "runs")
    runner = JobRunner(max_jobs=1, isolation="thread", backend=RayBackend("auto"))
    job = done(runner.submit(train_job, SMALL_CNN, digits, CONFIG, store=store,
                              callbacks=[Slow(0.02), DieAt(epoch=2, batch=10)]))
    assert job.status == "failed"
    assert "the Ray node running it was lost" in job.error and "interrupted" in job.error
    (info,) = store.list()
    assert (info.status, info.epochs) == ("interrupted", 1)  # its last checkpoint: the end of epoch 1

    again = done(runner.submit(train_job, None, digits, None, store=store, run_id=info.id))
    assert again.status == "finished", again.error
    assert store.info(info.id).epochs == 3
    _same_weights(store.load_checkpoint(info.id).model, oracle)


def test_placement_gpu_jobs_go_to_the_gpu_node_and_a_job_no_node_holds_is_refused(ray_cluster, tmp_path, digits):
    store = RunStore(tmp_path / "runs")
    small = _head(digits, 64)
    gpu = dataclasses.replace(CONFIG, epochs=1, device="cuda")
    simulated = JobRunner(max_jobs=1, isolation="thread", backend=RayBackend("auto", gpu_resource="accelerator"))

    on_gpu = done(simulated.submit(train_job, SMALL_CNN, small, gpu, store=store))
    assert on_gpu.status == "finished", on_gpu.error
    assert on_gpu.placement["resources"].get("accelerator") == 1.0  # Ray gave it the GPU node's resource
    if not torch.cuda.is_available():  # the simulated GPU: torch sees none, so it trained on the node's CPU
        assert on_gpu.placement["device"] == "cpu" and "no CUDA device" in on_gpu.placement["note"]
    on_cpu = done(simulated.submit(train_job, SMALL_CNN, small, dataclasses.replace(gpu, device="cpu"), store=store))
    assert on_cpu.status == "finished" and "accelerator" not in on_cpu.placement["resources"]
    auto = done(simulated.submit(train_job, SMALL_CNN, small, dataclasses.replace(gpu, device="auto"), store=store))
    assert auto.status == "finished" and auto.placement["resources"].get("accelerator") == 1.0  # the GPU, since any

    real_gpus = JobRunner(max_jobs=1, isolation="thread", backend=RayBackend("auto"))  # num_gpus=1: none here
    refused = done(real_gpus.submit(train_job, SMALL_CNN, small, gpu, store=store))
    if ray_cluster.cluster_resources().get("GPU"):
        pytest.skip("this machine has CUDA and gave the test cluster a GPU: nothing to refuse")
    assert refused.status == "failed" and refused.placement == {}  # never sent to a node
    assert "no node of the Ray cluster can run this job: it needs 1 CPU, 1 GPU" in refused.error
    assert "choose the device auto or cpu" in refused.error
    assert len(store.list()) == 3  # the refused job made no run


def test_stop_on_a_job_waiting_for_a_busy_gpu_node_cancels_it_unstarted(ray_cluster, tmp_path, digits):
    """Two GPU jobs, one simulated GPU: the second waits in Ray's own queue (sent, not started on a node). Stop ends
    it there — it never starts, makes no run — while the first trains on."""
    store = RunStore(tmp_path / "runs")
    gpu = dataclasses.replace(CONFIG, epochs=2, device="cuda")
    runner = JobRunner(max_jobs=2, isolation="thread", backend=RayBackend("auto", gpu_resource="accelerator"))
    first = runner.submit(train_job, SMALL_CNN, digits, gpu, store=store, owner="ada", callbacks=[Slow(0.05)])
    until(lambda: first.log.snapshot().latest is not None, "the first GPU job never trained")
    second = runner.submit(train_job, SMALL_CNN, _head(digits, 64), gpu, store=store, owner="bob")
    until(lambda: second.status == "running", "the second job was never sent")
    time.sleep(1.0)  # Ray holds it: the one accelerator is taken
    assert not second.done and second.placement == {}
    second.request_stop()
    done(second)
    assert (second.status, second.reason) == ("stopped", "stopped while it waited for a node of the Ray cluster")
    assert second.placement == {} and not first.done  # never started; the first goes on
    first.request_stop()
    assert done(first).status == "stopped"
    assert [r.owner for r in store.list()] == ["ada"]


def _head(data: LoadedData, n: int) -> LoadedData:
    """The first ``n`` training images: a set made here (an upload's kind), not loadable by name elsewhere."""
    return LoadedData(dataclasses.replace(data.card, train_size=n), data.train.subset(range(n)), data.val)


def test_named_sets_go_by_name_uploaded_ones_travel_under_a_cap(ray_cluster, tmp_path, digits):
    backend = RayBackend("auto")
    head = _head(digits, 1000)
    _, named = backend._pack(Job("a"), train_job, (SMALL_CNN, digits, CONFIG), {}, [])
    _, uploaded = backend._pack(Job("b"), train_job, (SMALL_CNN, head, CONFIG), {}, [])
    images = head.train.images.nelement() + head.val.images.nelement()  # uint8: bytes
    assert len(named) < 20_000 < images < len(uploaded)  # the images travel only with a set that has no name

    store = RunStore(tmp_path / "runs")
    runner = JobRunner(max_jobs=1, isolation="thread", backend=backend)
    trained = done(runner.submit(train_job, SMALL_CNN, _head(digits, 64), CONFIG, store=store))
    assert trained.status == "finished" and store.get(trained.result.run_id).config["dataset"]["train_size"] == 64

    # a set derived from a named one (the One-shot lab's identities) goes by its origin too, and is the same there
    identities = identity_data("digits", (7,), seed=0, max_train=300)
    spec, embed = ready_spec(identities.card.image_shape, 8), TrainConfig(task=Embed(dim=8, held_out=(7,)), epochs=1)
    _, derived = backend._pack(Job("c"), train_job, (spec, identities, embed), {}, [])
    assert len(derived) < 20_000
    lab = done(runner.submit(train_job, spec, identities, embed, store=store))
    assert lab.status == "finished", lab.error
    assert store.get(lab.result.run_id).config["dataset"]["train_size"] == len(identities.train)

    capped = JobRunner(max_jobs=1, isolation="thread", backend=RayBackend("auto", max_data_bytes=10_000))
    refused = done(capped.submit(train_job, SMALL_CNN, _head(digits, 64), CONFIG, store=store))
    assert refused.status == "failed" and "too big to send to the Ray cluster" in refused.error
    assert MAX_DATA_ENV in refused.error


def test_a_failing_job_fails_with_its_reason(ray_cluster):
    runner = JobRunner(max_jobs=1, isolation="thread", backend=RayBackend("auto"))
    job = done(runner.submit(refuse))
    assert (job.status, job.error) == ("failed", "lr must be a number > 0, got -1")


def test_an_unreachable_cluster_says_so_and_falls_back_only_when_configured(tmp_path, digits):
    closed = "127.0.0.1:9"  # discard: nothing listens there
    strict = JobRunner(max_jobs=1, isolation="thread", backend=RayBackend(closed, fallback=""))
    job = done(strict.submit(train_job, SMALL_CNN, _head(digits, 64), CONFIG))
    assert job.status == "failed" and f"the Ray cluster at {closed} cannot be reached" in job.error
    assert f"{FALLBACK_ENV}=local" in job.error

    store = RunStore(tmp_path / "runs")
    lenient = JobRunner(max_jobs=1, isolation="thread", backend=RayBackend(closed, fallback="local"))
    job = done(lenient.submit(train_job, SMALL_CNN, _head(digits, 64), CONFIG, store=store))
    assert job.status == "finished" and job.placement["backend"] == "local"
    assert "cannot be reached" in job.placement["why"] and store.info(job.result.run_id).status == "finished"


def test_without_ray_installed_a_job_says_how_to_enable_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` meets where it is not installed
    runner = JobRunner(max_jobs=1, isolation="thread", backend=RayBackend("127.0.0.1:9", fallback=""))
    job = done(runner.submit(refuse))
    assert job.status == "failed" and "Ray is not installed" in job.error and INSTALL in job.error


def test_the_settings(monkeypatch):
    monkeypatch.delenv(ADDRESS_ENV, raising=False)
    assert from_env() is None  # the local runner: the embedded default
    monkeypatch.setenv(ADDRESS_ENV, "ray://head:10001")
    monkeypatch.setenv(FALLBACK_ENV, "local")
    backend = from_env()
    assert (backend.address, backend.fallback) == ("ray://head:10001", "local")
    monkeypatch.setenv(FALLBACK_ENV, "elsewhere")
    with pytest.raises(ValueError, match=f"{FALLBACK_ENV} must be 'local' or empty, got 'elsewhere'"):
        from_env()
    monkeypatch.setenv(FALLBACK_ENV, "")
    monkeypatch.setenv(MAX_DATA_ENV, "0")
    with pytest.raises(ValueError, match=MAX_DATA_ENV):
        from_env()


def test_the_cli_trains_on_the_cluster_and_keeps_the_run_here(ray_cluster, tmp_path, capsys):
    from engine.__main__ import main

    spec = tmp_path / "small.json"
    spec.write_text(SMALL_CNN.to_json())
    runs = tmp_path / "runs"
    assert main(["train", "--spec", str(spec), "--data", "digits", "--epochs", "1", "--runs-dir", str(runs),
                 "--ray", "auto", "--json"]) == 0
    out = capsys.readouterr()
    summary = json.loads(out.out)
    assert summary["status"] == "finished" and "epoch 1/1" in out.err
    info = RunStore(runs).info(summary["run_id"])
    assert info.status == "finished" and info.device.endswith(f" on {ray_cluster.util.get_node_ip_address()}")

    assert main(["train", "--spec", str(spec), "--data", "digits", "--epochs", "1", "--runs-dir", str(runs),
                 "--ray", "127.0.0.1:9"]) == 1
    assert "the Ray cluster at 127.0.0.1:9 cannot be reached" in capsys.readouterr().err


def test_a_style_job_runs_on_the_cluster_with_its_log_relayed(ray_cluster):
    from engine.jobs.style import StyleLog, style_job
    from engine.media.images import sample_image, to_uint8
    from engine.style.artworks import artwork
    from engine.style.backbones import load_extractor
    from engine.style.optimise import StyleConfig, stylise

    config = StyleConfig(size=48, steps=6, preview_every=2, device="cpu")
    pair = to_uint8(sample_image("chelsea", 96, gray=False)), to_uint8(artwork("mosaic", 96))
    extractor = load_extractor("efficientnet_lite0", "cpu")  # a page's shared backbone: it travels by name
    log = StyleLog(config)
    runner = JobRunner(max_jobs=1, isolation="thread", backend=RayBackend("auto"))
    job = done(runner.submit(style_job, *pair, config, log=log, extractor=extractor))
    assert job.status == "finished", job.error
    assert job.placement["backend"] == "ray"
    snap = log.snapshot()
    assert snap.status == "finished" and [p[0] for p in snap.points] == [1, 2, 3, 4, 5, 6]
    assert [p[3] for p in snap.points] == [e.total for e in job.result.history]
    alone = stylise(*pair, config, extractor=extractor)  # the same work here
    assert [e.total for e in alone.history] == pytest.approx([e.total for e in job.result.history], rel=1e-4)


def test_a_blend_job_runs_each_ratio_on_the_cluster_with_a_log_each(ray_cluster):
    """The Style page's α/β blend: one job, several configs, a log per config (a list of logs in its arguments, each
    relayed); each result as the same optimisation gives here."""
    import dataclasses as dc

    from engine.jobs.style import StyleLog, blend_job
    from engine.media.images import sample_image, to_uint8
    from engine.style.artworks import artwork
    from engine.style.backbones import load_extractor
    from engine.style.optimise import StyleConfig, stylise

    base = StyleConfig(size=32, steps=3, preview_every=3, device="cpu")
    configs = [base, dc.replace(base, beta=base.beta * 100)]
    pair = to_uint8(sample_image("chelsea", 64, gray=False)), to_uint8(artwork("mosaic", 64))
    extractor = load_extractor("efficientnet_lite0", "cpu")
    logs = [StyleLog(c) for c in configs]
    runner = JobRunner(max_jobs=1, isolation="thread", backend=RayBackend("auto"))
    job = done(runner.submit(blend_job, *pair, configs, logs=logs, extractor=extractor))
    assert job.status == "finished", job.error
    assert job.placement["backend"] == "ray" and len(job.result.results) == 2 and not job.result.stopped
    for config, log, result in zip(configs, logs, job.result.results, strict=True):
        assert log.snapshot().status == "finished" and [p[0] for p in log.snapshot().points] == [1, 2, 3]
        alone = stylise(*pair, config, extractor=extractor)
        assert [e.total for e in alone.history] == pytest.approx([e.total for e in result.history], rel=1e-4)
    assert job.result.results[0].history[-1].total != pytest.approx(job.result.results[1].history[-1].total)


def test_the_training_page_says_which_node_trains_its_job(ray_cluster, tmp_path, monkeypatch):
    """The Training page with the server's runner sending jobs to the cluster: Train, and the page names the node the
    job ran on; the run is kept here."""
    from streamlit.testing.v1 import AppTest

    from engine.jobs import runner as jobs

    monkeypatch.setenv("CNNPG_RUNS_DIR", str(tmp_path))
    monkeypatch.setattr(jobs, "_runner", JobRunner(max_jobs=1, isolation="thread", backend=RayBackend("auto")))
    at = AppTest.from_file(str(REPO / "playground" / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("../pages/training.py")
    at.run()
    at.selectbox(key="_w_tr_dataset").set_value("digits").run()
    at.number_input(key="_w_tr_epochs").set_value(1).run()
    next(b for b in at.button if b.label == "Train").click().run()
    job = done(at.session_state["train_job"])
    assert job.status == "finished", job.error
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    node = ray_cluster.util.get_node_ip_address()
    assert any(f"of the Ray cluster's node {node} — " in s.value for s in at.success), \
        [s.value for s in at.success]
    (run,) = RunStore(tmp_path).list()
    assert run.status == "finished" and run.device.startswith("cpu") and run.device.endswith(f" on {node}")


def test_the_classroom_page_shows_the_teacher_which_node_runs_each_job(ray_cluster, tmp_path, monkeypatch, digits):
    """The teacher's list of jobs with the runner sending them to the cluster: a running job says its node."""
    from streamlit.testing.v1 import AppTest

    from engine.jobs import runner as jobs

    monkeypatch.setenv("CNNPG_RUNS_DIR", str(tmp_path))
    monkeypatch.setenv("CNNPG_TEACHER_TOKEN", "a-token-for-this-test-0123")
    runner = JobRunner(max_jobs=1, isolation="thread", backend=RayBackend("auto"))
    monkeypatch.setattr(jobs, "_runner", runner)
    job = runner.submit(train_job, SMALL_CNN, digits, CONFIG, store=RunStore(tmp_path), owner="ada",
                        callbacks=[Slow(0.05)], about={"label": "LeNet on digits"})
    until(lambda: job.placement.get("node") is not None, "the job never reached a node")
    at = AppTest.from_file(str(REPO / "playground" / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("../pages/classroom.py")
    at.run()
    at.text_input(key="_w_cls_token").input("a-token-for-this-test-0123")
    next(b for b in at.button if b.label == "Enter").click().run()
    assert not at.exception, [e.value for e in at.exception]
    node = ray_cluster.util.get_node_ip_address()
    text = "\n".join(m.value for m in at.markdown)
    assert f"LeNet on digits · running on cpu of the Ray cluster's node {node} · " in text, text
    job.request_stop()
    assert done(job).status == "stopped"
