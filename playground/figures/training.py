"""Plotly figures and tables for the training page. Pure functions of engine results; no Streamlit here.

Curves take epochs as ``engine.training.events.EpochEvent`` objects or their dicts (the run store's ``metrics.json``),
so a live job and a stored run draw the same way: the loss on the left, the task's primary metric on the right.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from engine.training.runs import RunInfo
from engine.training.tasks import Metric, Task
from engine.training.tasks.classify import ConfusedPair
from engine.training.transfer import ParamReport
from playground.figures.primitives import png_uri
from playground.theme import COLORS

TRAIN_COLOR = COLORS["conv"]
VAL_COLOR = COLORS["accent"]
BATCH_COLOR = "rgba(78, 121, 167, 0.25)"  # TRAIN_COLOR, faint: per-batch losses behind the epoch means
RUN_COLORS = qualitative.T10
_PLOT_CONFIG_MARGIN = dict(l=10, r=10, t=40, b=10)


def _epoch_dicts(epochs: Sequence[Any]) -> list[dict[str, Any]]:
    return [e if isinstance(e, Mapping) else e.to_dict() for e in epochs]


def _nan_to_none(values: Sequence[float]) -> list[float | None]:
    return [None if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in values]


# --------------------------------------------------------------------------------------------------- curves


def _series(rows: list[dict[str, Any]], split: str, name: str, metric: Metric) -> list[float | None]:
    values = _nan_to_none([r[split].get(name) for r in rows])
    return [None if v is None else 100 * v for v in values] if metric.percent else values


def _metric_axis(fig: go.Figure, metric: Metric) -> None:
    if metric.percent:
        fig.update_yaxes(range=[0, 101], ticksuffix="%", row=1, col=2)
    else:
        fig.update_yaxes(rangemode="tozero", row=1, col=2)


def curves_figure(epochs: Sequence[Any], batch_losses: Sequence[tuple[float, float]] = (),
                  total_epochs: int | None = None, task: Task | None = None) -> go.Figure:
    """The loss (left) and the task's primary metric (right; accuracy for classification) per epoch, training and
    validation; the per-batch training losses faint behind. ``batch_losses`` are ``(position in epochs, loss)``; an
    epoch's point sits at its end (x = epoch)."""
    metric = task.primary_metric if task is not None else Metric("accuracy", "accuracy", percent=True)
    loss_title = f"loss ({task.loss_title})" if task is not None else "loss"
    rows = _epoch_dicts(epochs)
    x = [r["epoch"] for r in rows]
    fig = make_subplots(rows=1, cols=2, subplot_titles=(loss_title, metric.title), horizontal_spacing=0.08)
    if batch_losses:
        bx, by = zip(*batch_losses, strict=True)
        fig.add_trace(go.Scatter(x=list(bx), y=list(by), mode="lines", name="training loss, per batch",
                                 line=dict(color=BATCH_COLOR, width=1), hovertemplate="epoch %{x:.2f}: %{y:.4f}"),
                      row=1, col=1)
    loss = Metric("loss", "loss", higher_is_better=False)
    series = [("train", loss, TRAIN_COLOR, 1), ("val", loss, VAL_COLOR, 1),
              ("train", metric, TRAIN_COLOR, 2), ("val", metric, VAL_COLOR, 2)]
    for split, m, color, col in series:
        part = "training" if split == "train" else "validation"
        fig.add_trace(go.Scatter(x=x, y=_series(rows, split, m.name, m), mode="lines+markers",
                                 name=f"{part} {m.title}", line=dict(color=color, width=2.5), marker=dict(size=8),
                                 showlegend=True,
                                 hovertemplate="epoch %{x}: %{y:.1f}%" if m.percent else "epoch %{x}: %{y:.4f}"),
                      row=1, col=col)
    upper = max([total_epochs or 0, *x, *(p for p, _ in batch_losses), 1])
    for col in (1, 2):
        fig.update_xaxes(title_text="epoch", range=[0, upper * 1.02], row=1, col=col)
    fig.update_yaxes(rangemode="tozero", row=1, col=1)
    _metric_axis(fig, metric)
    fig.update_layout(height=340, margin=_PLOT_CONFIG_MARGIN, legend=dict(orientation="h", y=-0.22),
                      hovermode="closest")
    return fig


