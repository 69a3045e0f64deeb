"""What the app keeps between reruns, and for whom (docs/architecture.md, "Limits", memory):

- pure work shared by every session (``st.cache_data``): summaries and generated code, keyed by the spec's JSON text;
- networks shared read-only by every session (``st.cache_resource``, bounded in count and age): the builder's
  untrained network by its spec and seed, a run's network by its id and checkpoint. Nothing on a page changes them:
  they are in eval mode with ``requires_grad`` off, and feature maps are recorded with hooks that only see their own
  call (``engine.nets.inspect.feature_maps``). Five sessions looking at the same untrained VGG-16 hold it once;
- large results of one session (feature maps, evaluations, slid windows) in a per-session holder with a byte budget,
  ``CNNPG_SESSION_MB``: past it the oldest are dropped and made again when asked for. A session-scoped resource empties
  the holder when the session's websocket closes — not minutes later, when the session itself is reaped from the
  store of disconnected sessions.
"""

from __future__ import annotations

import ctypes
import dataclasses
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import streamlit as st
import torch

from engine.env import positive_int
from engine.nets.build import Network, build
from engine.nets.codegen import codegen
from engine.nets.spec import NetworkSpec
from engine.nets.summary import Summary, summary
from engine.training.runs import RunStore
from engine.training.trained import TrainedModel, load_trained
from playground import state

T = TypeVar("T")
MIB = 1024 * 1024
SHARED_MODELS = positive_int("CNNPG_SHARED_MODELS", 4, "networks kept for every session at once")
SHARED_SECONDS = 30 * 60  # a shared network is made again after this long (when next asked for)
SESSION_MB = positive_int("CNNPG_SESSION_MB", 128, "megabytes of results kept per session")

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


# --------------------------------------------------------------------------------------------------- shared networks


def _read_only(model: Network) -> Network:
    model.eval()
    model.requires_grad_(False)
    return model


@st.cache_resource(max_entries=SHARED_MODELS, ttl=SHARED_SECONDS, show_spinner="Building the network…",
                   on_release=lambda _model: _malloc_trim())
def _built(spec_json: str, seed: int, _spec: NetworkSpec) -> Network:
    return _read_only(build(_spec, seed=seed))


def shared_network(spec: NetworkSpec, seed: int) -> Network:
    """The builder's network ``spec`` with its weights drawn from ``seed``, untrained: one copy for every session
    (read-only: eval mode, no gradients; a page must not change it)."""
    return _built(spec.to_json(indent=None), int(seed), spec)


@st.cache_resource(max_entries=SHARED_MODELS, ttl=SHARED_SECONDS, show_spinner="Loading the run…",
                   on_release=lambda _trained: _malloc_trim())
def _loaded(root: str, run_id: str, checkpoint: tuple) -> TrainedModel:
    trained = load_trained(RunStore(Path(root)), run_id, "cpu")
    _read_only(trained.model)
    return trained


def shared_run(store: RunStore, run_id: str, checkpoint: tuple) -> TrainedModel:
    """Run ``run_id`` of ``store`` ready to predict on the CPU, one copy for every session that may see it, for as
    long as ``checkpoint`` (what identifies its weights: epochs, status) is the same. Read-only, as above."""
    return _loaded(str(store.root), run_id, tuple(checkpoint))


# --------------------------------------------------------------------------------------------------- one session's


def nbytes(value: Any, _depth: int = 0) -> int:
    """About how much memory ``value`` holds: its tensors' and arrays' bytes, through lists, tuples, dicts and
    dataclasses (a few levels deep); anything else counts its own size."""
    if isinstance(value, torch.Tensor):
        return value.nelement() * value.element_size()
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if _depth > 4:
        return sys.getsizeof(value)
    if isinstance(value, list | tuple | set | frozenset):
        return sum(nbytes(v, _depth + 1) for v in value)
    if isinstance(value, dict):
        return sum(nbytes(v, _depth + 1) for v in value.values())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return sum(nbytes(getattr(value, f.name), _depth + 1) for f in dataclasses.fields(value))
    return sys.getsizeof(value)


class Held:
    """One session's results, newest last, within ``budget`` bytes: past it the oldest are dropped (the newest is
    always kept, so a page need not make it again on each rerun)."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._items: OrderedDict[tuple, tuple[int, Any]] = OrderedDict()
        self._lock = threading.Lock()  # a fragment's rerun and the page's may both ask

    def __contains__(self, key: tuple) -> bool:
        with self._lock:
            return key in self._items

    def get(self, key: tuple, default: Any = None) -> Any:
        with self._lock:
            if key not in self._items:
                return default
            self._items.move_to_end(key)
            return self._items[key][1]

    def put(self, key: tuple, value: T) -> T:
        size = nbytes(value)
        with self._lock:
            self._items.pop(key, None)
            self._items[key] = (size, value)
            while len(self._items) > 1 and self.used > self.budget:
                self._items.popitem(last=False)
        return value

    def keep(self, key: tuple, make: Callable[[], T]) -> T:
        """``make()``'s result for ``key``: kept from an earlier call, or made now and kept."""
        missing = object()
        value = self.get(key, missing)
        return self.put(key, make()) if value is missing else value

    def drop(self, kind: str) -> None:
        """Forget every result whose key starts with ``kind``."""
        with self._lock:
            for key in [k for k in self._items if k[:1] == (kind,)]:
                del self._items[key]

    @property
    def used(self) -> int:
        return sum(size for size, _ in self._items.values())

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def _release(kept: Held) -> None:
    """A session ended: drop its results and hand the freed memory back to the system. glibc keeps freed blocks of
    under 32 MiB (feature maps) in its arenas for reuse; without ``malloc_trim`` the server's RSS stays where it was
    (measured: five sessions closed on VGG-16, 12 MB of 160 MB came back; with it, all of it)."""
    kept.clear()
    _malloc_trim()


def _malloc_trim() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (musl): nothing to hand back this way
        pass


@st.cache_resource(scope="session", show_spinner=False, on_release=_release)
def _emptied_when_the_session_ends(_kept: Held) -> Held:
    return _kept


def held() -> Held:
    """This session's holder (``state.HELD``, ``CNNPG_SESSION_MB``). Keys start with the kind of result (``("maps",
    ...)``, ``("eval", ...)``) and name everything the value depends on. Its results are dropped as soon as the
    session's websocket closes (a session-scoped resource's release): Streamlit keeps a closed session's state for a
    reconnection, and reaps it only when its store of sessions is next touched."""
    kept = st.session_state.get(state.HELD)
    if kept is None:
        kept = st.session_state[state.HELD] = Held(SESSION_MB * MIB)
    _emptied_when_the_session_ends(kept)
    return kept
