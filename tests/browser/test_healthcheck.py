"""The container's health check (scripts/healthcheck.py, the Dockerfile's HEALTHCHECK) against a real served
Streamlit app: healthy while it serves, unhealthy once it has stopped. No browser needed."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.parse

from served_app import ROOT, serve

SCRIPT = ROOT / "scripts" / "healthcheck.py"


def _check(port: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "PORT": str(port)}
    env.pop("STREAMLIT_SERVER_BASE_URL_PATH", None)
    return subprocess.run([sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30)


def test_the_health_check_follows_the_served_app(tmp_path) -> None:
    page = tmp_path / "page.py"
    page.write_text("import streamlit as st\nst.write('up')\n")
    with serve(page, tmp_path / "server.log") as url:
        port = urllib.parse.urlsplit(url).port
        up = _check(port)
        assert (up.returncode, up.stdout) == (0, "")
    down = _check(port)
    assert down.returncode == 1
    assert down.stdout.startswith(f"unhealthy: http://127.0.0.1:{port}/_stcore/health: ")
