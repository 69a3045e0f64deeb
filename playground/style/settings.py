"""The style page's settings: the backbone (VGG-19 only where its weights are, or the user allows the download),
the output size, α and β (and their ratio), the content layer, the style layers with their weights λ_l, the steps, the
optimiser and its learning rate, and what G starts from — gathered into an ``engine.style.optimise.StyleConfig``."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from engine.style.backbones import BACKBONES, VGG19_MB, availability, backbone
from engine.style.optimise import DEFAULT_LR, INITS, StyleConfig
from playground import state

PERSIST = "session"
WEIGHTS = (0, 0.1, 0.4, 1, 4, 10, 40, 100, 400, 1000, 4000, 10000)  # α and β: a log scale reads best
SIZES = (64, 96, 128, 160, 192, 256, 320, 384, 512)
OPTIMIZER_NAMES = {"adam": "Adam", "lbfgs": "L-BFGS"}


@dataclass(frozen=True)
class Settings:
    """What the settings give: the ``config`` (None with ``problem`` when it is invalid) and whether VGG-19's weights
    may be downloaded."""

    config: StyleConfig | None
    allow_download: bool
    problem: str = ""


def _backbone_ui() -> tuple[str, bool]:
    allow = st.checkbox(f"Allow VGG-19's download ({VGG19_MB} MB)", key="_w_st_download",
                        persist_state=PERSIST, help="Only when you tick this does the server fetch the file from "
                                                    "download.pytorch.org (its SHA-256 is checked).")
    offered, off = [], []
    for name in BACKBONES.names():
        ok, why = availability(name, allow)
        (offered if ok else off).append((name, why))
    names = [n for n, _ in offered]
    if st.session_state.get("_w_st_backbone") not in names:
        st.session_state.pop("_w_st_backbone", None)
    choice = st.radio("Backbone", names, key="_w_st_backbone", format_func=lambda n: backbone(n).title,
                      horizontal=True, help="The pretrained network whose activations the costs compare.")
    st.caption(backbone(choice).about)
    for name, why in off:
        st.caption(f"**{backbone(name).title}** is off: {why}")
    return choice, allow


def _weight(label: str, key: str, default: float, help: str) -> float:
    return st.select_slider(label, WEIGHTS, value=default, key=key, persist_state=PERSIST, help=help)


def settings_ui() -> Settings:
    """Draw the settings (in the sidebar-like column the page gives) and return them."""
    name, allow = _backbone_ui()
    b = backbone(name)
    size = st.select_slider("Output size (longer side, px)", SIZES, value=128, key="_w_st_size",
                            persist_state=PERSIST, help="The cost of a step grows with the number of pixels.")
    a, bb = st.columns(2)
    with a:
        alpha = _weight("α (content)", "_w_st_alpha", 10, "The weight of the content cost in J = α·J_content + "
                                                          "β·J_style.")
    with bb:
        beta = _weight("β (style)", "_w_st_beta", 40, "The weight of the style cost.")
    ratio = "∞ (no style)" if beta == 0 else f"{alpha / beta:.3g}"
    st.caption(f"α/β = **{ratio}**: lower puts more of the style in the result.")
    labels = {layer.name: layer.label for layer in b.layers}
    content = st.selectbox("Content layer", list(labels), index=list(labels).index(b.content_layer),
                           key=f"_w_st_content_{name}", persist_state=PERSIST, format_func=labels.get,
                           help="Deeper layers keep what is where, and let the details change.")
    chosen = st.multiselect("Style layers", list(labels), default=list(b.style_layers), key=f"_w_st_style_{name}",
                            persist_state=PERSIST,
                            help="Shallow layers carry colours and fine strokes, deeper ones larger patterns. "
                                 "Their sizes: " + "; ".join(labels.values()) + ".")
    weights = []
    if chosen:
        st.caption("λ of each style layer (J_style = Σ λ_l · J_style^[l]):")
        cols = st.columns(min(len(chosen), 3))
        for i, layer in enumerate(chosen):
            with cols[i % len(cols)]:
                w = st.number_input(layer, 0.0, 10.0, round(1 / len(chosen), 3), step=0.05, format="%.3g",
                                    key=f"_w_st_lambda_{name}_{layer}", persist_state=PERSIST, help=labels[layer])
            weights.append((layer, float(w)))
    s, o = st.columns(2)
    steps = s.number_input("Steps", 1, 2000, 60, step=10, key="_w_st_steps", persist_state=PERSIST)
    optimizer = o.radio("Optimiser", list(OPTIMIZER_NAMES), format_func=OPTIMIZER_NAMES.get, horizontal=True,
                        key="_w_st_optimizer", persist_state=PERSIST,
                        help="Adam moves every pixel a little each step; L-BFGS uses the cost's curvature and a "
                             "line search (several forward passes a step).")
    lr = st.number_input("Learning rate", 0.0001, 10.0, DEFAULT_LR[optimizer], step=0.01, format="%.4g",
                         key=f"_w_st_lr_{optimizer}", persist_state=PERSIST,
                         help="Adam: how far a pixel (in [0, 1]) moves per step; L-BFGS: its first step's scale.")
    init = st.radio("Start G from", list(INITS), format_func=INITS.get, horizontal=True, key="_w_st_init",
                    persist_state=PERSIST)
    config = StyleConfig(alpha=float(alpha), beta=float(beta), content_layer=content, style_layers=tuple(weights),
                         backbone=name, steps=int(steps), optimizer=optimizer, lr=float(lr), init=init, size=int(size),
                         seed=int(state.get(state.SEED)), device=str(state.get(state.DEVICE)))
    problems = config.problems() or ([] if chosen else ["choose at least one style layer"])
    if problems:
        return Settings(None, allow, "; ".join(problems))
    return Settings(config, allow)
