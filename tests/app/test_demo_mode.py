"""Demo mode (``CNNPG_DEMO=1``, playground/store.py; issue 9, "Hosting"): each visitor's runs live in a temporary
folder of their own, never in the shared runs folder, seen by no one else, and gone when the visitor's last session
ends or the server stops. Real sessions (AppTest) and real training on digits; the server's exit in a real process."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

import pytest
from apptest_helpers import await_job, button, open_page
from streamlit.testing.v1 import AppTest

from engine.training.runs import RunStore
from playground import store

ADA, BOB = "ada_demo_visitor_0001", "bob_demo_visitor_0002"


@pytest.fixture
def shared(tmp_path, monkeypatch) -> Path:
    """The shared runs folder, which a demo must leave alone; and demo mode on, with no other caps."""
    for var in ("CNNPG_MAX_EPOCHS", "CNNPG_MAX_JOB_SECONDS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CNNPG_RUNS_DIR", str(tmp_path / "shared"))
    monkeypatch.setenv("CNNPG_DEMO", "1")
    gc.collect()  # sessions of earlier tests are gone
    return tmp_path / "shared"


def _train_one_epoch(owner: str):
    at = open_page("training.py", owner=owner)
    at.selectbox(key="_w_tr_dataset").set_value("digits").run()
    at.number_input(key="_w_tr_epochs").set_value(1).run()
    button(at, "Train").click().run()
    job = await_job(at, "train_job", 120)
    assert job.status == "finished", job.error
    return at, job.result.run_id


def _managed(at) -> list[str]:
    """The run the page's "Manage a run" shows (the newest), if it lists any."""
    return [s.value for s in at.selectbox if s.key and s.key.startswith("_w_tr_manage_run_")]


def test_a_visitors_runs_are_their_own_and_leave_with_them(shared: Path) -> None:
    ada, run_id = _train_one_epoch(ADA)
    folder = store.DEMO.folder(ADA)
    assert [r.id for r in RunStore(folder).list()] == [run_id]
    assert RunStore(shared).list() == []  # nothing in the shared folder
    assert _managed(ada) == [run_id]  # Ada's page lists it

    bob = open_page("training.py", owner=BOB)
    assert _managed(bob) == [] and any(c.value.startswith("No runs yet.") for c in bob.caption)  # nor anyone else
    assert store.DEMO.folder(BOB) != folder

    again = open_page("training.py", owner=ADA)  # a reload: a new session opens before the old one is dropped
    del ada
    gc.collect()
    assert store.DEMO.holding(ADA) == 1 and folder.is_dir()  # the reload keeps the runs
    assert _managed(again) == [run_id]

    del again  # the visitor's last session ends
    gc.collect()
    assert store.DEMO.holding(ADA) == 0
    assert not folder.exists()
    assert bob.session_state["owner"] == BOB and store.DEMO.holding(BOB) == 1  # others keep theirs


def _store_root(owner: str) -> str:
    def page():
        import streamlit as st

        from playground.store import run_store

        st.write(str(run_store().root))

    at = AppTest.from_function(page, default_timeout=60)
    at.session_state["owner"] = owner
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at.markdown[0].value


def test_one_function_decides_where_runs_go(shared: Path, monkeypatch) -> None:
    assert _store_root(ADA) == str(store.DEMO.folder(ADA))
    monkeypatch.delenv("CNNPG_DEMO")  # a server of one's own: every session shares the runs folder
    assert _store_root(ADA) == _store_root(BOB) == str(shared)


def test_the_demo_folders_go_when_the_server_stops(tmp_path) -> None:
    code = ("from playground.store import DEMO; f = DEMO.folder('x'); f.mkdir(); (f / 'run.json').write_text('{}'); "
            "print(DEMO.root())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp_path), "PYTHONPATH": ":".join(sys.path)})
    assert out.returncode == 0, out.stderr
    root = Path(out.stdout.strip())
    assert root.parent == tmp_path and root.name.startswith("cnnpg-demo-")
    assert not root.exists()
