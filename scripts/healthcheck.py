"""The container's health check (Dockerfile, HEALTHCHECK): asks the served app's own health endpoint,
``/_stcore/health`` (Streamlit answers "ok" once the server is up), on ``$PORT`` (default 8501) under
``$STREAMLIT_SERVER_BASE_URL_PATH``. Exit status 0 when healthy, 1 otherwise, with why. Standard library only: the
image has no curl."""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def health_url() -> str:
    port = os.environ.get("PORT", "").strip() or "8501"
    base = os.environ.get("STREAMLIT_SERVER_BASE_URL_PATH", "").strip("/ ")
    return f"http://127.0.0.1:{port}/{base + '/' if base else ''}_stcore/health"


def main() -> int:
    url = health_url()
    try:
        with urllib.request.urlopen(url, timeout=4) as response:
            body = response.read(100).decode("utf-8", "replace").strip()
    except (urllib.error.URLError, OSError) as e:
        print(f"unhealthy: {url}: {e}")
        return 1
    if body != "ok":
        print(f"unhealthy: {url} answered {body!r}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
