"""The people of a class: each owner's short name ("Ada") and whether they take part in the class leaderboard, and
the leaderboard itself (the best validation value of one data set's primary metric, per student who opted in).

Names are kept in the run store's index (``RunStore.set_name``), keyed by the owner's anonymous id, so they survive a
reload and a server restart. An owner id is a browser's secret (whoever sends it in a cookie is that owner), so it is
never shown to anyone else: someone without a name is shown as ``anonymous(owner)``, a short hash of the id.
See docs/architecture.md, "Owners".
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the store imports this module
    from engine.training.runs.store import RunInfo

MAX_NAME = 24  # characters of a short name
NAME_PUNCTUATION = " -_.'"  # besides letters and digits (any script's)


@dataclass(frozen=True)
class Person:
    """An owner's short name ("" until they set one) and whether they are on the class leaderboard."""

    name: str = ""
    on_board: bool = False


@dataclass(frozen=True)
class Standing:
    """One line of the leaderboard: a student's best run on the board's data set."""

    name: str  # shown: the short name, or anonymous(owner)
    run_id: str
    run_name: str
    best: float


def check_name(text: str) -> str:
    """``text`` as a short name (runs of white space made one space, ends trimmed); ``ValueError`` saying which limit
    it breaks: empty, longer than ``MAX_NAME`` characters (by how many), or a character that is not a letter, a digit
    or one of ``NAME_PUNCTUATION``."""
    if not isinstance(text, str):
        raise ValueError(f"a name is text, got {type(text).__name__}")
    name = " ".join(text.split())
    if not name:
        raise ValueError("a name cannot be empty")
    if len(name) > MAX_NAME:
        raise ValueError(f"a name is at most {MAX_NAME} characters; this one has {len(name)} ({len(name) - MAX_NAME} "
                         f"too many)")
    bad = sorted({c for c in name if not (c.isalnum() or c in NAME_PUNCTUATION)})
    if bad:
        shown = ", ".join(repr(c) if c.isprintable() else f"U+{ord(c):04X}" for c in bad[:5])
        raise ValueError(f"a name holds letters, digits, spaces and - _ . ' only; it cannot hold {shown}")
    return name


def anonymous(owner: str) -> str:
    """How someone without a name is shown: a short hash of their owner id (never the id, a browser's secret)."""
    return f"student {hashlib.sha256(owner.encode()).hexdigest()[:6]}" if owner else "nobody (the command line)"


def shown_name(owner: str, people: Mapping[str, Person]) -> str:
    """``owner``'s short name, else ``anonymous(owner)``."""
    person = people.get(owner)
    return person.name if person is not None and person.name else anonymous(owner)


def boards(runs: Iterable[RunInfo]) -> list[tuple[str, str]]:
    """The (data set, primary metric) pairs that runs with a best value have, most runs first: a leaderboard each."""
    counts: dict[tuple[str, str], int] = {}
    for r in runs:
        if r.best is not None and r.owner:
            counts[(r.dataset, r.metric)] = counts.get((r.dataset, r.metric), 0) + 1
    return sorted(counts, key=lambda k: (-counts[k], k))


def leaderboard(runs: Iterable[RunInfo], people: Mapping[str, Person], dataset: str, metric: str) -> list[Standing]:
    """The best validation ``metric`` on ``dataset`` of each student who opted in (``Person.on_board``), best first
    (the metric says whether higher is better); one line per student, from their best run."""
    best: dict[str, RunInfo] = {}
    for r in runs:
        if r.dataset != dataset or r.metric != metric or r.best is None or not r.owner:
            continue
        if not people.get(r.owner, Person()).on_board:
            continue
        held = best.get(r.owner)
        if held is None or (r.best > held.best if r.higher_is_better else r.best < held.best):
            best[r.owner] = r
    order = sorted(best.items(), key=lambda kv: -kv[1].best if kv[1].higher_is_better else kv[1].best)
    return [Standing(shown_name(owner, people), r.id, r.name, r.best) for owner, r in order]
