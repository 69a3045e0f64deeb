"""Streamlit's own cost of a rerun: a one-slider script moved through AppTest, the floor that the page benchmarks
(bench_builder.py, bench_conv_lab.py) print their reruns against."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

SCRIPT = "import streamlit as st\nst.slider('s', 1, 100, 1, key='s')\n"


def floor_reruns(repeats: int) -> list[float]:
    """Seconds of each of ``repeats`` reruns of the one-slider script after a slider move."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "floor.py"
        script.write_text(SCRIPT)
        at = AppTest.from_file(str(script), default_timeout=60)
        at.run()
        times = []
        for v in range(2, 2 + repeats):
            start = time.perf_counter()
            at.slider(key="s").set_value(v).run()
            times.append(time.perf_counter() - start)
    return times
