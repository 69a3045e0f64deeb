"""The classroom, headless through the real entry: a student's name in the sidebar, a run shared with the class on
the Training page (others see it read-only), and the teacher's Classroom page — refused without the token or with a
wrong one; with it, real jobs (running and waiting, stop one, raise the cap and the waiting one starts), the
leaderboard from real runs of the students who opted in, and the end of the lesson (jobs stopped, the runs exported
as safetensors and cleared)."""

from __future__ import annotations

import collections
import dataclasses
import time
import zipfile

import psutil
import pytest
import torch
from apptest_helpers import button, metric, open_page
from safetensors.torch import load_file

from engine.data import LoadedData, load_dataset
from engine.jobs import runner as jobs
from engine.jobs.runner import JobRunner
from engine.jobs.training import train_job
from engine.nets.spec import NetworkSpec
from engine.training.config import TrainConfig
from engine.training.loop import fit
from engine.training.runs import RunStore
from engine.training.runs.people import anonymous
from playground.navigation import PAGES

TOKEN = "a-teacher's-secret-token-7f3a"
ADA, BOB, CY = "ada-owner-id-0123456789", "bob-owner-id-0123456789", "cy-owner-id-01234567890"
SPEC = NetworkSpec.from_dict({"input": [1, 8, 8], "layers": [
    {"kind": "conv2d", "out_channels": 4, "padding": 1}, {"kind": "relu"}, {"kind": "maxpool2d"},
    {"kind": "flatten"}, {"kind": "linear", "out_features": 10},
]})
WAIT = 120  # seconds


@pytest.fixture
def class_on(monkeypatch, runs_dir):
    monkeypatch.setenv("CNNPG_TEACHER_TOKEN", TOKEN)
    return runs_dir


@pytest.fixture
def runner(monkeypatch):
    """A fresh process-wide runner with one job at once; its jobs are stopped after the test."""
    fresh = JobRunner(max_jobs=1)
    monkeypatch.setattr(jobs, "_runner", fresh)
    yield fresh
    for job in fresh.active():
        job.request_stop()
    for job in fresh.active():
        job.wait(WAIT)


@pytest.fixture(scope="module")
def digits() -> LoadedData:
    data = load_dataset("digits")
    return LoadedData(dataclasses.replace(data.card, train_size=300), data.train.subset(range(300)), data.val)


def _ok(at):
    assert not at.exception, [e.value for e in at.exception]
    return at


def _teacher(token: str = TOKEN):
    at = open_page("classroom.py")
    at.text_input(key="_w_cls_token").input(token)
    button(at, "Enter").click().run()
    return _ok(at)


def _until(condition, what: str, at=None) -> None:
    deadline = time.time() + WAIT
    while not condition():
        assert time.time() < deadline, what
        time.sleep(0.2)
        if at is not None:
            at.run()


