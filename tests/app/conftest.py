"""Fixtures for the AppTest tests (helpers in apptest_helpers.py)."""

from __future__ import annotations

import pytest
from apptest_helpers import open_page
from streamlit.testing.v1 import AppTest


@pytest.fixture
def builder() -> AppTest:
    return open_page("builder.py")
