"""A server restart loses nothing (issue 9): a real ``kill -9`` of the served app while it trains, mid-epoch; a new
server on the same runs folder shows the run "interrupted" to the same browser (its owner cookie), and the page's
Resume takes it to the same weights as an uninterrupted resume of that checkpoint.

Oracle: a copy of the runs folder taken right after the kill, resumed in this process by the engine (``fit`` with the
run's own data and settings, one thread like the server) — the weights must be equal, tensor for tensor.
"""

from __future__ import annotations

import os
import shutil
import signal
import time

import torch
from playwright.sync_api import expect
from served_app import ROOT, StApp, serve_process

from engine.training.loop import fit
from engine.training.runs import RunStore
from engine.training.trained import resume_settings, run_data

APP = ROOT / "playground" / "app.py"
EPOCHS = 3
TRAIN_TIMEOUT = 180_000  # ms


def _wait_for_first_epoch(store: RunStore, deadline_s: float = 240):
    """The run, once its first epoch's checkpoint is written (it is then training epoch 2)."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        runs = store.list()
        if runs and runs[0].epochs >= 1:
            return runs[0]
        time.sleep(0.05)
    raise TimeoutError(f"no epoch finished within {deadline_s:.0f} s")


def test_a_server_killed_mid_epoch_comes_back_with_the_run_interrupted_and_resumable(browser, tmp_path) -> None:
    runs, copy = tmp_path / "runs", tmp_path / "copy"
    # One thread and no GPU: the server's floats and this process's are then the same, bit for bit.
    env = {"CNNPG_RUNS_DIR": str(runs), "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    context = browser.new_context(viewport={"width": 1400, "height": 1000})  # one browser: its cookie survives
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        with serve_process(APP, tmp_path / "first.log", env) as (url, server):
            app = StApp(page, url)
            app.goto(f"/training?data=digits&epochs={EPOCHS}&batch=16")
            expect(app.main()).to_contain_text("8×8 gray → resized to 32×32")
            app.button("Train").click()
            started = _wait_for_first_epoch(RunStore(runs))
            os.kill(server.pid, signal.SIGKILL)  # mid-epoch 2: no clean shutdown of anything
            server.wait(30)
        assert server.returncode == -signal.SIGKILL
        shutil.copytree(runs, copy)

        # what a restarted server's store sees; the job's process (engine.jobs.process) dies a few ms after the
        # server, when its lifeline pipe closes, and its flock with it
        deadline = time.monotonic() + 5
        while RunStore(runs).info(started.id).status == "running" and time.monotonic() < deadline:
            time.sleep(0.01)
        info = RunStore(runs).info(started.id)
        assert info.status == "interrupted" and 1 <= info.epochs < EPOCHS, info

        with serve_process(APP, tmp_path / "second.log", env) as (url, _):
            app = StApp(page, url)
            app.goto("/training")
            page.get_by_role("tab", name="Manage a run").click()  # tabs switch in the browser: no rerun
            expect(app.main()).to_contain_text("Interrupted: its server stopped while it trained")
            resume_to = page.get_by_role("spinbutton", name="Resume: train until epoch")
            expect(resume_to).to_have_value(str(EPOCHS))  # the epochs it set out to train
            app.button("Resume").click()
            expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text("Finished", timeout=TRAIN_TIMEOUT)
            app.assert_no_exception()
    finally:
        context.close()

    resumed = RunStore(runs)
    assert (resumed.info(started.id).status, resumed.info(started.id).epochs) == ("finished", EPOCHS)

    oracle = RunStore(copy)  # the same checkpoint, resumed by the engine here
    run = oracle.get(started.id)
    data, why = run_data(run)
    assert data is not None, why
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = fit(None, data, resume_settings(run, EPOCHS, "cpu"), store=oracle, run_id=started.id)
    finally:
        torch.set_num_threads(threads)
    assert result.status == "finished"
    got = resumed.load_model(started.id).state_dict()
    want = oracle.load_model(started.id).state_dict()
    assert got.keys() == want.keys()
    assert all(torch.equal(got[k], want[k]) for k in got), [k for k in got if not torch.equal(got[k], want[k])]
