"""One registry for every named thing: layer kinds, presets and their weights, data sets, filters, sample images, tasks.

After timm's ``register_model`` / ``list_models`` (``timm/models/_registry.py``) and torchvision's builder registry
(``torchvision/models/_api.py``): entries are added once under a unique name, in the order they are registered (the
order menus show), with optional tags; ``names()`` lists them with a glob pattern, tags or a predicate; an unknown name
is a ``ValueError`` that lists the valid ones. A registry is filled at import time and only read afterwards, so it
needs no lock.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Named entries of one kind (``what`` names the kind in messages: "layer kind", "data set", ...)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._entries: dict[str, T] = {}
        self._tags: dict[str, frozenset[str]] = {}

    def __repr__(self) -> str:
        return f"Registry({self.what!r}, {len(self)} entries)"

    def add(self, name: str, entry: T, *, tags: Iterable[str] = ()) -> T:
        """Register ``entry`` under ``name``; returns it. ``ValueError`` when the name is taken or not a string."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"a {self.what} needs a non-empty name, got {name!r}")
        if name in self._entries:
            raise ValueError(f"{self.what} {name!r} is already registered ({self._entries[name]!r})")
        self._entries[name] = entry
        self._tags[name] = frozenset(tags)
        return entry

    def register(self, name: str | Callable[[T], str] | None = None, *, tags: Iterable[str] = ()
                 ) -> Callable[[T], T]:
        """A decorator: ``@REG.register("lenet5")`` registers the decorated object under that name; with no name (or
        a function of the object) the name is the object's ``__name__`` (or that function's result)."""

        def decorate(entry: T) -> T:
            key = name(entry) if callable(name) else name if name is not None else getattr(entry, "__name__", None)
            self.add(key, entry, tags=tags)
            return entry

        return decorate

    def get(self, name: str) -> T:
        """The entry ``name``; ``ValueError`` naming the valid ones otherwise."""
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise ValueError(f"unknown {self.what} {name!r}; choose one of {', '.join(self._entries)}") from None

    __getitem__ = get

    def tags(self, name: str) -> frozenset[str]:
        self.get(name)
        return self._tags[name]

    def names(self, pattern: str | None = None, *, tags: Iterable[str] = (),
              where: Callable[[T], bool] | None = None) -> list[str]:
        """Names in registration order, keeping those that match the glob ``pattern``, carry every tag in ``tags``
        and satisfy ``where(entry)``."""
        need = frozenset(tags)
        return [n for n, e in self._entries.items()
                if (pattern is None or fnmatch.fnmatchcase(n, pattern)) and need <= self._tags[n]
                and (where is None or where(e))]

    def items(self) -> list[tuple[str, T]]:
        return list(self._entries.items())

    def values(self) -> list[T]:
        return list(self._entries.values())

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)
