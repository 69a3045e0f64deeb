"""Issue 9, memory per session, measured on a real served app: five sessions open Look inside on the builder's
untrained VGG-16 (as five students did: each added ~510 MB, held minutes after the tabs closed). The network is one
read-only copy shared by every session (playground/cache.py), each session's feature maps are bounded and dropped
when its websocket closes, and the memory comes back to the system. Sessions are light websocket clients
(light_session.py), not browsers: five Chromiums would starve this server."""

from __future__ import annotations

import time

import pytest
from light_session import LightSession, rss_mb, server_process
from served_app import ROOT, serve

from engine.nets.presets import get_preset
from engine.nets.summary import summary

SESSIONS = 5


def _settle(proc, seconds: float = 4) -> float:
    """The server's RSS once it has stopped changing (a closed session is released on the server's own loop)."""
    last = rss_mb(proc)
    deadline = time.time() + seconds
    while time.time() < deadline:
        time.sleep(0.5)
        now = rss_mb(proc)
        if abs(now - last) < 1:
            break
        last = now
    return rss_mb(proc)


@pytest.mark.timeout(900)
def test_sessions_on_one_big_network_share_it_and_give_their_memory_back(tmp_path):
    spec = get_preset("vgg16")
    model_mb = summary(spec).param_memory / 2**20  # float32 weights: ~528 MiB
    env = {"CNNPG_RUNS_DIR": str(tmp_path / "runs")}  # no runs: Look inside shows the builder's network
    with serve(ROOT / "playground" / "app.py", tmp_path / "server.log", env=env) as url:
        proc = server_process(url)
        warm = LightSession(url)  # the first visit imports torch and the pages: not what a session costs
        warm.run("inspect")
        warm.close()
        base = _settle(proc)
        sessions = []
        for _ in range(SESSIONS):
            student = LightSession(url)
            student.run("builder", f"spec={spec.to_token()}")  # a share link to VGG-16
            student.run("inspect")
            assert student.errors == []
            sessions.append(student)
        opened = _settle(proc)
        for student in sessions:
            student.close()
        closed = _settle(proc, 10)
        last = LightSession(url)
        last.clear_caches()  # the shared copy too (as the cache's own age or size limit would drop it)
        last.run("home")
        last.close()
        cleared = _settle(proc, 10)
    print(f"RSS: {base:.0f} MB after one warm-up session; {opened:.0f} MB with {SESSIONS} sessions on VGG-16 "
          f"(weights {model_mb:.0f} MB); {closed:.0f} MB after they closed; {cleared:.0f} MB with the caches cleared")
    # Open: one shared copy of the weights and each session's maps — under two copies' worth, whatever the count
    # (before: +3.0 GB for five).
    assert opened - base < 2 * model_mb + 100, (base, opened)
    # Closed: the sessions' maps come back at once (before: nothing came back); the shared copy stays, bounded.
    assert closed - base < model_mb + 150, (base, opened, closed)
    assert opened - closed > 0.6 * (opened - base - model_mb), (base, opened, closed)
    # Cleared: back to where one session left it, within a margin.
    assert cleared - base < 150, (base, cleared)
