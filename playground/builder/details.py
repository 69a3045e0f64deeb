"""What the builder shows about the network: the selected layer's arithmetic, the totals, the table of every layer
and the drawing. Figures and tables come from ``playground.figures.network``."""

from __future__ import annotations

from typing import Any

import streamlit as st

from engine.nets.analysis import path_index
from engine.nets.spec import Path
from engine.nets.summary import Summary
from engine.units import format_shape
from playground.figures import network as figures


def layer_details_ui(path: Path, s: Summary) -> None:
    """The selected layer's shapes and formulas, large: the arithmetic the table abbreviates."""
    row = {r.index: r for r in s.rows}.get(path_index(path))
    if row is None:
        return
    if not row.ok:
        for e in row.errors:
            st.error(f"{row.name}: {e}", icon=":material/error:")
        return
    lines = [f"**{row.name}**: {format_shape(row.in_shape)} → **{row.shape_text}**, {row.params:,} parameters"]
    lines += [f"- {f}" for f in row.formulas]
    st.info("\n".join(lines))
    for note in row.notes:
        st.caption(f"Receptive field: {note}.")


def totals_ui(s: Summary) -> None:
    for col, (label, value) in zip(st.columns(5), figures.totals(s).items(), strict=True):
        col.metric(label, value)


FORMULA_PX = 620  # the table spans the page: at 1440 px the formula column shows about 90 characters


def summary_columns() -> dict[str, Any]:
    """Column widths and labels of the summary table: the formula gets the room."""
    col = st.column_config
    return {
        "#": col.TextColumn("#", width="small"),
        "layer": col.TextColumn("layer", width=120),
        "output": col.TextColumn("output", width="small"),
        "params": col.NumberColumn("params", width="small", format="localized"),
        "MACs": col.NumberColumn("MACs", width="small", format="compact",
                                 help="multiply-accumulates for one input sample"),
        "memory": col.TextColumn("memory", width="small", help="this layer's output, one sample, float32"),
        "receptive field": col.TextColumn("RF", width="small", help="receptive field: how many input pixels the "
                                          "centre output value sees, padding included (* it differs between outputs "
                                          "here; select the layer to read why)"),
        "formula": col.TextColumn("formula, with your numbers", width=FORMULA_PX,
                                  help="select the layer above to read its formulas in full, one per line"),
    }


def layers_ui(s: Summary) -> None:
    """Every problem, then the table of every layer."""
    st.subheader("Layers")
    st.caption("Every layer's output shape, parameters, cost and receptive field; select a layer above to see its "
               "formulas in full.")
    for message in s.errors:
        st.error(message, icon=":material/error:")
    st.dataframe(figures.summary_table(s), hide_index=True, height=560, width="stretch",
                 column_config=summary_columns())


def drawing_ui(s: Summary) -> None:
    st.subheader("The network, drawn")
    show_all = st.toggle("show every layer (also activations, normalisation, dropout)", key="_w_draw_all")
    st.plotly_chart(figures.network_figure(s, show_all), width="stretch", config={"displaylogo": False})
