"""Look inside, when the input is a drawing: a drawn digit is read well only by a network that learned handwritten
digits like MNIST's (white strokes on black, centred in 28×28). With any other network the page says so and offers
the user's own MNIST run, or trains LeNet-5 on MNIST 5k in one click (a job of the user's, with progress and Stop),
then reads the drawing with it; "What the network sees" shows the drawing at the network's input size.
"""

from __future__ import annotations

import streamlit as st

from engine.jobs import runner as jobs
from engine.jobs.runner import ServerBusyError
from engine.jobs.training import TrainOutcome, train_job
from engine.nets.presets import get_preset
from engine.training.config import TrainConfig
from engine.training.runs import RunError, RunInfo
from engine.units import plural
from playground import state
from playground.inspect.subject import Subject
from playground.owner import owner_id
from playground.store import run_store
from playground.training.common import named_data

DIGITS = ("mnist5k", "mnist")  # the sets whose digits look like a drawing fitted to the canvas
ONE_CLICK = "LeNet-5 on MNIST 5k (for drawings)"
EPOCHS = 3
PAGE = "inspect"
PROGRESS_S = 0.5


def drawing_advice_ui(subject: Subject) -> None:
    """Above the canvas: whether this network can read a drawn digit, and what to do when it cannot."""
    if subject.dataset in DIGITS and subject.task is not None and subject.task.name == "classify":
        st.caption(f"**{subject.title}** learned handwritten digits ({subject.dataset}): draw a digit, white on black, "
                   f"and it is read the way MNIST's were made — cropped to the strokes, centred, shrunk to the "
                   f"network's input (what the network sees is drawn beside the prediction).")
        return
    job = state.get(state.INSPECT_DRAW_JOB)
    if job is not None and not job.done:
        _progress_ui()
        return
    what = "an untrained network" if not subject.trained else f"a network trained on **{subject.dataset}**"
    ours = _digit_runs()
    with st.container(border=True):
        st.markdown(f"This is {what}: it will read a drawn digit as one of its own outputs, right only by chance. "
                    f"A drawing is read well by a network that learned handwritten digits (MNIST).")
        if ours:
            best = ours[0]
            st.button(f"Read drawings with your run “{best.name}” ({best.dataset}, "
                      f"{plural(best.epochs, 'epoch')})", key="_w_inspect_use_digits", icon=":material/draw:",
                      on_click=state.put, args=(state.INSPECT_RUN, best.id))
        st.button(f"Train LeNet-5 on MNIST 5k in one click ({EPOCHS} epochs)",
                  key="_w_inspect_train_digits", icon=":material/play_arrow:",
                  type="secondary" if ours else "primary", on_click=_train)
        said = state.get(state.INSPECT_DRAW_MESSAGE)
        if said:
            st.error(said)


def _digit_runs() -> list[RunInfo]:
    """This owner's finished digit classifiers (and nobody's), newest first."""
    try:
        runs = run_store().visible(owner_id())
    except (OSError, RunError):
        return []
    return [r for r in runs if r.dataset in DIGITS and r.task == "classify" and r.epochs >= 1]


def _train() -> None:
    state.put(state.INSPECT_DRAW_MESSAGE, None)
    seed = int(state.get(state.SEED))
    config = TrainConfig(epochs=EPOCHS, batch_size=64, lr=1e-3, seed=seed, device=str(state.get(state.DEVICE)))
    try:
        data = named_data("mnist5k", seed, None).data
        job = jobs.runner().submit(train_job, get_preset("lenet5"), data, config, store=run_store(), name=ONE_CLICK,
                                   owner=owner_id(), about={"page": PAGE})
    except (ServerBusyError, ValueError) as e:
        state.put(state.INSPECT_DRAW_MESSAGE, str(e)[:1].upper() + str(e)[1:])
        return
    state.put(state.INSPECT_DRAW_JOB, job)


def collect_finished() -> None:
    """Before the page chooses its network: this owner's one-click training, found again after a reload; once it is
    done, its run becomes the network the page looks at."""
    if state.INSPECT_DRAW_JOB not in st.session_state:
        state.put(state.INSPECT_DRAW_JOB, jobs.runner().latest(owner_id(), page=PAGE))
    job = state.get(state.INSPECT_DRAW_JOB)
    if job is None or not job.done or state.get(state.INSPECT_DRAW_COLLECTED) == job.id:
        return
    state.put(state.INSPECT_DRAW_COLLECTED, job.id)
    outcome = job.result
    if job.status == "failed" or not isinstance(outcome, TrainOutcome) or not outcome.result.epochs:
        state.put(state.INSPECT_DRAW_MESSAGE, f"The training did not finish: {job.reason or job.status}")
        return
    state.put(state.INSPECT_RUN, outcome.run_id)


@st.fragment(run_every=PROGRESS_S)
def _progress_ui() -> None:
    job = state.get(state.INSPECT_DRAW_JOB)
    if job is None or job.done:
        st.rerun()  # the whole page: the new run becomes the network
        return
    snap = job.log.snapshot()
    b, start = snap.latest, snap.start
    text = (jobs.runner().waiting(job) or "Waiting in the queue…") if job.status == "queued" else \
        "Preparing the data and the network…" if b is None or start is None else \
        f"Training LeNet-5 on MNIST 5k: epoch {b.epoch}/{start.epochs}, batch {b.batch}/{b.batches}, loss {b.loss:.3f}"
    left, right = st.columns([5, 1], vertical_alignment="center")
    left.progress(snap.fraction, text=text)
    right.button("Stop", key="_w_inspect_stop_digits", icon=":material/stop:", on_click=job.request_stop,
                 disabled=job.stop.is_set(), width="stretch")
    st.caption("When it finishes, the page reads your drawing with it. It goes on if you switch pages.")
