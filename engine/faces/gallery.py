"""Face recognition (1:K): a gallery of named people, each enrolled from one picture or more, and the nearest
enrolled face to a probe — or "unknown" when even the nearest is farther than the threshold. One picture per person
suffices (one-shot: the embedding was trained so that distances mean something for faces it never saw); more
pictures per person help, because the probe is compared with each of them and the nearest counts.

Galleries live on disk in one SQLite file (``faces.sqlite`` in the run store's folder, ``$CNNPG_RUNS_DIR``), each row
with its owner: the anonymous id of the browser that enrolled it (docs/architecture.md, "Owners"; "" for the CLI).
Every read and write names the owner, so one browser never sees, matches against or deletes another's people. Each
sample keeps its embedding (float32), the backend that made it, and its aligned crop as a PNG (to show it); nothing
of a picture is written unless it is enrolled. ``export`` gives an owner's gallery as JSON (names and vectors, no
pictures, no owner id); ``delete`` and ``clear`` remove people for good. Each call opens its own connection (WAL
mode), so sessions can enrol at once.
"""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from engine.faces.backend import check_metric
from engine.faces.pipeline import EmbeddedFace
from engine.training.runs.people import check_name

FILE_NAME = "faces.sqlite"
MAX_PEOPLE = 200  # per owner
MAX_SAMPLES = 20  # pictures per person
FORMAT = 1  # the export's format

_SCHEMA = """
CREATE TABLE IF NOT EXISTS samples (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    backend TEXT NOT NULL,
    vector BLOB NOT NULL,
    crop BLOB,
    created TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS samples_owner ON samples (owner, backend, name);
"""


@dataclass(frozen=True)
class Person:
    """An enrolled person: ``name``, how many pictures (``samples``) and when first enrolled (ISO 8601, UTC)."""

    name: str
    samples: int
    created: str


@dataclass(frozen=True)
class Match:
    """A probe's answer: the ``nearest`` enrolled person and their ``distance``; ``name`` is the nearest when the
    distance is below ``threshold``, else "unknown" (``known`` False). An empty gallery: ``nearest`` is None."""

    name: str
    nearest: str | None
    distance: float
    threshold: float
    known: bool


UNKNOWN = "unknown"


