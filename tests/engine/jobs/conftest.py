"""The Ray tests' cluster: one real local Ray instance for the whole session (each start costs about 10 s and holds
about 0.8 GB), started only when a test asks for it, with a simulated GPU node's custom resource ("accelerator") and
this folder and the checkout on its workers' path (they do not see the test's ``sys.path``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

HERE = Path(__file__).parent
REPO = HERE.parents[2]


@pytest.fixture(scope="session")
def ray_cluster():
    os.environ.setdefault("RAY_ENABLE_AUTO_CONNECT", "0")  # a job thread left running never starts a cluster of its own
    ray = pytest.importorskip("ray", reason="Ray is not installed: pip install -r requirements-ray.txt")
    ray.init(address="local", num_cpus=2, include_dashboard=False, resources={"accelerator": 1},
             runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join([str(REPO), str(HERE)])}}, log_to_driver=False)
    yield ray
    ray.shutdown()
