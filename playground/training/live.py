"""The training page's Train section: submitting this session's job, and its live view — progress, Stop and the
curves — drawn from snapshots of the job's event log while it runs; when the job ends, ``collect_finished_job``
takes its outcome in (the active run, its evaluation)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from engine.data import LoadedData
from engine.device import describe, resolve
from engine.jobs import runner as jobs
from engine.jobs.job import Job
from engine.jobs.log import LogSnapshot
from engine.jobs.runner import ServerBusyError
from engine.jobs.training import TrainOutcome, train_job
from engine.nets.spec import NetworkSpec
from engine.training.config import TrainConfig
from engine.training.runs import RunError, RunStore
from engine.training.tasks import Classify
from engine.units import format_seconds, plural
from playground import state
from playground.figures import training as figs
from playground.owner import owner_id
from playground.training.common import Picked, message, network_title, run_store
from playground.training.expected import expected_time, redraw_when_measured
from playground.training.results import eval_key, remember_eval

PAGE = "training"  # the jobs' about["page"]: what a reloaded training page re-attaches to
PROGRESS_S = 0.5  # seconds between two redraws of the progress bar while a job runs
CURVES_S = 2.0  # ... and of the live curves


def submit(task: dict[str, Any], *args: Any, **kwargs: Any) -> None:
    """Start ``train_job(*args, **kwargs)`` for this session (from a callback, or before ``st.rerun``); ``task``
    describes it for the page ("kind", "label", "epochs")."""
    state.put(state.TRAIN_MESSAGE, None)
    current = state.get(state.TRAIN_JOB)
    if current is not None and not current.done:
        message("warning", "This session is already training; stop that run first.")
        return
    try:
        job = jobs.runner().submit(train_job, *args, owner=owner_id(), about={"page": PAGE, **task}, **kwargs)
    except (ServerBusyError, ValueError) as e:
        message("error", str(e)[:1].upper() + str(e)[1:])
        return
    state.put(state.TRAIN_JOB, job)
    state.put(state.TRAIN_JOB_TASK, task)


def _start_new(spec: NetworkSpec, data: LoadedData, config: TrainConfig) -> None:
    submit({"kind": "new", "label": f"{network_title(spec)} on {data.card.title}", "epochs": config.epochs},
           spec, data, config, store=run_store())


def current_job() -> Job | None:
    """This session's job; in a new session (a reload, a new tab), this owner's latest training job, found again."""
    if state.TRAIN_JOB not in st.session_state:
        job = jobs.runner().latest(owner_id(), page=PAGE)
        state.put(state.TRAIN_JOB, job)
        if job is not None:
            state.put(state.TRAIN_JOB_TASK, {k: v for k, v in job.about.items() if k != "page"})
    return state.get(state.TRAIN_JOB)


def busy() -> bool:
    """Whether this session's job is still running."""
    job = current_job()
    return job is not None and not job.done


def collect_slot_run(store: RunStore, seen_key: str) -> tuple[str, str] | None:
    """For a page that starts training jobs under a slot of its own (``TRAIN_JOB_TASK["slot"]``): the Training
    page's collection first, then — once per finished job, remembered under ``seen_key`` — ``(slot, run id)`` of the
    run it made when it did not fail; None otherwise."""
    collect_finished_job(store)
    job = current_job()
    if job is None or not job.done or state.get(seen_key) == job.id:
        return None
    state.put(seen_key, job.id)
    slot = (state.get(state.TRAIN_JOB_TASK) or {}).get("slot")
    run_id = getattr(job.result, "run_id", None)
    if slot is None or run_id is None or job.status == "failed":
        return None
    return slot, run_id


def collect_finished_job(store: RunStore) -> None:
    """Once per finished job: make its run the active one, keep its evaluation, remember it as this session's."""
    job = current_job()
    if job is None or not job.done or state.get(state.TRAIN_COLLECTED) == job.id:
        return
    state.put(state.TRAIN_COLLECTED, job.id)
    outcome = job.result
    if not isinstance(outcome, TrainOutcome) or outcome.run_id is None:
        return
    run_id = outcome.run_id
    if job.status == "failed":
        return
    state.put(state.ACTIVE_RUN, run_id)
    if outcome.evaluation is None and job.stop.is_set():  # Stop skipped it: the page does not make the user wait
        state.put(state.TRAIN_EVAL_LATER, run_id)
    if outcome.evaluation is not None:
        try:
            remember_eval(eval_key(store.get(run_id)), outcome.evaluation)
        except RunError:
            pass  # deleted meanwhile


