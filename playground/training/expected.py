"""The Training page's "expected time": ``engine.training.estimate`` measured once per network, data, batch size,
optimiser and device (kept for the server), scaled to the epochs on the page.

The measurement trains a few real batches (0.1–5 s on a loaded CPU), so it runs off the page's script thread, one at a
time for the whole server: the page is drawn at once with "being measured", and a small fragment polls until the
figure is there, then redraws the page with it (docs/tasks-and-jobs.md, "Expected time").
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor

import streamlit as st

from engine.jobs.job import describe_error
from engine.nets.spec import NetworkSpec
from engine.training.config import TrainConfig
from engine.training.estimate import Estimate, estimate
from engine.units import format_duration
from playground.training.common import Picked

KEEP = 64  # measurements kept for the server (the oldest goes first)
POLL_S = 0.5  # how often a page waiting for its measurement looks whether it is there
MEASURING = "being measured (a few batches, in the background)…"

_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cnnpg-estimate")  # one probe at a time per server
_futures: OrderedDict[tuple, Future[Estimate]] = OrderedDict()
_lock = threading.Lock()


def _measure(spec: NetworkSpec, picked: Picked, config: TrainConfig) -> Future[Estimate]:
    key = (spec.to_json(indent=None), picked.data.card.name, len(picked.data.train), len(picked.data.val),
           str(config.to_dict()))
    with _lock:
        future = _futures.get(key)
        if future is None or (future.done() and future.exception() is not None and _transient(future)):
            future = _futures[key] = _pool.submit(estimate, spec, picked.data, config)
        _futures.move_to_end(key)
        while len(_futures) > KEEP:
            _futures.popitem(last=False)
    return future


def _transient(future: Future) -> bool:
    """A failure worth measuring again on the next rerun (memory was short), not one that will repeat."""
    return isinstance(future.exception(), MemoryError)


def expected_time(spec: NetworkSpec, picked: Picked, config: TrainConfig) -> tuple[str, bool]:
    """('about 6 s (…, measured just now)' or why it cannot be said, False), or (``MEASURING``, True) while the
    measurement runs."""
    one = dataclasses.replace(config, epochs=1)
    future = _measure(spec, picked, one)
    if not future.done():
        return MEASURING, True
    err = future.exception()
    if err is not None:
        return f"the time could not be measured ({describe_error(err)})", False
    e = future.result()
    total = e.setup + (e.seconds - e.setup) * config.epochs
    return f"about {format_duration(total)} ({e.describe()}, measured just now)", False


def redraw_when_measured(spec: NetworkSpec, picked: Picked, config: TrainConfig) -> None:
    """Poll (a fragment with nothing to draw) until the measurement the page waits for is there, then rerun the
    page to show it."""

    @st.fragment(run_every=POLL_S)
    def poll() -> None:
        if not expected_time(spec, picked, config)[1]:
            st.rerun()

    poll()
