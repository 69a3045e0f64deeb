"""The loop over windows and the convolutional form side by side, on one classifier, one image and one window size:
both score maps, how many forward passes each took and how long, the speed-up, and whether the maps agree — and if
not, why (course notes 1.3.4; Sermanet et al., OverFeat, 2014). What the page's first tab shows, and what
``bench/bench_sliding.py`` measures on a fixed case."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from engine.data import Normalization
from engine.detection.sliding import (
    Agreement,
    ScoreMap,
    agreement,
    convolutional_windows,
    convolutionalize,
    differences,
    sliding_windows,
)
from engine.nets.build import Network

BUDGET_S = 0.5  # time a way again, up to REPEATS runs, while its runs so far took less than this in all
REPEATS = 3


@dataclass(frozen=True)
class Comparison:
    """``loop``: one pass per window; ``conv``: the convolutional form's one pass (None when the classifier cannot
    be converted: ``conv_error`` says why), made by ``network``; each map's ``seconds`` is its best of a few runs.
    ``agreement`` of the maps on the windows both computed; ``reasons`` why their values may differ (none: equal to
    float rounding)."""

    loop: ScoreMap
    conv: ScoreMap | None
    agreement: Agreement | None
    reasons: tuple[str, ...]
    conv_error: str = ""
    network: Network | None = None  # the convolutional form, for more window sizes

    @property
    def speedup(self) -> float | None:
        """How many times faster the convolutional form computed its map than the loop computed its own."""
        if self.conv is None or self.conv.seconds <= 0:
            return None
        return self.loop.seconds / self.conv.seconds

    @property
    def exact(self) -> bool:
        """Whether the two maps compute the same windows in the same way (they are then equal to float rounding)."""
        return self.conv is not None and not self.reasons and self.agreement is not None and \
            self.agreement.step == 1


def compare(model: Network, image: torch.Tensor, window: int, stride: int, stats: Normalization | None,
            input_shape: tuple[int, int, int] | None = None) -> Comparison:
    """Score ``image`` (``(C, H, W)`` uint8) with ``window``-pixel windows both ways: the loop ``stride`` pixels
    apart, the convolutional form on its own grid. Each way is timed at its best of up to ``REPEATS`` runs (fewer
    when one run is slow)."""
    input_shape = tuple(input_shape or model.spec.input)
    loop = _best(lambda: sliding_windows(model, image, window, stride, stats, input_shape))
    try:
        fcn = convolutionalize(model)
    except ValueError as e:
        return Comparison(loop, None, None, (), str(e))
    conv = _best(lambda: convolutional_windows(fcn, image, window, stats, input_shape))
    return Comparison(loop, conv, agreement(loop, conv), tuple(differences(model.spec, window)), network=fcn)


def _best(run: Callable[[], ScoreMap]) -> ScoreMap:
    """The fastest of up to ``REPEATS`` runs, stopping once the runs took ``BUDGET_S`` in all."""
    best, spent = None, 0.0
    for _ in range(REPEATS):
        start = time.perf_counter()
        m = run()
        spent += time.perf_counter() - start
        if best is None or m.seconds < best.seconds:
            best = m
        if spent >= BUDGET_S:
            break
    return best
