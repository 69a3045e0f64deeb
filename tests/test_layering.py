"""The engine never reaches up into the UI: importing it pulls in no Streamlit, no plotly and no playground.

Run in a fresh interpreter, because this test session may already have imported those for other tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import engine

FORBIDDEN = ("streamlit", "plotly", "playground")
_ROOT = Path(engine.__file__).parent
ENGINE_MODULES = sorted(
    "engine." + ".".join(p.relative_to(_ROOT).with_suffix("").parts).removesuffix(".__init__")
    for p in _ROOT.rglob("*.py") if p.relative_to(_ROOT).parts != ("__init__.py",)
)

PROBE = """
import importlib, json, sys
names = sys.argv[1:]
for name in names:
    importlib.import_module(name)
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {forbidden!r})))
"""


def test_the_engine_modules_are_found():
    assert {"engine.nets.spec", "engine.nets.build", "engine.nets.summary"} <= set(ENGINE_MODULES)


def test_importing_the_engine_imports_no_ui():
    script = PROBE.format(forbidden=set(FORBIDDEN))
    done = subprocess.run([sys.executable, "-c", script, "engine", *ENGINE_MODULES], capture_output=True, text=True,
                          timeout=120, cwd=Path(engine.__file__).parents[1])
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
