"""Look inside: what the network predicts — its top-k classes for the chosen input, and live on webcam frames.

Everything here that knows what an output means (class scores, top-k, the true class) is in this one module; it takes
the network and its run (``Subject``), so a run of another task only needs another way to decode its output here.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from engine.data import describe_adaptation
from engine.training.evaluate import outputs, predict
from engine.units import plural
from playground.figures import inspect as inspect_figures
from playground.figures.primitives import plotly_config
from playground.inspect.inputs import InputImage, seen
from playground.inspect.subject import Subject
from playground.webcam.live import live_prediction_ui
from playground.webcam.stream import frame_stream

TOP_K = 5


def prediction_ui(subject: Subject, inp: InputImage) -> None:
    """The input as the network sees it, and its top-k classes (with the true one, when known)."""
    left, right = st.columns([2, 3], gap="large")
    c, h, w = subject.input_shape
    with left:
        st.plotly_chart(inspect_figures.input_figure(seen(subject, inp), f"What the network sees: {c}×{h}×{w}"),
                        width="stretch", config=plotly_config(), key="inspect_input")
        st.caption(f"{inp.caption}: " + describe_adaptation(tuple(inp.image.shape), subject.input_shape,
                                                            subject.stats))
    with right:
        if subject.task is not None and subject.task.name != "classify":
            _task_prediction_ui(subject, inp)
            return
        if subject.classes is None:
            st.info("This network does not end with one score per class (a flatten and a linear layer), so it makes "
                    "no prediction; its feature maps are below.")
            return
        try:
            top = predict(subject.model, inp.image, subject.stats, subject.input_shape,
                          k=min(TOP_K, len(subject.classes)))
        except (ValueError, RuntimeError) as e:
            st.error(f"The network could not classify this input: {str(e).splitlines()[0]}")
            return
        pairs = [(subject.classes[int(i)], float(p)) for p, i in zip(top.probs[0], top.indices[0], strict=True)]
        st.plotly_chart(inspect_figures.topk_figure(pairs, inp.true), width="stretch", config=plotly_config(),
                        key="inspect_topk")
        name, p = pairs[0]
        verdict = "" if inp.true is None else (" — right" if name == inp.true else f" — wrong: it is **{inp.true}**")
        st.markdown(f"Prediction: **{name}** with probability {p:.1%}{verdict}.")


def _task_prediction_ui(subject: Subject, inp: InputImage) -> None:
    """A run of another task than classification: its output decoded by the task and drawn on the input as the
    network sees it — the box (localisation), the points (landmarks), the boxes after the score filter and NMS
    (detection) — or, for an embedding, its numbers."""
    task, (_, h, w) = subject.task, subject.input_shape
    try:
        out = outputs(subject.model, inp.image[None], subject.stats, subject.input_shape)
        decoded = task.decode(out, TOP_K, side=h)  # boxes in the input's pixels
    except (ValueError, RuntimeError) as e:
        st.error(f"The network could not read this input: {str(e).splitlines()[0]}")
        return
    image, title = seen(subject, inp), f"What it predicts: {task.title}"
    names = subject.names

    def name(i: int) -> str:
        return names[i] if 0 <= i < len(names) else str(i)

    if task.name == "localise":
        present, cls, p = float(decoded.present[0]), int(decoded.classes[0, 0]), float(decoded.probs[0, 0])
        box = [(decoded.boxes[0].tolist(), f"{name(cls)} {p:.2f}")] if present >= 0.5 else []
        _overlay(image, title, box)
        st.markdown(f"An object here: probability **{present:.1%}** (p_c; the box is drawn from 50 %)"
                    + (f"; most likely **{name(cls)}** ({p:.1%})." if present >= 0.5 else "."))
    elif task.name == "landmarks":
        pts = decoded[0].tolist()
        _overlay(image, title, points=[(x * w, y * h, name(i)) for i, (x, y) in enumerate(pts)])
        st.markdown(f"**{plural(len(pts), 'point')}**, in the order the run learned them.")
    elif task.name == "detect":
        d = decoded[0]
        boxes = [(b.tolist(), f"{name(int(c))} {float(s):.2f}") for b, s, c in zip(d.boxes, d.scores, d.labels,
                                                                                      strict=True)]
        _overlay(image, title, boxes)
        st.markdown(f"**{plural(len(boxes), 'box', 'boxes')}** after its score filter ({task.score_threshold:g}) "
                    f"and non-max suppression (IoU {task.iou_threshold:g}); the YOLO page shows every stage and "
                    f"lets you move the thresholds.")
    elif task.name == "embed":
        values = decoded[0].tolist()
        st.plotly_chart(inspect_figures.embedding_figure(values), width="stretch", config=plotly_config(),
                        key="inspect_embedding")
        st.markdown(f"An embedding is compared, not read: its length is {float(decoded[0].norm()):.2f}, and two "
                    f"pictures of one identity should land close together — the **One-shot lab** measures how well "
                    f"those distances tell identities apart.")
    else:
        st.markdown(f"This run learned **{task.title}**. What it predicts for this input:")
        st.write(decoded)


def _overlay(image, title: str, boxes=(), points=()) -> None:
    st.plotly_chart(inspect_figures.overlay_figure(image, title, boxes, points), width="stretch",
                    config=plotly_config(), key="inspect_overlay")


def live_view(subject: Subject) -> Callable[[str], None]:
    """What the webcam shows for this network: every frame classified as it arrives, or — when the network has no
    class scores — the plain stream (a frame taken from it still shows the feature maps)."""

    def view(key: str) -> None:
        if subject.classes is None:
            st.info("This network does not end with one score per class, so there is nothing to predict; take a "
                    "frame to see its feature maps.")
            frame_stream(key)
        else:
            live_prediction_ui(subject.model, subject.stats, subject.input_shape, subject.classes, key)

    return view
