"""End the lesson: stop every job (running or waiting), export the class's runs (the runs with an owner; nobody's
runs, the command line's, stay) as one zip (``engine.training.runs.archive``), then delete them — behind a
confirmation. The zip is written to ``<runs folder>/lessons/`` on the server (a class of large networks makes a large
file: never held in memory) and offered for download, read only when the teacher clicks."""

from __future__ import annotations

import os
import time

import streamlit as st

from engine.jobs import runner as jobs
from engine.training.runs import RunError, RunStore
from engine.training.runs.archive import export_runs
from playground import state

STOP_WAIT_S = 60  # seconds to wait for the stopped jobs to end before exporting


def end_ui(store: RunStore) -> None:
    """The confirmation, the button, and the last lesson's export to download."""
    sure = st.checkbox("Yes: stop every job, export the class's runs and delete them from this server",
                       key="_w_cls_end_sure")
    st.button("End the lesson", key="_w_cls_end", icon=":material/door_open:", type="primary", disabled=not sure,
              on_click=_end, args=(store,),
              help="Runs from the command line (nobody's) stay; students' names and leaderboard choices stay.")
    export = state.get(state.CLASS_EXPORT)
    if export is not None and export.is_file():
        st.download_button(f"Download the lesson's runs ({export.stat().st_size / 2**20:.1f} MB)", export.read_bytes,
                           file_name=export.name, mime="application/zip", key="_w_cls_download",
                           icon=":material/download:", on_click="ignore")
        st.caption(f"Also kept on the server: {export}")


def _end(store: RunStore) -> None:
    st.session_state["_w_cls_end_sure"] = False
    runner = jobs.runner()
    active = runner.active()
    for job in active:
        job.request_stop()
    deadline = time.time() + STOP_WAIT_S
    still = [j for j in active if not j.wait(max(0.0, deadline - time.time()))]
    runs = [r for r in store.list() if r.owner]
    folder = store.root / "lessons"
    folder.mkdir(exist_ok=True)
    path = folder / f"lesson-{time.strftime('%Y%m%d-%H%M%S')}.zip"
    part = folder / f".{path.name}.{os.getpid()}.part"
    with open(part, "wb") as out:
        export_runs(store, runs, store.people(), out)
    part.replace(path)  # complete or absent: a half-written export never carries the final name
    state.put(state.CLASS_EXPORT, path)
    failed = []
    for r in runs:
        try:
            store.delete(r.id)
        except (OSError, RunError) as e:
            failed.append(f"{r.name}: {e}")
    text = (f"The lesson ended: {len(active)} job{'s' * (len(active) != 1)} stopped, {len(runs) - len(failed)} "
            f"run{'s' * (len(runs) != 1)} exported and deleted.")
    if still:
        text += f" {len(still)} job{'s' * (len(still) != 1)} had not ended after {STOP_WAIT_S} s; their runs go too."
    if failed:
        text += " Not deleted: " + "; ".join(failed)
    state.put(state.CLASS_MESSAGE, ("warning" if failed or still else "success", text))
