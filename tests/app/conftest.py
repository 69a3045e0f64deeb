"""Fixtures for the AppTest tests (helpers in apptest_helpers.py)."""

from __future__ import annotations

import pytest
from apptest_helpers import open_page
from streamlit.testing.v1 import AppTest


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    """A fresh run store for the test (``CNNPG_RUNS_DIR``); a module that needs more defines its own."""
    monkeypatch.setenv("CNNPG_RUNS_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture
def builder() -> AppTest:
    return open_page("builder.py")


@pytest.fixture(autouse=True)
def _streams_uncapped(monkeypatch):
    """Stand-in cameras report a stream that is on, and an AppTest session goes only when it is garbage-collected:
    so that the sessions of earlier tests never fill the server's live camera cap, a test has as many as it wants
    unless it sets CNNPG_MAX_STREAMS itself (tests/app/test_webcam_streams.py)."""
    monkeypatch.setenv("CNNPG_MAX_STREAMS", "1000000")
