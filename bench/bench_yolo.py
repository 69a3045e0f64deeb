"""The bundled YOLO detector per frame on the CPU, and the engine's NMS against torchvision's alone (issue 12).

Per frame, end to end as ``python -m engine detect`` runs it (``engine.detection.detectors.detect_image`` with the
bundled detector; the page's ``frames.detect_picture`` does the same work): the frame's centred square adapted to the
network's 96×96 input (resized, normalised), the network, the
grid decoded to boxes (``yolo.decode``), the score filter and per-class NMS (``yolo.select``); on held-out scenes at
the input size, and on 640×480 frames (a webcam's, the scene scaled up: the resize is part of the work). Prints the
median latency, frames/s against the camera's 30 fps, and each stage's share (the network, decoding, the filter and
NMS). Then the engine's NMS stage (``yolo.suppress``, which ``yolo.select`` — the function the page calls per frame —
runs after the score filter) against ``torchvision.ops.batched_nms`` alone on the same boxes (those passing the score
filter), and the whole ``yolo.select`` against the same steps written plainly with torchvision, trials alternated, at
the course's score threshold (0.6) and at 0.01 (every box of the grid near it). Targets: ≥ 30 frames/s at 640×480 on the
CPU; the engine's NMS ≤ 1.1× torchvision's alone.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torchvision.ops import batched_nms

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.data.loader import adapt_batch  # noqa: E402
from engine.data.registry import multi_scenes  # noqa: E402
from engine.detection import yolo  # noqa: E402
from engine.detection.detectors import bundled_detector, detect_image  # noqa: E402

FPS_TARGET = 30.0
NMS_TARGET = 1.1


def _median_ms(fn, items, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        for x in items:
            start = time.perf_counter()
            fn(x)
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def _frames(n: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    scenes = multi_scenes(n, 0, 2).images
    webcam = F.interpolate(scenes.float(), size=(480, 640), mode="bilinear", align_corners=False)
    return list(scenes), list(webcam.round().clamp(0, 255).to(torch.uint8))


def _stages(det, frames: list[torch.Tensor], repeats: int) -> dict[str, float]:
    """Median milliseconds of each stage on these frames."""
    side = det.input_shape[-1]
    adapted = [adapt_batch(det.square(f)[0], det.input_shape, det.stats) for f in frames]
    with torch.inference_mode():
        outputs = [det.model(a) for a in adapted]
    raws = [yolo.decode(o, det.grid, side) for o in outputs]

    def network(a: torch.Tensor) -> None:
        with torch.inference_mode():
            det.model(a)

    return {
        "square + resize + normalise": _median_ms(lambda f: adapt_batch(det.square(f)[0], det.input_shape, det.stats),
                                                  frames, repeats),
        "network": _median_ms(network, adapted, repeats),
        "decode": _median_ms(lambda o: yolo.decode(o, det.grid, side), outputs, repeats),
        "score filter + NMS": _median_ms(lambda r: yolo.select(r, 0), raws, repeats),
    }


def _nms_ratio(det, frames: list[torch.Tensor], score: float, repeats: int
               ) -> tuple[float, float, float, float, float]:
    """(engine NMS ms, torchvision ms, engine filter + NMS + gather ms, the same written plainly ms, boxes per frame
    on average): the engine's NMS stage (``yolo.suppress``) against ``batched_nms`` alone on the same boxes, and the
    whole ``yolo.select`` against the plain torchvision steps."""
    raws, passed = [], []
    for f in frames:
        raw = det.candidates(f)
        keep = raw.scores[0] >= score
        raws.append(raw)
        passed.append((raw.boxes[0][keep].contiguous(), raw.scores[0][keep].contiguous(),
                       raw.labels[0][keep].contiguous()))
    for raw, p in zip(raws, passed, strict=True):  # the same boxes kept, in the same order
        assert torch.equal(yolo.select(raw, 0, score).scores, p[1][_tv(p)][:yolo.MAX_BOXES])
    for p in passed:
        assert torch.equal(yolo.suppress(*p), _tv(p)[:yolo.MAX_BOXES])
    engine, reference, whole, plain = [], [], [], []
    for _ in range(repeats):  # alternated, so that all see the same load
        engine.append(_median_ms(lambda p: yolo.suppress(*p), passed, 1))
        reference.append(_median_ms(_tv, passed, 1))
        whole.append(_median_ms(lambda r: yolo.select(r, 0, score), raws, 1))
        plain.append(_median_ms(lambda r: _plain(r, score), raws, 1))
    return (statistics.median(engine), statistics.median(reference), statistics.median(whole),
            statistics.median(plain), sum(len(p[1]) for p in passed) / len(passed))


def _plain(raw: yolo.Raw, score: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The whole step written plainly with torchvision: the filter, batched_nms, the best boxes, their values."""
    keep = raw.scores[0] >= score
    b, s, k = raw.boxes[0][keep], raw.scores[0][keep], raw.labels[0][keep]
    kept = batched_nms(b, s, k, yolo.IOU_THRESHOLD)[:yolo.MAX_BOXES]
    return b[kept], s[kept], k[kept]


def _tv(p: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """torchvision's per-class NMS alone on boxes that passed the score filter."""
    return batched_nms(p[0], p[1], p[2], yolo.IOU_THRESHOLD)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="torch's CPU threads (the deployment's 2 cores)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    det = bundled_detector()
    scenes, webcam = _frames(args.frames)
    for f in webcam[:3]:
        detect_image(det, f)  # warm up
    print(f"bundled YOLO ({det.grid.size}×{det.grid.size} grid, {len(det.grid.anchors)} anchors, input "
          f"{det.input_shape[1]}×{det.input_shape[2]}), CPU, {torch.get_num_threads()} threads, {args.frames} frames "
          f"× {args.repeats}")
    ok = True
    for name, frames in (("96×96 scenes", scenes), ("640×480 frames", webcam)):
        total = _median_ms(lambda f: detect_image(det, f), frames, args.repeats)
        fps = 1000 / total
        stages = _stages(det, frames, args.repeats)
        parts = sum(stages.values())
        shares = ", ".join(f"{k} {v:.2f} ms ({v / parts:.0%})" for k, v in stages.items())
        print(f"  {name}: {total:.2f} ms per frame end to end = {fps:.0f} frames/s (target ≥ {FPS_TARGET:g}); "
              f"{shares}")
        if name.startswith("640") and fps < FPS_TARGET:
            ok = False
    for score in (yolo.SCORE_THRESHOLD, 0.01):
        engine, reference, whole, plain, boxes = _nms_ratio(det, scenes, score, args.repeats)
        ratio = engine / reference
        print(f"  NMS at score ≥ {score:g} ({boxes:.1f} boxes a frame after the filter): the engine's NMS "
              f"(yolo.suppress) {engine * 1000:.0f} µs, torchvision batched_nms alone on the same boxes "
              f"{reference * 1000:.0f} µs: {ratio:.2f}× (target ≤ {NMS_TARGET:g}×); the whole score filter + NMS + "
              f"gather (yolo.select) {whole * 1000:.0f} µs against the same written plainly {plain * 1000:.0f} µs: "
              f"{whole / plain:.2f}×")
        ok = ok and ratio <= NMS_TARGET
    print("met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
