"""``engine.units``: shapes, counts, bytes, times and plurals, written one way everywhere."""

from engine.units import format_bytes, format_count, format_duration, format_seconds, format_shape, plural


def test_formats():
    assert format_shape((64, 56, 56)) == "64×56×56" and format_shape(None) == "—" and format_shape(()) == ""
    assert format_count(61706) == "61.7K" and format_count(4089184256) == "4.09G" and format_count(12) == "12"
    assert format_bytes(1023) == "1023 B" and format_bytes(2048) == "2.0 KB" and format_bytes(3 * 1024**3) == "3.0 GB"
    assert format_seconds(75) == "1:15" and format_seconds(3725) == "1:02:05" and format_seconds(float("nan")) == "—"
    assert plural(1, "layer") == "1 layer" and plural(2, "layer") == "2 layers" and plural(0, "class", "classes") == \
        "0 classes"


def test_durations_read_as_words():
    assert format_duration(6.44) == "6.4 s" and format_duration(12.4) == "12 s" and format_duration(59.6) == "1 min"
    assert format_duration(125) == "2 min 5 s" and format_duration(7260) == "2 h 1 min"
    assert format_duration(3600) == "1 h"
    assert format_duration(None) == "—" and format_duration(-1) == "—"