def compare_figure(histories: Mapping[str, Sequence[Any]], metric: Metric | None = None) -> go.Figure:
    """Several runs overlaid: validation (solid) and training (dotted) loss and ``metric`` (default accuracy); one
    colour per run, keyed by the run's label. A run without ``metric`` shows its loss only."""
    metric = metric if metric is not None else Metric("accuracy", "accuracy", percent=True)
    loss = Metric("loss", "loss", higher_is_better=False)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss", metric.title), horizontal_spacing=0.08)
    for i, (label, epochs) in enumerate(histories.items()):
        rows = _epoch_dicts(epochs)
        x = [r["epoch"] for r in rows]
        color = RUN_COLORS[i % len(RUN_COLORS)]
        for split, m, col, dash in (("val", loss, 1, "solid"), ("train", loss, 1, "dot"),
                                    ("val", metric, 2, "solid"), ("train", metric, 2, "dot")):
            if col == 2 and not any(metric.name in r[split] for r in rows):
                continue
            part = "training" if split == "train" else "validation"
            fig.add_trace(go.Scatter(x=x, y=_series(rows, split, m.name, m), mode="lines+markers", name=label,
                                     legendgroup=label, showlegend=(split == "val" and col == 1),
                                     line=dict(color=color, dash=dash, width=2), marker=dict(size=6),
                                     hovertemplate=f"{label}<br>{part} · epoch %{{x}}: %{{y:.4g}}<extra></extra>"),
                          row=1, col=col)
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(rangemode="tozero", row=1, col=1)
    _metric_axis(fig, metric)
    fig.update_layout(height=360, margin=_PLOT_CONFIG_MARGIN, legend=dict(orientation="h", y=-0.22),
                      annotations=[*fig.layout.annotations, dict(
                          text="solid: validation · dotted: training", showarrow=False, xref="paper", yref="paper",
                          x=1, y=1.12, xanchor="right", font=dict(size=11, color=COLORS["neutral"]))])
    return fig


# --------------------------------------------------------------------------------------------------- evaluation


def confusion_figure(confusion: Any, classes: Sequence[str]) -> go.Figure:
    """The confusion matrix as a heatmap: rows the true class, columns the predicted one; colour is the share of
    the row (so small classes read as well as large ones), the text the count."""
    counts = np.asarray(confusion, dtype=np.int64)
    totals = counts.sum(1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros(counts.shape, dtype=float), where=totals > 0)
    labels = [str(c) for c in classes]
    k = len(labels)
    fig = go.Figure(go.Heatmap(
        z=share, x=labels, y=labels, colorscale="Blues", zmin=0, zmax=1, text=counts,
        texttemplate="%{text}" if k <= 20 else None, colorbar=dict(title="share<br>of row", tickformat=".0%"),
        hovertemplate="true %{y}, predicted %{x}: %{text} (%{z:.1%} of the true class)<extra></extra>",
    ))
    fig.update_xaxes(title_text="predicted class", type="category", side="bottom")
    fig.update_yaxes(title_text="true class", type="category", autorange="reversed")
    side = min(640, 160 + 34 * k)
    fig.update_layout(height=side, margin=dict(l=10, r=10, t=30, b=10), title=dict(text="confusion matrix", x=0))
    return fig


def per_class_figure(per_class: Sequence[float], classes: Sequence[str]) -> go.Figure:
    """Each class's accuracy (recall) as a bar; classes without validation images are left out."""
    pairs = [(str(c), v) for c, v in zip(classes, per_class, strict=True) if not math.isnan(v)]
    names = [c for c, _ in pairs]
    values = [100 * v for _, v in pairs]
    fig = go.Figure(go.Bar(x=values, y=names, orientation="h", marker_color=TRAIN_COLOR,
                           text=[f"{v:.0f}%" for v in values], textposition="auto",
                           hovertemplate="%{y}: %{x:.1f}%<extra></extra>"))
    fig.update_xaxes(range=[0, 100], ticksuffix="%", title_text="accuracy on the class's validation images")
    fig.update_yaxes(type="category", autorange="reversed")
    fig.update_layout(height=min(640, 160 + 34 * len(names)), margin=dict(l=10, r=10, t=30, b=10),
                      title=dict(text="per-class accuracy", x=0))
    return fig


def confused_table(pairs: Sequence[ConfusedPair], classes: Sequence[str], totals: Sequence[int]) -> pd.DataFrame:
    """The most-confused pairs: true class, predicted class, how many, and the share of the true class."""
    return pd.DataFrame.from_records(
        [{"true class": classes[p.true], "predicted as": classes[p.predicted], "images": p.count,
          "share of the class": p.count / max(totals[p.true], 1)} for p in pairs],
        columns=["true class", "predicted as", "images", "share of the class"])


# --------------------------------------------------------------------------------------------------- image grids


def to_rgb_uint8(images: Any) -> np.ndarray:
    """Images ``(N, C, H, W)`` (C = 1 or 3; uint8, or float in [0, 1]) → ``(N, H, W, 3)`` uint8."""
    x = np.asarray(images)
    if x.dtype != np.uint8:
        x = np.rint(np.clip(x.astype(np.float32), 0.0, 1.0) * 255).astype(np.uint8)
    if x.shape[1] == 1:
        x = np.repeat(x, 3, axis=1)
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def _upscale(img: np.ndarray, cell: int) -> np.ndarray:
    """(H, W, 3) → (cell, cell', 3) by nearest neighbour, so 8×8 digits stay crisp; the longer side becomes
    ``cell``."""
    h, w = img.shape[:2]
    scale = cell / max(h, w)
    rows = np.minimum((np.arange(max(1, round(h * scale))) / scale).astype(int), h - 1)
    cols = np.minimum((np.arange(max(1, round(w * scale))) / scale).astype(int), w - 1)
    return img[rows][:, cols]


