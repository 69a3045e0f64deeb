"""The run store tests' own look at a run's training lock, independent of the store's (``engine.training.runs.store``
keeps this process's holds apart): a new open file description asks the kernel."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


def lock_free(lock: Path) -> bool:
    """Whether nobody holds the flock on ``lock`` (this process's own lock counts)."""
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
