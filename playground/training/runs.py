"""The training page's runs section: this browser's runs, the runs others share with the class (read-only: show,
compare, inspect, transfer from) and nobody's (the CLI's; never another browser's unshared run: see
playground/owner.py) — compare their curves, manage one (show, rename, resume, delete, share with the class), and start
transfer learning from one (``transfer``)."""

from __future__ import annotations

import streamlit as st

from engine.jobs import runner as jobs
from engine.training.config import TrainConfig
from engine.training.limits import job_limits
from engine.training.runs import Person, RunError, RunInfo, RunStore
from engine.training.runs.people import shown_name
from engine.training.trained import resume_settings
from playground import state
from playground.classroom.teacher import classroom_on
from playground.figures import training as figs
from playground.owner import owner_id
from playground.training import live
from playground.training.common import PERSIST, Picked, device_choice, message
from playground.training.results import data_of
from playground.training.settings import MAX_EPOCHS, most_epochs
from playground.training.transfer import transfer_ui


def _labels(runs: list[RunInfo]) -> dict[str, str]:
    names = [r.name for r in runs]
    me = owner_id()
    people = _people(runs)
    return {r.id: (r.name if names.count(r.name) == 1 or r.name == r.id else f"{r.name} ({r.id})")
            + (f" · shared by {shown_name(r.owner, people)}" if r.owner and r.owner != me else "") for r in runs}


def _people(runs: list[RunInfo]) -> dict[str, Person]:
    """The names of the others whose shared runs are listed (none read when there are none)."""
    me = owner_id()
    return RunStore().people() if any(r.owner and r.owner != me for r in runs) else {}


def runs_ui(store: RunStore, current: Picked | None, config: TrainConfig | None) -> None:
    """This owner's runs and nobody's; compare, manage (show, rename, resume, delete) and transfer from one."""
    me = owner_id()
    runs = store.visible(me)
    if not runs:
        st.caption("No runs yet. Every training run is kept here — its settings, curves and weights — to compare, "
                   "resume or fine-tune later.")
        st.markdown("**Transfer learning**")
        transfer_ui(store, [], {}, current, config)
        return
    mine = [r.id for r in runs if r.owner == me]
    if len(mine) < len(runs):
        only_mine = st.toggle("only my runs", key="_w_tr_only_mine", persist_state=PERSIST,
                              help="Besides your own runs (this browser's), the list shows runs that belong to nobody "
                                   "(trained from the command line on this server) and runs others share with the "
                                   "class (to show, compare and inspect; only their owner changes them).")
    else:
        only_mine = False
    shown = [r for r in runs if r.id in mine] if only_mine else runs
    if not shown:
        st.caption("You have not trained yet.")
        return
    st.dataframe(figs.runs_table(shown, state.get(state.ACTIVE_RUN), mine), hide_index=True, width="stretch",
                 height=min(400, 38 + 35 * len(shown)),
                 column_config={"": st.column_config.TextColumn(width="small",
                                                                help="▶ shown above · ● yours (this browser's)"),
                                "best (validation)": st.column_config.TextColumn(
                                    help="the best epoch's value of the task's primary metric")})
    labels = _labels(shown)
    compare, manage, transfer_tab = st.tabs(["Compare runs", "Manage a run", "Transfer learning"])
    with compare:
        _compare_ui(store, shown, labels)
    with manage:
        _manage_ui(store, shown, labels, current)
    with transfer_tab:
        transfer_ui(store, shown, labels, current, config)


def _compare_ui(store: RunStore, runs: list[RunInfo], labels: dict[str, str]) -> None:
    ids = [r.id for r in runs]
    active = state.get(state.ACTIVE_RUN)
    default = ([active] if active in ids else []) + [i for i in ids if i != active][:2]
    chosen = st.multiselect("Runs to overlay", ids, default=default, format_func=labels.get,
                            key=f"_w_tr_compare_{active}",  # a new active run starts a fresh choice with it
                            help="Their validation (solid) and training (dotted) curves, epoch by epoch.")
    if not chosen:
        return
    try:
        histories = store.compare(chosen)
    except RunError as e:
        st.error(str(e))
        return
    if not any(histories.values()):
        st.caption("None of these runs has finished an epoch yet.")
        return
    metric = next(r for r in runs if r.id == chosen[0]).primary  # the first run's; runs without it show their loss
    st.plotly_chart(figs.compare_figure({labels[i]: histories[i] for i in chosen}, metric), width="stretch",
                    config={"displaylogo": False})