def image_grid(images: Any, titles: Sequence[str] | None = None, cols: int = 8, cell: int = 64,
               gap: int = 6) -> go.Figure:
    """A grid of images (``(N, C, H, W)``, see ``to_rgb_uint8``) as one plotly image, each with an optional title
    above it (``<br>`` breaks lines). Pixels are scaled up by nearest neighbour, without smoothing."""
    rgb = to_rgb_uint8(images)
    n = len(rgb)
    cols = max(1, min(cols, n))
    rows = max(1, math.ceil(n / cols))
    lines = max((t.count("<br>") + 1 for t in titles), default=0) if titles else 0
    head = 14 * lines + (4 if lines else 0)
    pitch_x, pitch_y = cell + gap, cell + gap + head
    canvas = np.full((rows * pitch_y, cols * pitch_x, 3), 255, dtype=np.uint8)
    annotations = []
    for i, img in enumerate(rgb):
        r, c = divmod(i, cols)
        tile = _upscale(img, cell)
        y0 = r * pitch_y + head + (cell - tile.shape[0]) // 2
        x0 = c * pitch_x + (cell - tile.shape[1]) // 2
        canvas[y0:y0 + tile.shape[0], x0:x0 + tile.shape[1]] = tile
        if titles:
            annotations.append(dict(x=c * pitch_x + cell / 2, y=r * pitch_y + head - 2, text=titles[i],
                                    showarrow=False, yanchor="bottom", xanchor="center", font=dict(size=11)))
    # Drawn on every rerun of the Training page (samples, augmentation preview), so cheap to make and to send: a PNG,
    # not ``z`` (20 MNIST samples: 25 kB instead of 1.3 MB of JSON), and a figure built unvalidated from plain values
    # (plotly's validation of 20 annotations took 0.1 s). Measured with bench/load_classroom.py (bench/README.md).
    layout = dict(xaxis=dict(visible=False, range=[-0.5, canvas.shape[1] - 0.5]),
                  yaxis=dict(visible=False, range=[canvas.shape[0] - 0.5, -0.5], scaleanchor="x"),
                  annotations=annotations, margin=dict(l=0, r=0, t=0, b=0), height=canvas.shape[0] + 10,
                  width=canvas.shape[1] + 10, dragmode=False)
    return go.Figure({"data": [dict(type="image", source=png_uri(canvas), hoverinfo="skip")], "layout": layout},
                     _validate=False)


def class_samples(labels: Any, num_classes: int, per_class: int = 2, limit: int = 24) -> list[int]:
    """Indices of the first ``per_class`` images of each class (class by class, at most ``limit`` in all), for a
    sample grid that shows every class."""
    labels = np.asarray(labels)
    per_class = max(1, min(per_class, limit // max(num_classes, 1)))
    out: list[int] = []
    for k in range(num_classes):
        out.extend(np.flatnonzero(labels == k)[:per_class].tolist())
    return out[:limit]


# --------------------------------------------------------------------------------------------------- tables


def runs_table(runs: Sequence[RunInfo], active: str | None = None, mine: Sequence[str] = ()) -> pd.DataFrame:
    """One row per run, newest first, as ``RunStore.list`` gives them; the best validation value of each run's
    primary metric written with its name ("91.2% accuracy")."""
    records = [{
        "": "▶" if r.id == active else ("●" if r.id in mine else ""),
        "name": r.name,
        "data": r.dataset,
        "task": r.task,
        "status": r.status,
        "epochs": r.epochs,
        "best (validation)": f"{r.primary.format(r.best)} {r.primary.title}" if r.best is not None else "—",
        "device": r.device,
        "created (UTC)": r.created.replace("T", " ").split("+")[0],
        "id": r.id,
    } for r in runs]
    columns = ["", "name", "data", "task", "status", "epochs", "best (validation)", "device", "created (UTC)", "id"]
    if all(r.name == r.id for r in runs):
        columns.pop()  # nothing renamed: the id column would repeat the names
    return pd.DataFrame.from_records(records, columns=columns)


def param_table(report: ParamReport, head: int | None = None) -> pd.DataFrame:
    """Trainable and frozen parameters per top-level layer; ``head`` marks the new output layer."""
    return pd.DataFrame.from_records([{
        "layer": layer.name + ("  (new head)" if layer.index == head else ""),
        "trainable": layer.trainable,
        "frozen": layer.frozen,
        "": "❄ frozen" if layer.frozen and not layer.trainable else ("trains" if layer.trainable else ""),
    } for layer in report.layers], columns=["layer", "trainable", "frozen", ""])
