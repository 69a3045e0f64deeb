"""Which network "Look inside" looks at: a trained run from the run store (the training page's active run by default),
or the builder's network, untrained, its weights drawn from the sidebar seed — so the page shows something before
anything is trained.

The network is shared read-only by every session that looks at the same one (``playground.cache``: the builder's by
its spec and seed, a run's by its id and checkpoint), never kept in session state: the page only reads it (feature
maps are recorded with hooks that see only their own call). The builder's network is built with
``engine.nets.build.build(spec, seed=...)``, from a private generator: nothing on this page thread touches torch's
global one (docs/architecture.md, "Randomness").
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from engine.data import Normalization
from engine.nets.build import Network
from engine.nets.spec import SpecError
from engine.training.runs import RunError, RunInfo
from engine.training.tasks import Task
from engine.units import format_shape, plural
from playground import state
from playground.cache import shared_network, shared_run, summary_of
from playground.navigation import PAGES, page_path
from playground.owner import owner_id
from playground.store import run_store

BUILDER = ""  # the network option that stands for the builder's untrained network


@dataclass(frozen=True)
class Subject:
    """The network the page looks at: a run's (with its ``task``) or the builder's (``task`` None). ``classes`` is
    None when the output is not one score per class of a classification run or of the builder's network."""

    title: str
    model: Network
    stats: Normalization | None
    input_shape: tuple[int, int, int]
    classes: tuple[str, ...] | None
    trained: bool
    token: tuple  # identifies the weights: a run and its epochs, or the builder's spec and seed
    dataset: str | None = None  # the run's data set (its name in engine.data), for validation samples
    data_seed: int = 0
    task: Task | None = None  # a run's task; None for the builder's untrained network
    names: tuple[str, ...] = ()  # what a run's outputs name, whatever its task: classes, points, identities


def model_ui() -> Subject | None:
    """Choose the network: one of this owner's runs (or nobody's: the CLI's) with at least one finished epoch — by
    default the active run, again whenever the training page starts a new one, else this owner's newest — or the
    builder's untrained network. Never another browser's run (playground/owner.py). Says so, with a link to the
    Training page, when there are no runs. None when the choice can't be loaded (the reason is shown)."""
    me = owner_id()
    try:
        runs = [r for r in run_store().visible(me) if r.epochs >= 1 or r.status == "stopped"]
    except (OSError, RunError) as e:
        st.error(f"The run store could not be read: {e}")
        runs = []
    ids = [r.id for r in runs]
    newest_mine = next((r.id for r in runs if r.owner == me), None)
    active = state.get(state.ACTIVE_RUN)
    if active != state.get(state.INSPECT_SEEN_ACTIVE):  # a new run from the training page: follow it
        state.put(state.INSPECT_SEEN_ACTIVE, active)
        if active in ids:
            state.put(state.INSPECT_RUN, active)
    options = [*ids, BUILDER]
    if state.get(state.INSPECT_RUN) not in options:
        state.put(state.INSPECT_RUN, active if active in ids else (newest_mine or BUILDER))
    if not runs:
        _no_runs_message()
    by_id = {r.id: r for r in runs}
    seed = int(state.get(state.SEED))
    state.widget_default("_w_inspect_run", state.INSPECT_RUN)
    st.selectbox("Network", options, key="_w_inspect_run", on_change=state.bind,
                 args=("_w_inspect_run", state.INSPECT_RUN),
                 format_func=lambda i: _run_label(by_id[i], i == active) if i else
                 f"The builder's network, untrained (weights from seed {seed})")
    choice = state.get(state.INSPECT_RUN)
    try:
        return _run_subject(by_id[choice]) if choice else _builder_subject(seed)
    except (RunError, SpecError, ValueError, KeyError) as e:
        st.error(f"This network could not be loaded: {e}")
        return None


def _run_label(r: RunInfo, active: bool) -> str:
    best = f", best validation {r.primary.title} {r.primary.format(r.best)}" if r.best is not None else ""
    name = r.name if r.name != r.id else r.id
    return f"{name}{' (active)' if active else ''} — {r.dataset}, {plural(r.epochs, 'epoch')}{best}, {r.status}"


def _no_runs_message() -> None:
    text = ("No trained network yet. Train one on the **Training** page and it appears here; meanwhile you can look "
            "inside the builder's network as it starts: untrained, with random weights.")
    st.info(text, icon=":material/info:")
    try:
        st.page_link(page_path("training"), label="Go to the Training page", icon=PAGES.get("training").icon)
    except st.errors.StreamlitAPIException:  # the page runs outside the app's navigation
        pass


def _run_subject(info: RunInfo) -> Subject:
    token = ("run", info.id, info.epochs, info.status)
    trained = shared_run(run_store(), info.id, token[2:])
    classify = trained.task.name == "classify"
    return Subject(
        title=trained.name, model=trained.model, stats=trained.stats, input_shape=trained.input_shape,
        classes=trained.classes if classify and trained.classes else None, trained=True, token=token,
        dataset=trained.dataset, data_seed=trained.seed, task=trained.task, names=tuple(trained.classes or ()),
    )


def _builder_subject(seed: int) -> Subject | None:
    spec = state.spec()
    s = summary_of(spec)
    if s.errors:
        st.error("The builder's network has invalid layers; fix them on the CNN builder page first.")
        return None
    if len(spec.input) != 3:
        st.error(f"The builder's network takes a {format_shape(spec.input)} input, not an image (C×H×W).")
        return None
    out = s.output_shape
    classes = tuple(str(i) for i in range(out[0])) if out is not None and len(out) == 1 else None
    token = ("builder", spec.to_json(indent=None), seed)
    model = shared_network(spec, seed)
    return Subject("the builder's network (untrained)", model, None, tuple(spec.input), classes, trained=False,
                   token=token)


def subject_caption(subject: Subject) -> None:
    c, h, w = subject.input_shape
    n = sum(p.numel() for p in subject.model.parameters())
    classes = (f"{len(subject.classes)} outputs" if not subject.trained else
               f"{len(subject.classes)} classes: {', '.join(subject.classes[:12])}"
               f"{' …' if len(subject.classes) > 12 else ''}") if subject.classes else "no class scores"
    st.caption(f"Input {c}×{h}×{w} · {n:,} parameters · {classes}"
               + (f" · trained on **{subject.dataset}**" if subject.dataset else ""))
    if not subject.trained:
        st.warning("This network is untrained: its filters are random and its predictions are guesses. Train it on "
                   "the Training page to see what it learns.", icon=":material/casino:")
