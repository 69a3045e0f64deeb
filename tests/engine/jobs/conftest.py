"""The Ray tests' cluster: one real local Ray instance for the whole session (each start costs about 10 s and holds
about 0.8 GB), started when the first test asks for it and shut down after the last test that uses it, with a
simulated GPU node's custom resource ("accelerator") and this folder and the checkout on its workers' path (they do
not see the test's ``sys.path``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
REPO = HERE.parents[2]
_last_user: str | None = None  # the node id of the last test collected that uses the cluster


def _uses_ray(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)  # the contract suite's Ray half asks for the cluster when it runs
    return "ray_cluster" in getattr(item, "fixturenames", ()) or (
        callspec is not None and callspec.params.get("make_runner") == "ray")


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    global _last_user
    users = [item.nodeid for item in items if _uses_ray(item)]
    _last_user = users[-1] if users else None


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    if item.nodeid == _last_user and "ray" in sys.modules and sys.modules["ray"].is_initialized():
        sys.modules["ray"].shutdown()  # the rest of the suite runs without it


@pytest.fixture(scope="session")
def ray_cluster():
    os.environ.setdefault("RAY_ENABLE_AUTO_CONNECT", "0")  # a job thread left running never starts a cluster of its own
    ray = pytest.importorskip("ray", reason="Ray is not installed: pip install -r requirements-ray.txt")
    ray.init(address="local", num_cpus=2, include_dashboard=False, resources={"accelerator": 1},
             runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join([str(REPO), str(HERE)])}}, log_to_driver=False)
    yield ray
    ray.shutdown()
