"""An uploaded zip, decoded off the page's script thread (docs/architecture.md, "Limits").

Decoding a big legitimate zip takes seconds to minutes; in the script thread it froze the page and every rerun
started it again. Here the page asks for the zip's ``Decoding`` — by the upload's content (name and bytes) and the
split's seed — and gets the one already under way or done, else a new one started on a small pool of threads
(``CNNPG_DECODE_WORKERS``). The page shows its progress, can cancel it, and may be left meanwhile: the decoding
goes on, and the page finds it again on return. Decodings are kept by content, shared by the sessions that upload
the same zip, for the ``KEPT`` most recent (a set is read-only once decoded; training only reads it). Every cap of
``engine.data.uploads.from_zip`` applies as before, with the same messages.

The pool is threads of the server, not jobs of the runner: a decoding must not wait in the training queue behind its
owner's own training job.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from engine.data import LoadedData, Normalization, channel_stats, from_zip
from engine.env import positive_int
from engine.units import plural

WORKERS = positive_int("CNNPG_DECODE_WORKERS", 1, "zips decoded at once")
KEPT = 4  # decodings kept (running or done), the least recently asked for dropped first

_pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="cnnpg-zip")
_lock = threading.Lock()
_kept: OrderedDict[tuple[str, int], Decoding] = OrderedDict()


class Cancelled(Exception):
    """Raised inside the decoding when the user cancels it."""


@dataclass(eq=False)
class Decoding:
    """One zip's decoding: ``status`` is "waiting" (for a free thread), "checking" (the caps, from the headers),
    "decoding" (``done`` of ``total`` images), then "done" (``data``, ``stats``), "failed" (``message``) or
    "cancelled"."""

    digest: str
    name: str
    seed: int
    status: str = "waiting"
    done: int = 0
    total: int | None = None
    data: LoadedData | None = None
    stats: Normalization | None = None
    message: str | None = None
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    _finished: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed", "cancelled")

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0

    def describe(self) -> str:
        if self.status == "waiting":
            return f"{self.name}: waiting for another upload's decoding to finish…"
        if self.status == "checking":
            return f"{self.name}: checking the zip (names, sizes, every image's header)…"
        if self.status == "decoding":
            return f"{self.name}: decoding images, {self.done:,} of {plural(self.total or 0, 'image')}…"
        return f"{self.name}: {self.status}"

    def cancel(self) -> None:
        """Stop at the next image (or before starting); the decoding ends "cancelled"."""
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._finished.wait(timeout)

    def _run(self, raw: bytes) -> None:
        try:
            if self._cancel.is_set():
                raise Cancelled
            self.status = "checking"
            data = from_zip(raw, seed=self.seed, title=self.name, progress=self._progress)
            stats = channel_stats(data.train)
        except Cancelled:
            self.status = "cancelled"
        except ValueError as e:  # every cap and problem of the zip, with its message
            self.message, self.status = f"{self.name}: {e}", "failed"
        except (MemoryError, RuntimeError, OSError) as e:  # the machine, not the zip
            self.message, self.status = f"{self.name} could not be decoded: {e}", "failed"
        else:
            self.data, self.stats, self.status = data, stats, "done"
        finally:
            self._finished.set()

    def _progress(self, done: int, total: int) -> None:
        if self._cancel.is_set():
            raise Cancelled
        self.status, self.done, self.total = "decoding", done, total


def digest_of(name: str, raw: bytes) -> str:
    """What identifies an upload: its name (it titles the set) and its bytes."""
    return hashlib.sha256(name.encode() + b"\0" + raw).hexdigest()


def decoding(name: str, raw: bytes, seed: int) -> Decoding:
    """The decoding of this upload with this seed: the one kept (running, finished or cancelled), else a new one,
    started."""
    key = (digest_of(name, raw), int(seed))
    with _lock:
        found = _kept.get(key)
        if found is not None:
            _kept.move_to_end(key)
            return found
    return again(name, raw, seed)


def again(name: str, raw: bytes, seed: int) -> Decoding:
    """A new decoding of this upload with this seed, started (after a cancel), in place of the one kept."""
    job = Decoding(digest_of(name, raw), name, int(seed))
    with _lock:
        previous = _kept.pop((job.digest, job.seed), None)
        _kept[(job.digest, job.seed)] = job
        dropped = [_kept.popitem(last=False)[1] for _ in range(len(_kept) - KEPT)]
    for old in [previous, *dropped]:
        if old is not None:
            old.cancel()  # no one can ask for it any more; a running one stops at its next image
    _pool.submit(job._run, bytes(raw))
    return job


def kept(name: str, raw: bytes, seed: int) -> Decoding | None:
    """The decoding kept for this upload and seed, if any (without starting one)."""
    with _lock:
        return _kept.get((digest_of(name, raw), int(seed)))
