"""Look inside: what the network predicts — its top-k classes for the chosen input, and live on webcam frames.

Everything here that knows what an output means (class scores, top-k, the true class) is in this one module; it takes
the network and its run (``Subject``), so a run of another task only needs another way to decode its output here.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from engine.data import describe_adaptation
from engine.training.evaluate import predict
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
    """A run of another task than classification: its own decoding of the output, as the task gives it."""
    try:
        decoded = predict(subject.model, inp.image, subject.stats, subject.input_shape, task=subject.task)
    except (ValueError, RuntimeError) as e:
        st.error(f"The network could not read this input: {str(e).splitlines()[0]}")
        return
    st.markdown(f"This run learned **{subject.task.title}**. What it predicts for this input:")
    st.write(decoded)


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
