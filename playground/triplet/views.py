"""What the One-shot lab shows of its run: the embeddings' 2-D projection (redrawn from each new checkpoint while it
trains), the triplets the mining picks, the verification ROC and FAR/FRR against the threshold for seen and held-out
identities, the untrained network beside the trained one, and the logistic unit beside the distance threshold.

Everything is computed on the first ``VIEW_IMAGES`` validation images by the engine (``engine.faces.embed``) and kept
in this session's holder (``playground.cache.held``) per run and checkpoint."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st
import torch

from engine.data.types import ImageSet
from engine.faces.embed import GROUP_TITLES, EmbedEvaluation, compare_verifiers
from engine.faces.metrics import far_frr, far_frr_curve
from engine.faces.triplet import ranked
from engine.training.evaluate import evaluate
from engine.training.runs import Run, RunError, RunStore
from engine.training.trained import run_stats
from engine.units import plural
from playground import state
from playground.cache import held, shared_network
from playground.figures.primitives import plotly_config
from playground.training.results import eval_key
from playground.triplet import figures as figs
from playground.triplet.train import identity_set, running_run

VIEW_IMAGES = 1500  # validation images the views embed
TRIPLET_BATCH = 64  # the batch the mining is shown on: the first seen-identity validation images
SHOW_TRIPLETS = 4
LIVE_S = 3.0  # seconds between two redraws of the projection while the run trains
K = "_w_tl_view_"


def current_run(store: RunStore) -> tuple[Run | None, bool]:
    """The run the views show — the one training now, else the lab's last — and whether it is training."""
    training = running_run()
    run_id = training or state.get(state.TRIPLET_RUN)
    if run_id is None:
        return None, False
    try:
        return store.get(run_id), training is not None
    except RunError:
        return None, False


def _val(run: Run) -> ImageSet:
    """The run's validation images (they depend only on the set, its split seed and the held-out classes)."""
    name = run.config["dataset"]["name"].removesuffix("_identities")
    task = run.task
    picked = identity_set(name, tuple(task.held_out), int(run.config["train"]["seed"]), 64)
    val = picked.data.val
    return val if len(val) <= VIEW_IMAGES else val.subset(range(VIEW_IMAGES))


def _trained(store: RunStore, run: Run, val: ImageSet) -> EmbedEvaluation:
    def make() -> EmbedEvaluation:
        return evaluate(store.load_model(run.info.id), val, run_stats(run), task=run.task)

    return held().keep(("triplet", *eval_key(run)), make)


def _untrained(run: Run, val: ImageSet) -> EmbedEvaluation:
    """The run's network with the weights it started from (``build(spec, seed)``, as ``fit`` does)."""
    seed = int(run.config["train"]["seed"])

    def make() -> EmbedEvaluation:
        return evaluate(shared_network(run.spec, seed), val, run_stats(run), task=run.task)

    return held().keep(("triplet_untrained", run.info.id), make)


def live_ui(store: RunStore) -> None:
    """The projection and the mined triplets, redrawn while the run trains."""
    run, training = current_run(store)
    if run is None:
        st.caption("Press **Train** above: the embeddings of validation images show here, moving as it learns.")
        return

    @st.fragment(run_every=LIVE_S if training else None)
    def _live() -> None:
        run, now = current_run(store)
        if run is None:
            return
        if not run.has_checkpoint:
            st.caption("The first checkpoint comes after the first epoch; the projection follows it.")
            return
        val = _val(run)
        ev, before = _trained(store, run, val), _untrained(run, val)
        names, held_out = val.classes, tuple(run.task.held_out)
        ids = ev.ids.numpy()
        a, b = st.columns(2)
        state_of = f"after {plural(run.info.epochs, 'epoch')}" + (" (training…)" if now else "")
        a.plotly_chart(figs.projection_figure(before.projection.numpy(), ids, names, held_out,
                                              f"Untrained · AUC held out {_f(before.metrics['auc_held_out'])}"),
                       width="stretch", config=plotly_config(), key=K + "before")
        b.plotly_chart(figs.projection_figure(ev.projection.numpy(), ids, names, held_out,
                                              f"Trained {state_of} · AUC held out {_f(ev.metrics['auc_held_out'])}"),
                       width="stretch", config=plotly_config(), key=K + "after")
        st.caption(f"{len(ids):,} validation images, each embedding f(x) (a unit vector of {ev.embeddings.shape[1]} "
                   f"numbers) projected on its two principal components; crosses are identities held out of "
                   f"training. Learning pulls each identity together and pushes the others away.")
        _triplets_ui(ev, val, run)
        if now and not running_run():
            st.rerun()

    _live()


def _f(v: float) -> str:
    return "—" if v != v else f"{v:.3f}"