def _texts(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def _frames(at):
    return [d.value for d in at.dataframe]


def test_without_a_class_nothing_changes_but_the_name(runs_dir):
    assert not PAGES.get("classroom").shown  # not in the menu
    at = open_page("training.py", owner=ADA)
    assert [t.label for t in at.sidebar.text_input] == ["Your name"]
    assert not at.sidebar.toggle  # no leaderboard without a class
    run = fit(SPEC, load_dataset("digits"), TrainConfig(epochs=1, batch_size=256), store=RunStore(runs_dir),
              owner=ADA)
    at.run()
    assert not [t for t in at.toggle if t.label == "Shared with the class"] and _ok(at)
    assert RunStore(runs_dir).info(run.run_id).owner == ADA


def test_a_name_is_checked_kept_for_the_owner_and_back_after_a_reload(class_on):
    at = open_page("home.py", owner=ADA)
    at.sidebar.text_input(key="_w_my_name").input("<b>Ada</b>").run()
    assert [e.value for e in at.sidebar.error] == [
        "Name not kept: a name holds letters, digits, spaces and - _ . ' only; it cannot hold '/', '<', '>'."]
    at.sidebar.text_input(key="_w_my_name").input("A" * 30).run()
    assert "at most 24 characters; this one has 30 (6 too many)" in at.sidebar.error[0].value
    at.sidebar.text_input(key="_w_my_name").input("  Ada  Lovelace ").run()
    assert not at.sidebar.error and at.sidebar.text_input(key="_w_my_name").value == "Ada Lovelace"
    at.sidebar.toggle(key="_w_on_board").set_value(True).run()
    assert RunStore(class_on).person(ADA).name == "Ada Lovelace" and RunStore(class_on).person(ADA).on_board
    again = open_page("home.py", owner=ADA)  # a reload: a new session, the same browser
    assert again.sidebar.text_input(key="_w_my_name").value == "Ada Lovelace"
    assert again.sidebar.toggle(key="_w_on_board").value is True
    assert open_page("home.py", owner=BOB).sidebar.text_input(key="_w_my_name").value == ""


def test_a_shared_run_is_seen_read_only_by_the_others(class_on, digits):
    store = RunStore(class_on)
    store.set_name(ADA, "Ada")
    run = fit(SPEC, digits, TrainConfig(epochs=1, batch_size=64), store=store, owner=ADA, name="ada's digits").run_id
    bob = open_page("training.py", owner=BOB)
    assert "ada's digits" not in str(_frames(bob)) and _ok(bob)  # not shared yet: Ada's own
    ada = open_page("training.py", owner=ADA)
    share = next(t for t in ada.toggle if t.label == "Shared with the class")
    share.set_value(True).run()
    assert store.info(run).shared and _ok(ada)
    bob.run()
    (table,) = [f for f in _frames(bob) if "name" in f.columns]
    assert list(table["name"]) == ["ada's digits"]
    manage = next(s for s in bob.selectbox if s.key and s.key.startswith("_w_tr_manage_run_"))
    assert manage.format_func(run) == "ada's digits · shared by Ada"
    assert any("Shared with the class by Ada" in c.value for c in bob.caption)
    for label in ("Resume", "Rename", "Delete"):
        assert button(bob, label).disabled, label
    assert not [t for t in bob.toggle if t.label == "Shared with the class"]  # only its owner shares it
    button(bob, "Show its evaluation").click().run()
    assert bob.session_state["active_run"] == run and _ok(bob)  # show, compare, inspect: read-only use
    assert store.info(run).name == "ada's digits" and store.exists(run)


def test_the_classroom_page_refuses_without_the_token_and_with_a_wrong_one(class_on):
    at = open_page("classroom.py")
    assert any("Teacher only" in w.value for w in at.warning)
    assert not [b for b in at.button if b.label in ("Stop", "End the lesson")] and not at.main.number_input
    at = _teacher("not-the-token")
    assert [e.value for e in at.error] == ["That is not the teacher's token."]
    assert not [b for b in at.button if b.label in ("Stop", "End the lesson")] and not at.main.number_input
    assert "teacher" not in at.session_state


def _try(at, token: str):
    at.text_input(key="_w_cls_token").input(token)
    button(at, "Enter").click().run()
    return _ok(at)


def test_guessing_the_token_is_rationed_per_session_and_per_server(class_on, monkeypatch):
    from playground.classroom import teacher

    monkeypatch.setattr(teacher, "_wrong_server", collections.deque())
    monkeypatch.setattr(teacher, "WINDOW_S", 2.0)
    monkeypatch.setattr(teacher, "MAX_WRONG_SERVER", 7)
    at = open_page("classroom.py")
    for _ in range(teacher.MAX_WRONG):
        assert [e.value for e in _try(at, "guess").error] == ["That is not the teacher's token."]
    at = _try(at, TOKEN)  # the right one, but after five wrong ones within the window
    assert [e.value for e in at.error] == ["Too many wrong tokens: try again in 2 s (at most 5 tries a minute)."]
    assert "teacher" not in at.session_state
    other = open_page("classroom.py")  # a guesser's new session: two more wrong ones fill the server's ration
    for _ in range(2):
        _try(other, "guess")
    assert "Too many wrong tokens" in _try(open_page("classroom.py"), TOKEN).error[0].value
    time.sleep(2.1)  # the window passes: the teacher gets in
    at = _try(at, TOKEN)
    assert not at.error and at.session_state["teacher"] is True


def _job(digits, owner: str, epochs: int = 500):
    config = TrainConfig(epochs=epochs, batch_size=32)
    return jobs.runner().submit(train_job, SPEC, digits, config, store=RunStore(), owner=owner,
                                about={"page": "training", "label": f"digits · {epochs} epochs"})


def test_the_teacher_sees_the_jobs_stops_one_and_a_raised_cap_starts_the_waiting_one(class_on, runner, digits):
    RunStore(class_on).set_name(ADA, "Ada")
    ada, bob = _job(digits, ADA), _job(digits, BOB)
    _until(lambda: ada.status == "running", f"Ada's job is {ada.status}")
    at = _teacher()
    text = _texts(at)
    assert "**Ada**" in text and f"**{anonymous(BOB)}**" in text
    assert "digits · 500 epochs · running" in text and "waiting · place 1 in the queue" in text
    assert bob.status == "queued" and BOB not in text  # an owner id is a secret: never shown
    assert (metric(at, "Jobs running"), metric(at, "Jobs waiting")) == ("1", "1")
    shown_gib = float(metric(at, "Server memory").removesuffix(" GiB"))  # AppTest runs the page in this process
    here = psutil.Process()  # with its children: Ada's job process among them
    children = sum(c.memory_info().rss for c in here.children(recursive=True))
    assert children > 50 * 2**20  # a job process holds torch
    assert shown_gib == pytest.approx((here.memory_info().rss + children) / 2**30, abs=0.25)
    assert at.number_input(key="_w_cls_max_jobs").value == 1
    at.number_input(key="_w_cls_max_jobs").set_value(2).run()
    assert runner.max_jobs == 2 and any("At most 2 jobs now run at once" in s.value for s in at.success)
    _until(lambda: bob.status == "running", f"Bob's job is {bob.status}")  # the cap started it, nobody ended
    assert not ada.done
    at.run()
    assert "waiting" not in _texts(at)
    assert (metric(at, "Jobs running"), metric(at, "Jobs waiting")) == ("2", "0")
    stop = [b for b in at.button if b.label == "Stop"]
    assert len(stop) == 2
    stop[0].click().run()  # the first listed: Ada's, running first
    assert ada.wait(WAIT) and ada.status == "stopped" and not bob.done
    _ok(at)


def test_the_leaderboard_shows_the_best_of_each_student_who_opted_in(class_on, digits):
    store = RunStore(class_on)
    runs = {}
    for owner, lr, name in [(ADA, 1e-3, "a-slow"), (ADA, 1e-2, "a-fast"), (BOB, 3e-3, "b"), (CY, 1e-2, "c")]:
        runs[name] = fit(SPEC, digits, TrainConfig(epochs=2, batch_size=32, lr=lr), store=store, owner=owner,
                         name=name).run_id
    store.set_name(ADA, "Ada")
    store.set_on_board(ADA, True)
    store.set_on_board(BOB, True)  # Cy did not opt in
    expected = []
    for owner, names in ((ADA, ("a-slow", "a-fast")), (BOB, ("b",))):
        best = max((max(e["val"]["accuracy"] for e in store.get(runs[n]).history), n) for n in names)
        expected.append((best[0], owner, best[1]))
    at = _teacher()
    (board,) = [f for f in _frames(at) if "#" in f.columns]
    rows = sorted(expected, reverse=True)
    assert list(board["student"]) == ["Ada" if o == ADA else anonymous(BOB) for _, o, _ in rows]
    assert list(board["run"]) == [n for _, _, n in rows]
    assert list(board["best accuracy"]) == [f"{v * 100:.1f}%" for v, _, _ in rows]
    assert "c" not in list(board["run"])


def test_ending_the_lesson_stops_every_job_exports_the_runs_and_clears_them(class_on, runner, digits):
    store = RunStore(class_on)
    store.set_name(ADA, "Ada")
    done = fit(SPEC, digits, TrainConfig(epochs=1, batch_size=32), store=store, owner=ADA, name="kept weights")
    nobody = fit(SPEC, digits, TrainConfig(epochs=1, batch_size=32), store=store, name="from the CLI").run_id
    weights = store.load_checkpoint(done.run_id).model
    running, waiting = _job(digits, BOB), _job(digits, CY)
    _until(lambda: running.status == "running" and running.log.snapshot().epochs, "Bob's job has no epoch yet")
    at = _teacher()
    assert button(at, "End the lesson").disabled  # the confirmation first
    at.checkbox(key="_w_cls_end_sure").check().run()
    button(at, "End the lesson").click().run()
    _ok(at)
    assert running.status == "stopped" and waiting.status == "stopped" and runner.active() == []
    assert [r.id for r in store.list()] == [nobody]  # the class's runs are gone; the CLI's stays
    assert any("The lesson ended: 2 jobs stopped, 2 runs exported and deleted." in s.value for s in at.success)
    export = at.session_state["class_export"]
    assert export.parent == class_on / "lessons" and export.name.startswith("lesson-") and export.suffix == ".zip"
    assert [p.name for p in export.parent.iterdir()] == [export.name]  # no half-written file left beside it
    with zipfile.ZipFile(export) as zf:
        names = zf.namelist()
        path = class_on / "kept.safetensors"
        path.write_bytes(zf.read(f"{done.run_id}/model.safetensors"))
    assert {n.split("/")[0] for n in names if "/" in n} == {done.run_id, running.result.run_id}
    loaded = load_file(path)
    assert loaded.keys() == weights.keys() and all(torch.equal(loaded[k], weights[k]) for k in weights)
    assert not any(n.endswith((".pt", ".pkl", ".pth")) for n in names)
    assert at.get("download_button")
