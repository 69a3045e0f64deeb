"""Cache wrappers around pure engine work (keyed by the spec's JSON text, so any equal spec hits)."""

from __future__ import annotations

import streamlit as st

from engine.nets.codegen import codegen
from engine.nets.spec import NetworkSpec
from engine.nets.summary import Summary, summary

# The JSON text is the cache key; the spec itself rides along unhashed (a leading underscore), so a miss need not
# parse the text back.


@st.cache_data(max_entries=256, show_spinner=False)
def _summary_of_json(spec_json: str, _spec: NetworkSpec) -> Summary:
    return summary(_spec)


def summary_of(spec: NetworkSpec) -> Summary:
    """``engine.nets.summary.summary`` of ``spec``, computed once per distinct spec (shared by sessions: it is pure)."""
    return _summary_of_json(spec.to_json(indent=None), spec)


@st.cache_data(max_entries=64, show_spinner=False)
def _code_of_json(spec_json: str, _spec: NetworkSpec) -> str:
    return codegen(_spec)


def code_of(spec: NetworkSpec) -> str:
    """``engine.nets.codegen.codegen`` of a valid ``spec``, once per distinct spec."""
    return _code_of_json(spec.to_json(indent=None), spec)
