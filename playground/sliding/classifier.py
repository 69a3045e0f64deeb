"""The classifier the page slides: the window classifier, trained here in one click as a job
(``engine.detection.search``: a ready spec without padding, on the "windows" set), or any finished classification
run of the user's from the run store (e.g. the Training page's): this browser's runs and nobody's, never another's.
The page says which it is.

Training never runs in the page script: the click submits ``engine.jobs.training.train_job`` to the process-wide
runner and keeps the handle under ``state.SLIDE_JOB``; a fragment redraws its progress and offers Stop; once the job
is done its run becomes the page's classifier (``state.SLIDE_RUN``). The run, loaded on the CPU, is shared
read-only with every session that slides it (``playground.cache.shared_run``).
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from engine.data.windows import BACKGROUND, OBJECT_FILL
from engine.detection.search import (
    WINDOW_CLASSIFIER,
    WINDOW_DATA,
    WINDOW_EPOCHS,
    background_index,
    window_classifier_config,
)
from engine.jobs import runner as jobs
from engine.jobs.runner import ServerBusyError
from engine.jobs.training import TrainOutcome, train_job
from engine.training.runs import RunError, RunInfo
from engine.training.trained import TrainedModel
from engine.units import format_seconds, plural
from playground import state
from playground.cache import shared_run
from playground.navigation import page_path
from playground.owner import owner_id
from playground.store import run_store
from playground.training.common import named_data
from playground.training.settings import epochs_max

ONE_CLICK_NAME = "window classifier (one click)"
PROGRESS_S = 0.5


@dataclass(frozen=True)
class Classifier:
    """The run the page slides: the ``trained`` model (eval, CPU), a ``token`` naming its weights, the index of its
    "background" class (None without one), the fraction of a window its objects' boxes fill (``fill``: the windows
    set's, else 1: the window itself) and whether it is the one-click window classifier."""

    trained: TrainedModel
    token: tuple
    background: int | None
    fill: float
    one_click: bool

    @property
    def classes(self) -> tuple[str, ...]:
        return self.trained.classes


def _runs() -> list[RunInfo]:
    try:
        return [r for r in run_store().visible(owner_id()) if r.task == "classify" and r.epochs >= 1]
    except (OSError, RunError) as e:
        st.error(f"The run store could not be read: {e}")
        return []


def _collect() -> None:
    """Once per finished job: its run becomes the page's classifier."""
    job = state.get(state.SLIDE_JOB)
    if job is None or not job.done or state.get(state.SLIDE_COLLECTED) == job.id:
        return
    state.put(state.SLIDE_COLLECTED, job.id)
    outcome = job.result
    if isinstance(outcome, TrainOutcome) and outcome.run_id is not None and outcome.result.epochs >= 1:
        state.put(state.SLIDE_RUN, outcome.run_id)


def _train(epochs: int) -> None:
    """Submit the one-click training (from the button's callback)."""
    state.put(state.SLIDE_MESSAGE, None)
    seed = int(state.get(state.SEED))
    try:
        data = named_data(WINDOW_DATA, seed, None).data
        config = window_classifier_config(seed=seed, device=str(state.get(state.DEVICE)), epochs=epochs)
        job = jobs.runner().submit(train_job, WINDOW_CLASSIFIER, data, config, store=run_store(), name=ONE_CLICK_NAME,
                                   owner=owner_id(), about={"page": "sliding"})
    except (ServerBusyError, ValueError) as e:
        state.put(state.SLIDE_MESSAGE, str(e))
        return
    state.put(state.SLIDE_JOB, job)


