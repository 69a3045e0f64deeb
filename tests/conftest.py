"""Suite-wide rules. In CI (``CI`` set, as ``.ci/run`` sets it) a test never skips silently: a skip whose reason is
not the machine's hardware (no CUDA here, or CUDA there) fails the run with its reason, because it means the set-up
did not install something the test needs (a Debian package, a data set, a browser). Outside CI skips are reported
with their reasons (``-rs`` in pyproject.toml). See docs/testing.md."""

from __future__ import annotations

import os

import pytest

HARDWARE_REASONS = ("needs CUDA", "this machine has CUDA")  # the only skips CI accepts


def _reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.skipped and os.environ.get("CI") and not hasattr(report, "wasxfail"):
        reason = _reason(report)
        if not reason.startswith(HARDWARE_REASONS):
            report.outcome = "failed"
            report.longrepr = (f"skipped in CI, which must not happen: {reason}\n"
                               f"The set-up (make test -> scripts/system-deps.sh) must install what this test needs.")