def _manage_ui(store: RunStore, runs: list[RunInfo], labels: dict[str, str], current: Picked | None) -> None:
    ids = [r.id for r in runs]
    active = state.get(state.ACTIVE_RUN)
    run_id = st.selectbox("Run", ids, index=ids.index(active) if active in ids else 0, format_func=labels.get,
                          key=f"_w_tr_manage_run_{active}")  # a new active run is the one to manage
    info = next(r for r in runs if r.id == run_id)
    theirs = bool(info.owner) and info.owner != owner_id()  # shared with the class by someone else: read-only
    busy = _training_now(run_id)
    if theirs:
        st.caption(f"Shared with the class by {shown_name(info.owner, _people([info]))}: show it, compare it, look "
                   f"inside it or fine-tune your own copy (Transfer learning); only they can resume, rename or delete "
                   f"it.")
    elif info.owner and classroom_on():
        st.toggle("Shared with the class", value=info.shared, key=f"_w_tr_share_{run_id}",
                  on_change=_share, args=(store, run_id, f"_w_tr_share_{run_id}"),
                  help="Others on this server see it (read-only) in their runs, with your name.")
    show, rename, delete = st.columns(3, gap="large")
    with show:
        st.button("Show its evaluation", key="_w_tr_show", icon=":material/visibility:", disabled=run_id == active,
                  on_click=state.put, args=(state.ACTIVE_RUN, run_id),
                  help="Make it the active run: the evaluation above, the downloads and the other pages use it.")
        try:
            run = store.get(run_id)
        except RunError as e:
            st.error(str(e))
            return
        planned = run.config["train"].get("epochs")  # a crafted config.json may hold none (issue 9)
        planned = planned if isinstance(planned, int) and not isinstance(planned, bool) else info.epochs + 1
        try:
            most = info.epochs + most_epochs(job_limits())
        except ValueError:  # a misconfigured server: the settings above say so
            most = info.epochs + MAX_EPOCHS
        st.number_input("Resume: train until epoch", min_value=info.epochs + 1, max_value=most,
                        value=min(max(planned, info.epochs + 1), most), key=f"_w_tr_resume_to_{run_id}")
        st.button("Resume", key="_w_tr_resume", icon=":material/resume:", disabled=busy or live.busy() or theirs,
                  on_click=_resume, args=(store, run_id, f"_w_tr_resume_to_{run_id}", current),
                  help="Continue the same run from its checkpoint: the same settings and data; the epochs go on "
                       "counting and the curves grow.")
    with rename:
        st.text_input("New name", value=info.name, key=f"_w_tr_name_{run_id}", max_chars=80)
        st.button("Rename", key="_w_tr_rename", icon=":material/edit:", on_click=_rename, disabled=theirs,
                  args=(store, run_id, f"_w_tr_name_{run_id}"))
    with delete:
        sure = st.checkbox("yes, delete it for good", key=f"_w_tr_sure_{run_id}")
        st.button("Delete", key="_w_tr_delete", icon=":material/delete:", disabled=not sure or busy or theirs,
                  on_click=_delete, args=(store, run_id))
        if busy:
            st.caption("It is training now; stop it first.")
        elif info.status == "interrupted":
            st.caption("Interrupted: its server stopped while it trained. Resume continues it from its last "
                       "checkpoint (the end of its last finished epoch).")
        elif info.status == "running":
            st.caption("It is training in another server process now.")


def _training_now(run_id: str) -> bool:
    """Whether a job of this server (any session's) is training ``run_id`` now."""
    for job in jobs.runner().active():
        start = job.log.snapshot().start
        if start is not None and start.run_id == run_id:
            return True
    return False


def _rename(store: RunStore, run_id: str, key: str) -> None:
    try:
        store.rename(run_id, st.session_state[key], by=owner_id())
    except (ValueError, PermissionError) as e:
        message("error", f"Cannot rename the run: {e}")


def _share(store: RunStore, run_id: str, key: str) -> None:
    try:
        store.share(run_id, bool(st.session_state[key]), by=owner_id())
    except (ValueError, PermissionError) as e:
        message("error", f"Cannot share the run: {e}")


def _delete(store: RunStore, run_id: str) -> None:
    if _training_now(run_id):
        message("warning", "This run is training; stop it before deleting it.")
        return
    try:
        store.delete(run_id, by=owner_id())
    except (ValueError, PermissionError) as e:
        message("error", f"Cannot delete the run: {e}")
        return
    if state.get(state.ACTIVE_RUN) == run_id:
        state.put(state.ACTIVE_RUN, None)


def _resume(store: RunStore, run_id: str, key: str, current: Picked | None) -> None:
    try:
        run = store.get(run_id)
        data, why = data_of(run, current)
        if data is None:
            message("warning", why)
            return
        config = resume_settings(run, int(st.session_state[key]), device_choice())
    except ValueError as e:
        message("error", f"Cannot resume the run: {e}")
        return
    live.submit({"kind": "resume", "label": f"{run.info.name} (resumed)", "epochs": config.epochs},
                None, data, config, store=store, run_id=run_id)
