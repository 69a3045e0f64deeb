"""The Training page's "expected time": ``engine.training.estimate`` measured once per network, data, batch size,
optimiser and device (cached for the server), scaled to the epochs on the page."""

from __future__ import annotations

import dataclasses

import streamlit as st

from engine.nets.spec import NetworkSpec
from engine.training.config import TrainConfig
from engine.training.estimate import Estimate, estimate
from engine.units import format_duration
from playground.training.common import Picked


@st.cache_data(max_entries=64, show_spinner="Timing a few batches to say how long it will take…")
def _one_epoch(spec_json: str, data_key: tuple, config_json: str, _picked: Picked, _config: TrainConfig) -> Estimate:
    return estimate(NetworkSpec.from_json(spec_json), _picked.data, _config)


def expected_time(spec: NetworkSpec, picked: Picked, config: TrainConfig) -> str:
    """'about 6 s on this cpu (…)', or why it cannot be said."""
    one = dataclasses.replace(config, epochs=1)
    card = picked.data.card
    key = (card.name, len(picked.data.train), len(picked.data.val), int(config.seed))
    try:
        e = _one_epoch(spec.to_json(indent=None), key, str(one.to_dict()), picked, one)
    except (ValueError, RuntimeError) as err:
        return f"the time could not be measured ({err})"
    total = e.setup + (e.seconds - e.setup) * config.epochs
    return f"about {format_duration(total)} ({e.describe()}, measured just now)"
