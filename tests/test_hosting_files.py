"""The hosting files (issue 9, "Hosting"; docs/hosting.md) checked without Docker, which this machine does not run:
compose.yaml parsed with a YAML loader, the Dockerfile's instructions read one by one — what they copy exists, they
install the pinned requirements the way the Makefile does, run as a user of their own, keep data in the volume —
packages.txt, and every ``CNNPG_*`` setting the code reads documented in docs/hosting.md."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _settings_in_code() -> set[str]:
    """Every ``CNNPG_*`` variable named in the app's and engine's source."""
    return {m for d in ("engine", "playground") for p in (ROOT / d).rglob("*.py")
            for m in re.findall(r"\bCNNPG_[A-Z0-9_]*[A-Z0-9]\b", p.read_text())}


def _instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    lines = [line for line in (ROOT / "Dockerfile").read_text().splitlines() if not line.lstrip().startswith("#")]
    text = re.sub(r"\\\n", " ", "\n".join(lines))
    return [(m[1].upper(), m[2].strip()) for m in re.finditer(r"^\s*(\w+)\s+(.*)$", text, re.M)]


def _args(name: str) -> list[str]:
    return [args for instruction, args in _instructions() if instruction == name]


def _env() -> dict[str, str]:
    return {k: v for args in _args("ENV") for k, v in (pair.split("=", 1) for pair in shlex.split(args))}


@pytest.fixture(scope="module")
def compose() -> dict:
    yaml = pytest.importorskip("yaml", reason="PyYAML reads compose.yaml here: make setup-dev installs it")
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_compose_serves_the_app_and_a_gpu_service_on_request(compose: dict) -> None:
    app, gpu = compose["services"]["app"], compose["services"]["app-gpu"]
    assert "profiles" not in app and gpu["profiles"] == ["gpu"]  # `docker compose up` starts the CPU app only
    for service in (app, gpu):
        assert (ROOT / service["build"]["context"] / "Dockerfile").is_file()
        assert [p.split(":")[-1] for p in service["ports"]] == ["8501"]  # the port the image serves on
        assert [v.split(":")[1] for v in service["volumes"]] == ["/data"]  # the image's volume
    assert gpu["deploy"]["resources"]["reservations"]["devices"] == [
        {"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    assert "cu" in gpu["build"]["args"]["TORCH_INDEX_URL"].rsplit("/", 1)[-1]  # a CUDA build of torch
    assert set(compose["volumes"]) == {v.split(":")[0] for v in app["volumes"]}


def _documented() -> set[str]:
    """The variables of docs/hosting.md's "Settings" table."""
    table = (ROOT / "docs" / "hosting.md").read_text().split("\n## Settings\n", 1)[1]
    return set(re.findall(r"^\| `(CNNPG_[A-Z0-9_]+)` \|", table, re.M))


def test_compose_passes_only_documented_settings(compose: dict) -> None:
    settings = compose["services"]["app"]["environment"]
    assert settings == compose["services"]["app-gpu"]["environment"]
    assert set(settings) <= _documented(), set(settings) - _documented()  # no typo goes unnoticed
    assert all(value == f"${{{name}:-}}" for name, value in settings.items())  # unset in the shell: the default


def test_the_dockerfile_copies_what_exists_and_installs_the_pins_as_make_does() -> None:
    sources = [p for args in _args("COPY") for p in shlex.split(args)[:-1] if not p.startswith("--")]
    assert sources and all((ROOT / p).exists() for p in sources if p != "."), sources
    runs = " ".join(_args("RUN"))
    make = (ROOT / "Makefile").read_text()
    for flags in ("-r requirements.txt", "--no-deps -r requirements-nodeps.txt"):  # the Makefile's own two steps
        assert f"pip install -q {flags}" in make and f"pip install -q {flags}" in runs
    assert "make setup" in runs  # and the project itself, through the Makefile
    assert _args("FROM") == ["python:3.11-slim-bookworm"]
    assert 'requires-python = ">=3.11"' in (ROOT / "pyproject.toml").read_text()


def test_the_image_runs_make_run_as_its_own_user_with_data_in_the_volume() -> None:
    order = [instruction for instruction, _ in _instructions()]
    assert _args("USER") == ["playground"] and order.index("USER") < order.index("CMD")
    assert _args("CMD") == ['["make", "run"]'] and re.search(r"^run: setup$", (ROOT / "Makefile").read_text(), re.M)
    assert _args("VOLUME") == ["/data"]
    env = _env()
    for name in ("CNNPG_RUNS_DIR", "CNNPG_DATA_DIR", "CNNPG_WEIGHTS_DIR", "TORCH_HOME"):
        assert env[name].startswith("/data/"), name
    assert env["PORT"] == "8501" and _args("EXPOSE") == ["8501"]
    assert re.search(r"^PORT\s+\?=\s+8501$", (ROOT / "Makefile").read_text(), re.M)
    health = _args("HEALTHCHECK")[0]
    assert health.endswith('CMD ["python", "scripts/healthcheck.py"]') and (ROOT / "scripts/healthcheck.py").is_file()
    assert "/_stcore/health" in (ROOT / "scripts/healthcheck.py").read_text()


def test_the_build_context_leaves_out_the_local_environment() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", "runs", ".git", ".certs"} <= set(ignored)  # COPY . . never replaces the image's venv


def test_packages_txt_lists_debian_packages_the_app_uses_at_run_time() -> None:
    names = (ROOT / "packages.txt").read_text().split()
    assert names and all(re.fullmatch(r"[a-z0-9][a-z0-9+.-]+", n) for n in names)
    assert "chromium" not in names  # the browser tests' own, not the app's
    assert "dataset-fashion-mnist" in names and "/usr/share/datasets/fashion-mnist" in \
        (ROOT / "engine/data/vision_sets.py").read_text()


def test_every_setting_the_code_reads_is_documented() -> None:
    missing = sorted(_settings_in_code() - _documented())
    assert not missing, f"docs/hosting.md, 'Settings', does not list {missing}"


def test_ray_goes_into_the_image_on_request_as_make_installs_it(compose: dict) -> None:
    """``WITH_RAY=1`` (a build argument, passed by both compose services) installs requirements-ray.txt the way the
    Makefile's set-up does; without it the image has no Ray (the app then says how to enable it: docs/ray.md)."""
    assert "WITH_RAY=0" in _args("ARG")
    runs = " ".join(_args("RUN"))
    assert 'if [ "$WITH_RAY" = 1 ]; then .venv/bin/python -m pip install -q -r requirements-ray.txt; fi' in runs
    assert "pip install -q -r requirements-ray.txt" in (ROOT / "Makefile").read_text()
    for service in compose["services"].values():
        assert service["build"]["args"]["WITH_RAY"] == "${WITH_RAY:-0}"
    ray_settings = {"CNNPG_RAY_ADDRESS", "CNNPG_RAY_FALLBACK", "CNNPG_RAY_MAX_DATA_MB"}
    assert ray_settings <= set(compose["services"]["app"]["environment"]) <= _documented()
