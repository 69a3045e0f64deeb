"""The Classroom page's panels, for the teacher only (``teacher.is_teacher``): the jobs running and waiting (Stop on
any), the server's load, the caps changed live, every student's runs and the class leaderboard. Each draws what the
server has now; the page redraws the live ones every few seconds (``st.fragment(run_every=...)``)."""

from __future__ import annotations

import contextlib
import os
import time

import pandas as pd
import streamlit as st

from engine.jobs import runner as jobs
from engine.jobs.job import Job
from engine.training.runs import Person, RunInfo
from engine.training.runs.people import boards, leaderboard, shown_name
from playground import state
from playground.training.live import where_it_runs

REFRESH_S = 3  # seconds between redraws of the live panels


def jobs_ui(people: dict[str, Person]) -> None:
    """The running jobs, then the queue in order: whose, what, for how long, its place; Stop on each."""
    runner = jobs.runner()
    active = runner.active()
    if not active:
        st.caption("No job is running or waiting.")
        return
    for job in active:
        what = job.about.get("label") or job.about.get("kind") or job.about.get("page") or "a job"
        place = runner.position(job)
        if place is not None:
            where = f"waiting · place {place} in the queue"
        elif job.placement.get("backend") == "ray":
            where = f"running on {job.placement.get('device') or 'its node'}{where_it_runs(job)}"
        else:
            where = "running"
        who, info, stop = st.columns([2, 5, 1], vertical_alignment="center")
        who.markdown(f"**{_md(shown_name(job.owner, people))}**")
        info.markdown(f"{_md(str(what))} · {where} · {_duration(job.seconds)} since it was submitted")
        stop.button("Stop", key=f"_w_cls_stop_{job.id}", icon=":material/stop:", on_click=_stop, args=(job,),
                    disabled=job.stop.is_set())


def _stop(job: Job) -> None:
    job.request_stop()  # a waiting job leaves the queue at once; a running one ends after its current batch


def load_ui() -> None:
    """The server process's CPU and memory, the machine's load average, the browser sessions and the jobs."""
    import psutil

    process = _process()
    runner = jobs.runner()
    running = len(runner.running())
    cols = st.columns(6)
    cols[0].metric("Server CPU", f"{process.cpu_percent(None):.0f} %",
                   help=f"since the last redraw of this panel (any teacher's), in percent of one core; the machine "
                        f"has {os.cpu_count()} cores")
    own, children = memory(process)
    cols[1].metric("Server memory", f"{(own + children) / 2**30:.2f} GiB",
                   help=f"resident: the server {own / 2**30:.2f} GiB, its job processes {children / 2**30:.2f} GiB "
                        f"(pages they share are counted in each); the machine has "
                        f"{psutil.virtual_memory().total / 2**30:.1f} GiB, "
                        f"{psutil.virtual_memory().available / 2**30:.1f} GiB free")
    cols[2].metric("Load (1 min)", f"{os.getloadavg()[0]:.2f}", help="processes wanting a core, on average")
    sessions = _sessions()
    cols[3].metric("Browser sessions", "—" if sessions is None else str(sessions))
    cols[4].metric("Jobs running", str(running), help=f"at most {runner.max_jobs} at once (the caps below)")
    cols[5].metric("Jobs waiting", str(len(runner.active()) - running))


_PROCESS = None


def _process():
    """This server process (one ``psutil.Process``, so ``cpu_percent(None)`` measures since the previous call; the
    first call measures 0.1 s)."""
    global _PROCESS
    if _PROCESS is None:
        import psutil

        _PROCESS = psutil.Process()
        _PROCESS.cpu_percent(interval=0.1)
    return _PROCESS


def memory(process) -> tuple[int, int]:
    """The resident bytes of ``process`` and of all its children together (the job processes and their fork
    server: docs/tasks-and-jobs.md); a child that ends meanwhile counts nothing."""
    import psutil

    children = 0
    for child in process.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            children += child.memory_info().rss
    return process.memory_info().rss, children


def _sessions() -> int | None:
    """Streamlit's count of connected sessions (its runtime's session manager), or None when it cannot say."""
    try:
        from streamlit.runtime import Runtime

        return int(Runtime.instance()._session_mgr.num_active_sessions())  # no public API for it (Streamlit 1.67)
    except Exception:  # noqa: BLE001 - outside a served app (AppTest) or another Streamlit: not shown
        return None


def caps_ui() -> None:
    """The caps that apply at once when changed: the jobs running at once (the queue moves on a raise)."""
    runner = jobs.runner()
    st.number_input("Jobs at once on this server", min_value=1, max_value=64, value=runner.max_jobs,
                    key="_w_cls_max_jobs", on_change=_set_max_jobs,
                    help="CNNPG_MAX_JOBS until the server restarts. Raising it starts waiting jobs now; lowering it "
                         "lets the running ones finish. One job per student at a time either way.")


def _set_max_jobs() -> None:
    n = int(st.session_state["_w_cls_max_jobs"])
    jobs.runner().set_max_jobs(n)
    state.put(state.CLASS_MESSAGE, ("success", f"At most {n} job{'s' * (n != 1)} now run at once."))


def runs_ui(runs: list[RunInfo], people: dict[str, Person]) -> None:
    """Every student's runs (the class's: runs with an owner), newest first."""
    mine = [r for r in runs if r.owner]
    if not mine:
        st.caption("No student has trained yet.")
        return
    st.dataframe(pd.DataFrame.from_records([{
        "student": shown_name(r.owner, people),
        "run": r.name,
        "data": r.dataset,
        "best (validation)": f"{r.primary.format(r.best)} {r.primary.title}" if r.best is not None else "—",
        "status": r.status,
        "epochs": r.epochs,
        "shared": "yes" if r.shared else "",
        "created (UTC)": r.created.replace("T", " ").split("+")[0],
    } for r in mine]), hide_index=True, width="stretch", height=min(400, 38 + 35 * len(mine)))


def board_ui(runs: list[RunInfo], people: dict[str, Person]) -> None:
    """The leaderboard of one data set (and its primary metric): each opted-in student's best validation value."""
    choices = boards(runs)
    if not choices:
        st.caption("The leaderboard fills when students who opted in (the sidebar's toggle) finish an epoch.")
        return
    choice = st.selectbox("Data set", choices, key="_w_cls_board", format_func=lambda c: f"{c[0]} · {c[1]}")
    if choice not in choices:
        return
    standing = leaderboard(runs, people, *choice)
    if not standing:
        st.caption("Nobody who opted in has a result on this data set yet.")
        return
    metric = next(r.primary for r in runs if (r.dataset, r.metric) == choice)
    st.dataframe(pd.DataFrame.from_records([{
        "#": i + 1, "student": s.name, f"best {metric.title}": metric.format(s.best), "run": s.run_name,
    } for i, s in enumerate(standing)]), hide_index=True, width="stretch")


def _duration(seconds: float) -> str:
    seconds = int(max(0.0, seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def _md(text: str) -> str:
    """``text`` safe inside markdown (names are checked, but a job's label comes from a run's name)."""
    return "".join(f"\\{c}" if c in "\\`*_{}[]()<>#+-.!|~$" else c for c in text)


def now() -> str:
    return time.strftime("%H:%M:%S")
