"""``engine.registry``: unique names, registration order, filtering, and messages that list what is valid."""

from __future__ import annotations

import pytest

from engine.registry import Registry


def test_entries_keep_their_order_and_names_are_unique():
    reg: Registry[int] = Registry("number")
    reg.add("two", 2, tags=("even",))
    reg.add("one", 1)
    reg.add("four", 4, tags=("even", "square"))
    assert reg.names() == ["two", "one", "four"] and list(reg) == reg.names() and len(reg) == 3
    assert reg.get("one") == 1 and reg["four"] == 4 and "two" in reg and "three" not in reg
    with pytest.raises(ValueError, match="number 'one' is already registered"):
        reg.add("one", 11)
    with pytest.raises(ValueError, match="needs a non-empty name"):
        reg.add("", 0)


def test_unknown_names_list_the_valid_ones():
    reg: Registry[str] = Registry("data set")
    reg.add("digits", "d")
    reg.add("shapes", "s")
    with pytest.raises(ValueError, match=r"unknown data set 'mnist'; choose one of digits, shapes"):
        reg.get("mnist")
    with pytest.raises(ValueError, match="unknown data set"):
        reg.get(["not", "hashable"])  # type: ignore[arg-type]


def test_names_filter_by_pattern_tags_and_predicate():
    reg: Registry[int] = Registry("number")
    for n in range(1, 7):
        reg.add(f"n{n}", n, tags={"even"} if n % 2 == 0 else set())
    assert reg.names("n[1-3]") == ["n1", "n2", "n3"]
    assert reg.names(tags=["even"]) == ["n2", "n4", "n6"]
    assert reg.names(where=lambda v: v > 4) == ["n5", "n6"]
    assert reg.names("n*", tags=["even"], where=lambda v: v < 5) == ["n2", "n4"]
    assert reg.tags("n4") == {"even"}


def test_the_decorator_registers_under_a_name_or_the_object_s_own():
    reg: Registry = Registry("builder")

    @reg.register()
    def lenet5():
        return "lenet"

    @reg.register("alex", tags=["imagenet"])
    def alexnet():
        return "alex"

    @reg.register(lambda cls: cls.kind)
    class Conv:
        kind = "conv2d"

    assert reg.names() == ["lenet5", "alex", "conv2d"] and reg["alex"] is alexnet and reg["conv2d"] is Conv
    assert lenet5() == "lenet" and reg.names(tags=["imagenet"]) == ["alex"]
