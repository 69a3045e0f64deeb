"""Cache wrappers around pure engine work (keyed by the spec's JSON text, so any equal spec hits)."""

from __future__ import annotations

import streamlit as st

from engine.nets.codegen import codegen
from engine.nets.spec import NetworkSpec
from engine.nets.summary import Summary, summary


@st.cache_data(max_entries=256, show_spinner=False)
def _summary_of_json(spec_json: str) -> Summary:
    return summary(spec_json)


def summary_of(spec: NetworkSpec) -> Summary:
    """``engine.nets.summary.summary`` of ``spec``, computed once per distinct spec (shared by sessions: it is pure)."""
    return _summary_of_json(spec.to_json(indent=None))


@st.cache_data(max_entries=64, show_spinner=False)
def _code_of_json(spec_json: str) -> str:
    return codegen(spec_json)


def code_of(spec: NetworkSpec) -> str:
    """``engine.nets.codegen.codegen`` of a valid ``spec``, once per distinct spec."""
    return _code_of_json(spec.to_json(indent=None))
