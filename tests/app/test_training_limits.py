"""The Training page under a server's limits per job (engine/training/limits.py; issue 9, "Jobs, fairly"): the
limits are shown by the settings, the epochs input stops at the cap, a link asking for more is brought down to it
saying why, and a job that reaches the time limit stops as Stop does, resumable. Set through the environment before
the app runs (monkeypatch), as a deployment sets it; real training on digits."""

from __future__ import annotations

import pytest
from apptest_helpers import await_job, button, open_page

LIMIT_CAPTION = "This server allows at most"


@pytest.fixture(autouse=True)
def runs_dir(tmp_path, monkeypatch):
    for var in ("CNNPG_MAX_EPOCHS", "CNNPG_MAX_JOB_SECONDS", "CNNPG_DEMO", "CNNPG_MAX_INPUT_SIDE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CNNPG_RUNS_DIR", str(tmp_path))
    return tmp_path


def _limit_captions(at) -> list[str]:
    return [c.value for c in at.caption if c.value.startswith(LIMIT_CAPTION)]


def test_a_laptop_sees_no_limits() -> None:
    at = open_page("training.py")
    assert _limit_captions(at) == []
    assert at.number_input(key="_w_tr_epochs").max == 500


def test_the_settings_show_the_servers_limits(monkeypatch) -> None:
    monkeypatch.setenv("CNNPG_MAX_EPOCHS", "8")
    monkeypatch.setenv("CNNPG_MAX_JOB_SECONDS", "300")
    monkeypatch.setenv("CNNPG_MAX_INPUT_SIDE", "256")
    at = open_page("training.py")
    assert _limit_captions(at) == [
        "This server allows at most 8 epochs and 5 min of training per job. A job that reaches the time stops as "
        "with Stop; resume it under Runs for as long again. Networks take inputs of at most 256×256 pixels."]
    epochs = at.number_input(key="_w_tr_epochs")
    assert (epochs.max, epochs.value) == (8, 5)


def test_a_demo_has_its_caps_without_settings(monkeypatch) -> None:
    monkeypatch.setenv("CNNPG_DEMO", "1")
    at = open_page("training.py")
    assert _limit_captions(at)[0].startswith("This server allows at most 20 epochs and 5 min of training per job.")


def test_a_link_asking_for_more_epochs_is_brought_down_to_the_cap(monkeypatch) -> None:
    monkeypatch.setenv("CNNPG_MAX_EPOCHS", "3")
    at = open_page("training.py", query={"epochs": "50"})
    assert [w.value for w in at.warning if "epochs" in w.value] == [
        "50 epochs is over this server's limit of 3 per job (CNNPG_MAX_EPOCHS=3); set to 3."]
    assert at.number_input(key="_w_tr_epochs").value == 3
    assert not at.error


def test_a_bad_limit_is_said_on_the_page_not_a_traceback(monkeypatch) -> None:
    monkeypatch.setenv("CNNPG_MAX_JOB_SECONDS", "five minutes")
    at = open_page("training.py")
    assert [e.value for e in at.error] == [
        "The server's limits per job are misconfigured: CNNPG_MAX_JOB_SECONDS must be a positive integer (seconds "
        "per training job), got 'five minutes'"]
    assert button(at, "Train").disabled


def test_a_job_that_reaches_the_time_limit_stops_and_keeps_its_run(monkeypatch, runs_dir) -> None:
    monkeypatch.setenv("CNNPG_MAX_JOB_SECONDS", "1")
    monkeypatch.setenv("CNNPG_MAX_EPOCHS", "50")
    at = open_page("training.py")
    at.selectbox(key="_w_tr_dataset").set_value("digits").run()
    at.number_input(key="_w_tr_epochs").set_value(50).run()
    button(at, "Train").click().run()
    job = await_job(at, "train_job", 120)
    assert (job.status, job.reason) == ("stopped", "reached the server's limit of 1.0 s per job")
    stopped = [w.value for w in at.warning if w.value.startswith("Stopped")]
    assert len(stopped) == 1 and stopped[0].startswith("Stopped (reached the server's limit of 1.0 s per job)")
    assert "resume it under **Runs → Manage a run**" in stopped[0]
    resume = at.number_input(key=f"_w_tr_resume_to_{job.result.run_id}")
    done = resume.min - 1
    assert done < 50 and resume.max == done + 50  # resuming trains at most 50 more epochs in the next job


@pytest.mark.parametrize(("page", "key", "own_max"), [("sliding.py", "_w_sw_epochs", 30),
                                                      ("localisation.py", "_w_loc_tr_epochs", 100)])
def test_the_other_pages_that_train_stop_their_epochs_at_the_cap(monkeypatch, page: str, key: str,
                                                                 own_max: int) -> None:
    assert open_page(page).number_input(key=key).max == own_max  # no limit: the page's own
    monkeypatch.setenv("CNNPG_MAX_EPOCHS", "2")
    epochs = open_page(page).number_input(key=key)
    assert (epochs.max, epochs.value) == (2, 2)
