"""The classroom load test's light client (bench/st_client.py) and the server's rerun log it reads
(``CNNPG_RERUN_LOG``, playground/app.py), against a real served app: so bench/load_classroom.py cannot rot unseen."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import importlib.util
import sys
from concurrent.futures import ThreadPoolExecutor

from served_app import ROOT, serve

from engine.nets.build import build
from engine.nets.presets import PRESETS


def _st_client():
    """bench/st_client.py (bench/ is not a package: the load test runs as a script beside it)."""
    if "st_client" not in sys.modules:
        spec = importlib.util.spec_from_file_location("st_client", ROOT / "bench" / "st_client.py")
        module = sys.modules["st_client"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules["st_client"]


def _lenet5_parameters(out_channels: int) -> int:
    """The oracle: a real LeNet-5 built with its first convolution's output channels changed."""
    spec = PRESETS["lenet5"].spec
    first = dataclasses.replace(spec.layers[0], out_channels=out_channels)
    model = build(dataclasses.replace(spec, layers=(first, *spec.layers[1:])))
    return sum(p.numel() for p in model.parameters())


async def _builder_and_edit(url: str):
    session = _st_client().Session(url, timeout=90)
    await session.open()
    try:
        opened = await session.goto("builder")
        before = session.metrics()
        edited = await session.set("_w_arg_0_0_out_channels", 9)
        return session, opened, before, edited, session.metrics()
    finally:
        await session.close()


def test_a_light_client_opens_the_builder_and_edits_it_and_the_server_logs_each_run(tmp_path):
    log = tmp_path / "reruns.csv"
    env = {"CNNPG_RERUN_LOG": str(log), "CNNPG_RUNS_DIR": str(tmp_path / "runs")}
    with serve(ROOT / "playground" / "app.py", tmp_path / "server.log", env) as url:
        # a thread of its own: after a real-browser test, Playwright's sync API keeps an event loop on this one
        with ThreadPoolExecutor(1) as thread:
            session, opened, before, edited, after = thread.submit(asyncio.run, _builder_and_edit(url)).result()

    assert session.exceptions == []
    # The right page, drawn whole: the builder's title and its widgets, found by key.
    assert session.page == "builder" and "builder" in session.pages and session.pages["builder"]
    assert [h for h in session.texts("heading") if h.startswith("CNN builder")]
    assert session.widget("_w_preset").WhichOneof("type") == "selectbox"
    # The edit reached the server: the network the page describes is a real LeNet-5 with 9 first channels.
    assert before["parameters"] == f"{_lenet5_parameters(6):,}"
    assert after["parameters"] == f"{_lenet5_parameters(9):,}"
    # The server logged each of this session's script runs, on the builder, each within the wait the client saw.
    with open(log, newline="") as f:
        rows = [r for r in csv.reader(f) if r[0] == session.session_id]
    assert [r[1] for r in rows] == ["builder", "builder"]
    assert 0 < float(rows[0][2]) <= opened.seconds and 0 < float(rows[1][2]) <= edited.seconds
    assert [r.kind for r in session.reruns] == ["page", "page"]