def train_ui(spec: NetworkSpec, picked: Picked | None, config: TrainConfig | None, ready: bool) -> None:
    """The Train button, what it will do, and the live view of this session's job."""
    job = current_job()
    running = job is not None and not job.done
    button, plan = st.columns([1, 5], vertical_alignment="center")
    # Handled here, not in an on_click callback: a callback's arguments are the previous run's, and a value typed
    # just before the click (the number of epochs) arrives with the click itself.
    if button.button("Train", key="_w_tr_train", type="primary", icon=":material/play_arrow:", width="stretch",
                     disabled=running or not ready or config is None) and picked is not None and config is not None:
        _start_new(spec, picked.data, config)
        st.rerun()  # draw the page with the job: Train disabled, the live view on
    if picked is not None and config is not None:
        n, bs = len(picked.data.train), config.batch_size
        batches = -(-n // bs)
        try:
            where = describe(resolve(config.device))
        except ValueError as e:
            where = str(e)
        took, measuring = expected_time(spec, picked, config) if ready and not running else ("", False)
        took = f" Expected time: {took}" + "." * (not measuring) if took else ""
        plan.caption(f"Trains **{network_title(spec)}** on **{picked.data.card.title}** for {config.epochs} "
                     f"epoch{'s' * (config.epochs != 1)} on {where}. Each epoch: {n:,} images in {batches:,} "
                     f"batches of {bs}, then a check on {len(picked.data.val):,} validation images.{took} Every "
                     f"run is kept under Runs: stop it, resume it, compare it.")
        if measuring:
            redraw_when_measured(spec, picked, config)
    dropped_ui()
    message_ui()
    live_ui()


def dropped_ui() -> None:
    """Once: this owner's training jobs that were waiting in the queue when the server restarted (they never ran)."""
    for d in jobs.runner().dropped(owner_id(), page=PAGE):
        st.warning(f"Your job “{d.about.get('label') or 'training'}” did not run: {d.reason}.")


def message_ui() -> None:
    """Why the last click that should have started a job did not (``submit`` says so)."""
    said = state.get(state.TRAIN_MESSAGE)
    if said:
        level, text = said
        (st.error if level == "error" else st.warning)(text)


def live_ui() -> None:
    """Progress, Stop and the curves of this session's job: two fragments that redraw themselves while it runs —
    the progress often, the curves less often (drawing a chart costs the browser more than a bar)."""
    job = current_job()
    if job is None:
        st.caption("Press **Train**: the loss and metric curves draw here as it learns.")
        return
    running = not job.done

    @st.fragment(run_every=PROGRESS_S if running else None)
    def _status() -> None:
        job = current_job()
        task = state.get(state.TRAIN_JOB_TASK) or {}
        snap = job.log.snapshot()
        if job.done:
            _outcome_ui(job, snap, task)
        else:
            _progress_ui(job, snap, task)
        if running and job.done:
            st.rerun()  # the whole page: the curves' last epoch, the evaluation and the runs list follow

    @st.fragment(run_every=CURVES_S if running else None)
    def _curves() -> None:
        snap = current_job().log.snapshot()
        if snap.epochs or snap.batch_losses:
            total = snap.start.epochs if snap.start else None
            task = snap.start.task if snap.start is not None and snap.start.task is not None else Classify()
            st.plotly_chart(figs.curves_figure(snap.epochs, snap.batch_losses, total, task), width="stretch",
                            config={"displaylogo": False})
        elif running:
            st.caption("The curves start after the first batches.")

    _status()
    _curves()


def _progress_ui(job: Job, snap: LogSnapshot, task: dict[str, Any]) -> None:
    b, start = snap.latest, snap.start
    if job.status == "queued":
        text = jobs.runner().waiting(job) or "Waiting in the queue…"
    elif start is None:
        text = "Preparing: building the network, computing the data's statistics…"
    elif b is None or snap.fraction == 0.0 and b.epoch <= start.start_epoch:
        text = f"Starting epoch {start.start_epoch + 1} of {start.epochs} on {start.device}…"
    else:
        text = (f"epoch {b.epoch}/{start.epochs} · batch {b.batch}/{b.batches} · loss {b.loss:.3f} · "
                f"{b.images_per_second:,.0f} images/s · about {format_seconds(b.eta_s)} left")
    st.progress(snap.fraction, text=text)
    stop, about = st.columns([1, 5], vertical_alignment="center")
    stopping = job.stop.is_set()
    stop.button("Stopping…" if stopping else "Stop", key="_w_tr_stop", icon=":material/stop:", width="stretch",
                on_click=job.request_stop, disabled=stopping)
    run = f" · run {start.run_id} on {start.device}{where_it_runs(job)}" if start is not None else ""
    about.caption(f"{task.get('label', 'Training')}{run}. It goes on if you change the settings or visit another "
                  f"page; it stops cleanly after the current batch when you press Stop.")


def where_it_runs(job: Job) -> str:
    """Where a job sent to a Ray cluster runs (docs/ray.md), as words to follow its device: the node, the reason a
    GPU job trains on a node's CPU, or why it runs on this server after all. Empty for a job of this server."""
    p = job.placement
    if p.get("backend") == "ray":
        note = f" ({p['note']})" if p.get("note") else ""
        return f" of the Ray cluster's node {p.get('node', '?')}{note}"
    if p.get("backend") == "local" and p.get("why"):
        return f" of this server, not the Ray cluster: {p['why']}"
    return ""


def _outcome_ui(job: Job, snap: LogSnapshot, task: dict[str, Any]) -> None:
    outcome = job.result if isinstance(job.result, TrainOutcome) else None
    label = task.get("label", "the run")
    if job.status == "finished" and outcome is not None:
        r = outcome.result
        st.success(f"Finished {label}: validation {r.metric.title} **{r.metric.format(r.last)}** after "
                   f"{plural(r.epochs, 'epoch')} on {r.device}{where_it_runs(job)} — "
                   f"{r.images_per_second:,.0f} images/s, "
                   f"{format_seconds(job.seconds)} in all.", icon=":material/check_circle:")
    elif job.status == "stopped":
        b = snap.latest
        where = f" in epoch {b.epoch}, after batch {b.batch} of {b.batches}" if b is not None else ""
        st.warning(f"Stopped ({job.reason}){where}; {plural(len(snap.epochs), 'epoch')} finished. The run keeps its "
                   f"checkpoint: resume it under **Runs → Manage a run**.", icon=":material/pause_circle:")
    else:
        st.error(f"Training failed: {job.error}", icon=":material/error:")
    if outcome is not None:
        for note in outcome.notes:
            st.caption(note)
