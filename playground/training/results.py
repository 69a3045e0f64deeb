"""The training page's evaluation section: how the active run does on its validation images — for classification
accuracy, per class, the confusion matrix, the most-confused pairs and the mistakes; for localisation and landmarks
the predicted and true boxes or points (``playground.localisation.views``, shared with that page); for another task
its metrics — and its downloads. Evaluations are kept in the session's holder (``playground.cache.held``: bounded, made
again when dropped), keyed by the run's checkpoint."""

from __future__ import annotations

import re
from typing import Any

import streamlit as st

from engine.data import LoadedData
from engine.device import resolve
from engine.training.evaluate import evaluate
from engine.training.export import export_run
from engine.training.runs import Run, RunError, RunStore
from engine.training.tasks import Task
from engine.training.tasks.classify import Evaluation
from engine.training.trained import run_data, run_input_shape, run_stats
from engine.units import plural
from playground import state
from playground.cache import held
from playground.figures import training as figs
from playground.localisation import views
from playground.training.common import Picked, device_choice, load_named, network_title, short


def eval_key(run: Run) -> tuple[str, int, int]:
    checkpoint = run.path / "checkpoint.safetensors"
    return run.info.id, run.info.epochs, checkpoint.stat().st_mtime_ns if checkpoint.is_file() else 0


def remember_eval(key: tuple, evaluation: Evaluation) -> None:
    held().put(("eval", *key), evaluation)


def data_of(run: Run, current: Picked | None) -> tuple[LoadedData | None, str]:
    """The data ``run`` trained on (``engine.training.trained.run_data``, loading named sets through the cache)."""
    return run_data(run, current.data if current is not None else None, load=load_named)


def run_evaluation(store: RunStore, run: Run, data: LoadedData, task: Task) -> Any:
    """The task's evaluation of ``run`` on ``data.val``, computed once per session and checkpoint."""
    key = eval_key(run)
    evaluation = held().get(("eval", *key))
    if evaluation is None:
        try:
            device = resolve(device_choice())
        except ValueError:
            device = resolve("cpu")
        with st.spinner("Evaluating the run on its validation images…"):
            model = store.load_model(run.info.id, device=device)
            evaluation = evaluate(model, data.val, run_stats(run), task=task)
        remember_eval(key, evaluation)
    return evaluation


def results_ui(store: RunStore, current: Picked | None) -> None:
    """How the active run does on its validation images: accuracy, per class, confusion, mistakes; downloads."""
    run_id = state.get(state.ACTIVE_RUN)
    if not run_id:
        st.caption("Train a network, or pick a run under Runs, to see how well it does.")
        return
    try:
        run = store.get(run_id)
    except RunError:
        state.put(state.ACTIVE_RUN, None)
        st.caption("The run shown before was deleted. Train a network, or pick a run under Runs.")
        return
    ds = run.config["dataset"]
    st.markdown(f"**{run.info.name}** — {network_title(run.spec)} on {ds['title']} ({run.info.task}): "
                f"{run.info.status}, {plural(run.info.epochs, 'epoch')} on {run.info.device}.")
    if not run.has_checkpoint:
        st.info("This run has no checkpoint yet: it stopped before its first batch finished.")
        return
    try:
        task = run.task
    except ValueError as e:
        st.error(f"This run cannot be evaluated here: {e}")
        return
    data, why = data_of(run, current)
    if data is None:
        st.info(why)
    elif len(data.val) == 0:
        st.info("The run's data has no validation images to evaluate on.")
    elif state.get(state.TRAIN_EVAL_LATER) == run_id and ("eval", *eval_key(run)) not in held():
        st.button(f"Evaluate it on its {len(data.val):,} validation images", key="_w_tr_eval_later",
                  icon=":material/fact_check:", on_click=state.put, args=(state.TRAIN_EVAL_LATER, None),
                  help="It was stopped, so it was not evaluated (that can take a while for a large network).")
    else:
        try:
            evaluation = run_evaluation(store, run, data, task)
        except ValueError as e:
            st.error(f"The run could not be evaluated: {e}")
        else:
            if isinstance(evaluation, Evaluation):
                _evaluation_ui(evaluation, data, run)
            elif not views.evaluation_ui(evaluation, data.val.images, run_input_shape(run), data.card.classes, "tr"):
                _metrics_ui(evaluation, task)
    downloads_ui(store, run, task)