def classifier_ui() -> Classifier | None:
    """Choose (or train) the classifier; None until there is one (with what to do shown)."""
    if state.SLIDE_JOB not in st.session_state:  # a reload: this owner's one-click job, found again
        state.put(state.SLIDE_JOB, jobs.runner().latest(owner_id(), page="sliding"))
    _collect()
    runs = _runs()
    by_id = {r.id: r for r in runs}
    if state.get(state.SLIDE_RUN) not in by_id:  # this owner's newest one-click classifier, else their newest run
        me = owner_id()
        one_click = [r.id for r in runs if r.name == ONE_CLICK_NAME and r.owner == me] + \
            [r.id for r in runs if r.owner == me]
        state.put(state.SLIDE_RUN, (one_click or list(by_id) or [None])[0])
    job = state.get(state.SLIDE_JOB)
    running = job is not None and not job.done
    pick, train = st.columns([3, 2], gap="medium", vertical_alignment="bottom")
    with pick:
        if runs:
            state.widget_default("_w_sw_run", state.SLIDE_RUN)
            st.selectbox("Classifier to slide", list(by_id), key="_w_sw_run", on_change=state.bind,
                         args=("_w_sw_run", state.SLIDE_RUN), format_func=lambda i: _label(by_id[i]))
        else:
            st.info("No classifier yet: train the window classifier in one click (a few seconds to a minute on a "
                    "CPU), or any classifier on the Training page.", icon=":material/info:")
    with train:
        most = epochs_max("_w_sw_epochs", 30)  # the server's limit per job, when lower
        epochs = st.number_input("Epochs", 1, most, min(WINDOW_EPOCHS, most), key="_w_sw_epochs",
                                 persist_state="session",
                                 help="How long the one-click classifier trains (the windows set: 4,000 crops).")
        st.button("Train the window classifier", key="_w_sw_train", icon=":material/play_arrow:", type="primary",
                  disabled=running, on_click=_train, args=(int(epochs),), width="stretch")
    if state.get(state.SLIDE_MESSAGE):
        st.error(state.get(state.SLIDE_MESSAGE))
    if job is not None:
        _job_ui(running)
    run_id = state.get(state.SLIDE_RUN)
    if run_id is None:
        return None
    try:
        clf = _load(by_id[run_id])
    except (RunError, ValueError, KeyError, OSError) as e:
        st.error(f"This run could not be loaded: {e}")
        return None
    _about(clf, by_id[run_id])
    return clf


def _label(r: RunInfo) -> str:
    best = f", validation {r.primary.title} {r.primary.format(r.best)}" if r.best is not None else ""
    return f"{r.name} — {r.dataset}, {plural(r.epochs, 'epoch')}{best} ({r.id})"


def _load(info: RunInfo) -> Classifier:
    token = ("run", info.id, info.epochs, info.status)
    trained = shared_run(run_store(), info.id, token[2:])
    windows = trained.dataset == WINDOW_DATA
    return Classifier(trained, token, background_index(trained.classes), OBJECT_FILL if windows else 1.0,
                      info.name == ONE_CLICK_NAME and trained.model.spec == WINDOW_CLASSIFIER)


def _about(clf: Classifier, info: RunInfo) -> None:
    c, h, w = clf.trained.input_shape
    what = ("the **window classifier** trained here in one click" if clf.one_click else
            f"**your run {info.name}**" + (" (your own network)" if clf.trained.model.spec != WINDOW_CLASSIFIER
                                           else ""))
    classes = ", ".join(clf.classes[:10]) + (" …" if len(clf.classes) > 10 else "")
    background = (f"its class “{BACKGROUND}” says a window frames nothing" if clf.background is not None else
                  f"it has no “{BACKGROUND}” class, so every window is *some* class: the maps show the best one")
    st.caption(f"Sliding {what}: trained on **{info.dataset}** for {plural(info.epochs, 'epoch')}, input "
               f"{c}×{h}×{w}, classes {classes}; {background}. Runs are kept in the run store; train others on the "
               f"Training page.")
    try:
        st.page_link(page_path("training"), label="Train another classifier on the Training page",
                     icon=":material/model_training:")
    except st.errors.StreamlitAPIException:  # outside the app's navigation
        pass


def _job_ui(running: bool) -> None:
    @st.fragment(run_every=PROGRESS_S if running else None)
    def _progress() -> None:
        job = state.get(state.SLIDE_JOB)
        snap = job.log.snapshot()
        if not job.done:
            b, start = snap.latest, snap.start
            text = ((jobs.runner().waiting(job) or "Waiting in the queue…") if job.status == "queued" else
                    "Preparing the window classifier…" if b is None or start is None else
                    f"epoch {b.epoch}/{start.epochs} · batch {b.batch}/{b.batches} · loss {b.loss:.3f} · about "
                    f"{format_seconds(b.eta_s)} left")
            bar, stop = st.columns([5, 1], vertical_alignment="center")
            bar.progress(snap.fraction, text=text)
            stopping = job.stop.is_set()
            stop.button("Stopping…" if stopping else "Stop", key="_w_sw_stop", icon=":material/stop:",
                        on_click=job.request_stop, disabled=stopping, width="stretch")
        elif job.status == "finished":
            r = job.result.result
            st.success(f"Trained the window classifier: validation {r.metric.title} {r.metric.format(r.last)} after "
                       f"{plural(r.epochs, 'epoch')}, {format_seconds(job.seconds)} on {r.device} (run {r.run_id}).",
                       icon=":material/check_circle:")
        elif job.status == "stopped":
            st.warning(f"Stopped ({job.reason}) after {plural(len(snap.epochs), 'epoch')}; a run with at least one "
                       f"finished epoch can be slid.", icon=":material/pause_circle:")
        else:
            st.error(f"Training failed: {job.error or job.reason}", icon=":material/error:")
        if running and job.done:
            st.rerun()  # the whole page: the new run becomes the classifier

    _progress()