def _triplets_ui(ev: EmbedEvaluation, val: ImageSet, run: Run) -> None:
    """The mining on one batch of seen identities: its hardest few triplets as images with their distances."""
    task = run.task
    seen = torch.nonzero(~torch.isin(ev.ids, torch.tensor(task.held_out, dtype=torch.long))).flatten()
    batch = seen[:TRIPLET_BATCH]
    found = ranked(ev.embeddings[batch], ev.ids[batch], task.mining, task.margin)
    active = sum(m.loss > 0 for m in found)
    st.markdown(f"**Triplets {task.mining} mining picks** in a batch of {len(batch)} images of seen identities: "
                f"{len(found)} triplets, {active} with a loss above 0 (the others already satisfy the margin "
                f"α = {task.margin:g} and teach nothing).")
    if not found:
        st.caption("No triplet: the batch needs two images of one identity and one of another.")
        return
    for m in found[:SHOW_TRIPLETS]:
        cols = st.columns([1, 1, 1, 4], vertical_alignment="center")
        for col, i, what in zip(cols[:3], (m.anchor, m.positive, m.negative), ("A", "P", "N"), strict=True):
            img = val.images[int(batch[i])].numpy()
            col.image(np.repeat(np.repeat(img[0], 3, 0), 3, 1) if img.shape[0] == 1 else img.transpose(1, 2, 0),
                      caption=f"{what}: {val.classes[int(ev.ids[batch[i]])]}", width=72)
        cols[3].markdown(f"‖f(A) − f(P)‖² = {m.d_ap:.3f}, ‖f(A) − f(N)‖² = {m.d_an:.3f}  \n"
                         f"L = max({m.d_ap:.3f} − {m.d_an:.3f} + {task.margin:g}, 0) = **{m.loss:.3f}**")


def verification_ui(store: RunStore) -> None:
    """ROC and FAR/FRR against the threshold for seen and held-out identities, trained vs untrained; the logistic
    unit vs the threshold."""
    run, training = current_run(store)
    if run is None or training or not run.has_checkpoint:
        st.caption("When the run ends (or is stopped), its verification curves show here.")
        return
    val = _val(run)
    ev, before = _trained(store, run, val), _untrained(run, val)
    threshold = st.slider("Threshold on the distance ‖f(x1) − f(x2)‖", 0.0, 2.0, 0.8, 0.01, key=K + "threshold",
                          help="Two images are said to show the same identity when their embeddings are at most this "
                               "far apart (unit vectors: distances run from 0 to 2).")
    tabs = st.tabs([GROUP_TITLES["seen"].capitalize(), GROUP_TITLES["held_out"].capitalize()])
    rows = []
    for tab, group in zip(tabs, ("seen", "held_out"), strict=True):
        with tab:
            if not ev.has(group):
                st.caption("This group has no pairs of both kinds (hold out at least two classes for held-out "
                           "pairs).")
                continue
            curves = {"trained": ev.roc(group), "untrained": before.roc(group)}
            grid = np.linspace(0.0, 2.0, 201)
            rates = {}
            for name, e in (("trained", ev), ("untrained", before)):
                p = e.pairs(group)
                far, frr = far_frr_curve(p.distances, p.same, torch.as_tensor(grid))
                rates[name] = (far.numpy(), frr.numpy())
                at, best = far_frr(p.distances, p.same, threshold), e.best(group)
                rows.append({"identities": GROUP_TITLES[group], "network": name,
                             "AUC": e.metrics["auc" if group == "all" else f"auc_{group}"],
                             f"FAR at {threshold:.2f}": at.far, f"FRR at {threshold:.2f}": at.frr,
                             "best threshold": best.threshold, "accuracy there": best.accuracy})
            a, b = st.columns(2)
            a.plotly_chart(figs.roc_figure(curves, f"ROC, {GROUP_TITLES[group]}"), width="stretch",
                           config=plotly_config(), key=K + "roc_" + group)
            b.plotly_chart(figs.rates_figure(grid, rates, threshold, f"FAR and FRR, {GROUP_TITLES[group]}"),
                           width="stretch", config=plotly_config(), key=K + "rates_" + group)
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch",
                     column_config={k: st.column_config.NumberColumn(format="%.3f") for k in rows[0]
                                    if k not in ("identities", "network")})
    _binary_ui(ev, ("triplet_binary", *eval_key(run)))


def _binary_ui(ev: EmbedEvaluation, key: tuple) -> None:
    st.markdown("**The binary-classification alternative.** Instead of thresholding the distance, a logistic unit "
                "ŷ = σ(Σₖ wₖ |fₖ(x1) − fₖ(x2)| + b) learns from pairs labelled same / different (here: pairs of seen "
                "identities, on the trained embedding), then judges the held-out pairs.")
    if not (ev.has("seen") and ev.has("held_out")):
        st.caption("It needs pairs of both kinds among seen and among held-out identities.")
        return
    c = held().keep(key, lambda: compare_verifiers(ev))
    st.dataframe(pd.DataFrame([
        {"verifier": "distance ≤ threshold (best threshold)", "AUC": c.auc_distance, "accuracy": c.accuracy_distance},
        {"verifier": "logistic unit on |f(x1) − f(x2)| (ŷ ≥ 0.5)", "AUC": c.auc_logistic,
         "accuracy": c.accuracy_logistic}]), hide_index=True, width="stretch",
        column_config={"AUC": st.column_config.NumberColumn(format="%.3f"),
                       "accuracy": st.column_config.NumberColumn(format="%.3f")})
    st.caption(f"On {c.pairs:,} pairs of held-out identities. The distance's threshold is chosen on these very pairs "
               f"(an optimistic accuracy); the logistic unit never saw them.")