class Gallery:
    """Named people's face embeddings, per owner, in ``<root>/faces.sqlite`` (default root: the run store's)."""

    def __init__(self, root: Path | str | None = None):
        if root is None:
            from engine.training.runs.store import default_root

            root = default_root()
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.db = self.root / FILE_NAME
        with self._connect() as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(_SCHEMA)

    def __repr__(self) -> str:
        return f"Gallery({str(self.root)!r})"

    # ----------------------------------------------------------------------------------------------- writing

    def enrol(self, owner: str, name: str, faces: Sequence[EmbeddedFace], backend: str) -> int:
        """Add ``faces`` (embedded by ``backend``) to ``owner``'s person ``name`` (made when new); returns how many
        pictures the person has now. ``ValueError`` for a bad name, no faces, or past ``MAX_PEOPLE`` people or
        ``MAX_SAMPLES`` pictures per person."""
        name = check_name(name)
        if not faces:
            raise ValueError("nothing to enrol: give at least one face")
        people = {p.name: p for p in self.people(owner, backend)}
        have = people[name].samples if name in people else 0
        if name not in people and len(people) >= MAX_PEOPLE:
            raise ValueError(f"the gallery holds at most {MAX_PEOPLE} people; delete someone first")
        if have + len(faces) > MAX_SAMPLES:
            raise ValueError(f"a person has at most {MAX_SAMPLES} pictures; {name} has {have}, and {len(faces)} more "
                             f"would be {have + len(faces) - MAX_SAMPLES} too many")
        now = datetime.now(UTC).isoformat(timespec="seconds")
        rows = [(str(owner), name, backend, np.asarray(f.vector, np.float32).tobytes(), _png(f.crop), now)
                for f in faces]
        with self._connect() as con:
            con.executemany("INSERT INTO samples (owner, name, backend, vector, crop, created) "
                            "VALUES (?, ?, ?, ?, ?, ?)", rows)
        return have + len(faces)

    def delete(self, owner: str, name: str) -> int:
        """Remove ``owner``'s person ``name`` (every backend's pictures); returns how many pictures went. Another
        owner's person of the same name is untouched."""
        with self._connect() as con:
            return con.execute("DELETE FROM samples WHERE owner = ? AND name = ?", (str(owner), name)).rowcount

    def clear(self, owner: str) -> int:
        """Remove all of ``owner``'s people; returns how many pictures went."""
        with self._connect() as con:
            return con.execute("DELETE FROM samples WHERE owner = ?", (str(owner),)).rowcount

    # ----------------------------------------------------------------------------------------------- reading

    def people(self, owner: str, backend: str | None = None) -> list[Person]:
        """``owner``'s people (with ``backend``'s pictures, when given), by name."""
        where, args = _where(owner, backend)
        with self._connect() as con:
            rows = con.execute(f"SELECT name, COUNT(*), MIN(created) FROM samples {where} GROUP BY name ORDER BY name",
                               args).fetchall()
        return [Person(n, int(c), t) for n, c, t in rows]

    def crops(self, owner: str, name: str) -> list[np.ndarray]:
        """The aligned crops enrolled for ``owner``'s ``name``, oldest first (``(S, S, 3)`` uint8)."""
        with self._connect() as con:
            rows = con.execute("SELECT crop FROM samples WHERE owner = ? AND name = ? AND crop IS NOT NULL ORDER BY id",
                               (str(owner), name)).fetchall()
        return [_unpng(r[0]) for r in rows]

    def vectors(self, owner: str, backend: str) -> tuple[list[str], np.ndarray]:
        """``owner``'s enrolled embeddings by ``backend``: the name of each row and the ``(N, D)`` float32 matrix."""
        with self._connect() as con:
            rows = con.execute("SELECT name, vector FROM samples WHERE owner = ? AND backend = ? ORDER BY id",
                               (str(owner), backend)).fetchall()
        if not rows:
            return [], np.zeros((0, 0), np.float32)
        return [r[0] for r in rows], np.stack([np.frombuffer(r[1], np.float32) for r in rows])

    def identify(self, owner: str, vector: np.ndarray, backend: str, threshold: float,
                 metric: str = "euclidean") -> Match:
        """The nearest of ``owner``'s enrolled pictures to ``vector`` (nearest neighbour over every picture): its
        person when the distance is below ``threshold``, else "unknown"."""
        return self.identify_many(owner, np.asarray(vector)[None], backend, threshold, metric)[0]

    def identify_many(self, owner: str, vectors: np.ndarray, backend: str, threshold: float,
                      metric: str = "euclidean") -> list[Match]:
        """``identify`` for each row of ``vectors`` ``(N, D)``, reading the gallery once."""
        return self.known(owner, backend, threshold, metric).match(np.atleast_2d(vectors))

    def known(self, owner: str, backend: str, threshold: float, metric: str = "euclidean"):
        """``owner``'s enrolled vectors by ``backend``, read once, to match many probes (webcam frames) against:
        an ``engine.faces.live.Known``."""
        from engine.faces.live import Known

        check_metric(metric)
        names, matrix = self.vectors(owner, backend)
        return Known(tuple(names), matrix, float(threshold), metric)

    def export(self, owner: str) -> dict:
        """``owner``'s gallery as JSON-ready data: each person's name and embeddings per backend (no pictures, and
        not the owner id, a browser's secret)."""
        with self._connect() as con:
            rows = con.execute("SELECT name, backend, vector, created FROM samples WHERE owner = ? ORDER BY name, id",
                               (str(owner),)).fetchall()
        people: dict[str, dict] = {}
        for name, backend, vector, created in rows:
            person = people.setdefault(name, {"name": name, "enrolled": created, "embeddings": []})
            person["embeddings"].append({"backend": backend,
                                         "vector": [round(float(v), 6) for v in np.frombuffer(vector, np.float32)]})
        return {"format": FORMAT, "kind": "cnn-playground face gallery", "people": list(people.values())}

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.db, timeout=30)) as con, con:
            yield con


def _where(owner: str, backend: str | None) -> tuple[str, tuple]:
    if backend is None:
        return "WHERE owner = ?", (str(owner),)
    return "WHERE owner = ? AND backend = ?", (str(owner), backend)


def _png(crop: np.ndarray | None) -> bytes | None:
    if crop is None:
        return None
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(crop, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _unpng(data: bytes) -> np.ndarray:
    """A crop this module wrote (a PNG of at most 150×150 pixels), decoded."""
    from PIL import Image

    with Image.open(io.BytesIO(data), formats=("PNG",)) as im:
        return np.asarray(im.convert("RGB"))