def _evaluation_ui(ev: Evaluation, data: LoadedData, run: Run) -> None:
    classes = list(ev.classes)
    wrong = ev.misclassified()
    cols = st.columns(4)
    cols[0].metric("validation accuracy", f"{ev.accuracy:.1%}")
    metric = run.info.primary
    cols[1].metric(f"best epoch's {metric.title}", metric.format(run.info.best))
    cols[2].metric("validation images", f"{len(ev.labels):,}")
    cols[3].metric("mistakes", f"{len(wrong):,}")
    confusion = ev.confusion
    left, right = st.columns(2, gap="large")
    left.plotly_chart(figs.confusion_figure(confusion.numpy(), classes), width="stretch",
                      config={"displaylogo": False})
    right.plotly_chart(figs.per_class_figure(ev.per_class_accuracy, classes), width="stretch",
                       config={"displaylogo": False})
    left, right = st.columns([2, 3], gap="large")
    with left:
        st.markdown("**Most confused pairs**")
        pairs = ev.most_confused(8)
        if pairs:
            st.dataframe(figs.confused_table(pairs, classes, confusion.sum(1).tolist()), hide_index=True,
                         column_config={"share of the class": st.column_config.NumberColumn(format="percent")})
        else:
            st.caption("No class was mistaken for another.")
    with right:
        st.markdown("**Misclassified examples**, most confidently wrong first")
        if wrong:
            shown = wrong[:24]
            titles = [f"{short(classes[m.true], 7)}→{short(classes[m.predicted], 7)}<br>{m.confidence:.0%}"
                      for m in shown]
            images = data.val.images[[m.index for m in shown]].numpy()
            st.plotly_chart(figs.image_grid(images, titles, cols=8, cell=56), width="content",
                            config={"displayModeBar": False, "staticPlot": True})
            st.caption("Above each image: true class → predicted class, and the predicted class's probability.")
        else:
            st.caption("No mistakes on the validation images.")


def _metrics_ui(values: Any, task: Task) -> None:
    """A task without views of its own: its metrics on the validation set."""
    items = values.items() if isinstance(values, dict) else []
    cols = st.columns(max(1, len(items)))
    for col, (name, value) in zip(cols, items, strict=False):
        col.metric(f"validation {task.metric(name).title}", task.metric(name).format(value))


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "model"


def downloads_ui(store: RunStore, run: Run, task: Task) -> None:
    """The run's model as a bundle (safetensors weights + spec JSON + meta with its task), ONNX and TorchScript; each
    made when its button is pressed (``engine.training.export.export_run``)."""
    run_id, stats, slug = run.info.id, run_stats(run), _slug(run.info.name)
    st.markdown("**Download the trained model**")
    cols = st.columns(3)
    cols[0].download_button(
        "Weights + spec (.zip)", data=lambda: export_run(store, run_id, "bundle"), file_name=f"{slug}.zip",
        mime="application/zip", on_click="ignore", icon=":material/download:", key="_w_tr_dl_bundle", width="stretch",
        help="model.safetensors, spec.json and meta.json (the task and what its output means, classes, "
             "normalisation, input shape). `python -m engine codegen spec.json` writes the PyTorch module the "
             "weights load into.")
    cols[1].download_button(
        "ONNX", data=lambda: export_run(store, run_id, "onnx"), file_name=f"{slug}.onnx",
        mime="application/octet-stream", on_click="ignore", icon=":material/download:", key="_w_tr_dl_onnx",
        width="stretch", help=f"For onnxruntime and other runtimes: input 'input' (batch, C, H, W), output "
                              f"'{task.output_name}'.")
    cols[2].download_button(
        "TorchScript", data=lambda: export_run(store, run_id, "torchscript"), file_name=f"{slug}.pt",
        mime="application/octet-stream", on_click="ignore", icon=":material/download:", key="_w_tr_dl_script",
        width="stretch", help="torch.jit.load(...) runs it without this project's code.")
    if stats is not None:
        st.caption(f"Inputs are normalised per channel with mean {_numbers(stats.mean)} and std "
                   f"{_numbers(stats.std)} after scaling pixels to [0, 1]; meta.json in the zip says so too.")


def _numbers(values: Any) -> str:
    return "(" + ", ".join(f"{v:.3f}" for v in values) + ")"
