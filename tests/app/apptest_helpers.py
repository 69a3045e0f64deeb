"""AppTest helpers: run the real entry script (navigation + sidebar) and switch to a page, with real engine work."""

from __future__ import annotations

import time
import types
from pathlib import Path

from streamlit.testing.v1 import AppTest

ENTRY = str(Path(__file__).resolve().parents[2] / "playground" / "app.py")


def open_page(page: str | None = None, query: dict[str, str] | None = None, owner: str | None = None) -> AppTest:
    """The app, run once, then switched to ``pages/<page>`` (relative to the entry, as st.navigation sees it).
    ``owner``: the browser's owner id, as its cookie would give it (AppTest has no browser: else a new one)."""
    at = AppTest.from_file(ENTRY, default_timeout=120)
    if owner is not None:
        at.session_state["owner"] = owner
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()
    if page:
        at.switch_page(f"../pages/{page}")
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def button(at: AppTest, label: str):
    matches = [b for b in at.button if b.label == label]
    assert matches, f"no button {label!r}; have {[b.label for b in at.button]}"
    return matches[0]


def metric(at: AppTest, label: str) -> str:
    matches = [m.value for m in at.metric if m.label == label]
    assert matches, f"no metric {label!r}; have {[m.label for m in at.metric]}"
    return matches[0]


def by_key_prefix(widgets, prefix: str):
    matches = [w for w in widgets if w.key and w.key.startswith(prefix)]
    assert len(matches) == 1, f"{len(matches)} widgets with key prefix {prefix!r}"
    return matches[0]


def await_job(at: AppTest, key: str, timeout: float):
    """Wait for the job under session-state ``key``, rerunning the app meanwhile as the page's live fragment would;
    then one more run to draw the outcome. Returns the job."""
    job = at.session_state[key]
    deadline = time.time() + timeout
    while not job.wait(1.0):
        assert time.time() < deadline, f"the job is still {job.status} after {timeout} s"
        at.run()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return job


class FakeStreamer:
    """Stands in for ``webrtc_streamer`` under AppTest (the component needs a served app): records the calls and the
    frame callback, reports a playing stream."""

    def __init__(self) -> None:
        self.calls: list[dict] = []

    def __call__(self, **kwargs):
        self.calls.append(kwargs)
        return types.SimpleNamespace(state=types.SimpleNamespace(playing=True, signalling=False))

    @property
    def callback(self):
        return self.calls[-1]["video_frame_callback"]
