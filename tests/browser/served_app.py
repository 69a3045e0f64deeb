"""Serve a Streamlit script with `streamlit run` on a free loopback port for the browser tests (docs/testing.md)."""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(script: Path, log: Path, env: dict[str, str] | None = None, timeout: float = 60,
          certificate: tuple[Path, Path] | None = None, address: str = "127.0.0.1") -> Iterator[str]:
    """Run ``script`` until the block ends; yields its URL once ``/_stcore/health`` answers ``ok``. ``certificate``:
    (cert, key) files to serve over https (the probe then trusts the self-signed certificate); ``address``: the
    interface to listen on ("0.0.0.0": every one, as a classroom server does)."""
    port = free_port()
    tls = ["--server.sslCertFile", str(certificate[0]), "--server.sslKeyFile", str(certificate[1])] if certificate \
        else []
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(script), "--server.headless", "true",
             "--server.port", str(port), "--server.address", address, "--server.fileWatcherType", "none",
             "--browser.gatherUsageStats", "false", *tls],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
        )
    url = f"{'https' if certificate else 'http'}://127.0.0.1:{port}"
    context = ssl._create_unverified_context() if certificate else None  # noqa: S323 - our own self-signed test cert
    try:
        deadline = time.time() + timeout
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2, context=context).read() == b"ok":
                    break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    pytest.fail(f"{script.name} did not start within {timeout:.0f} s; server log:\n"
                                f"{log.read_text()[-4000:]}")
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
