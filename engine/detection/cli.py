"""The CLI's ``detect`` command (``python -m engine detect IMAGE``): the boxes, classes and scores the bundled YOLO
detector (or a detection run of the store) finds in an image file, after the score filter and NMS
(``engine.detection.detectors``). The file is decoded safely with the uploads' caps (``engine.media.images``).
Registered by ``engine.__main__``, which passes its error type."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.detection import yolo


def add_parser(commands: argparse._SubParsersAction, error: type[Exception]) -> None:
    """Add ``detect`` to the CLI's commands; user errors are raised as ``error`` (the CLI prints them, exits 2)."""
    p = commands.add_parser(
        "detect", help="boxes, classes and scores of the objects in an image",
        description="Detect objects in an image with the bundled YOLO detector of the generated scenes (circles, "
                    "squares, triangles, crosses), or with a detection run (--run): every box of the grid, then the "
                    "score filter (--conf), non-maximum suppression (--iou, per class or class-agnostic) and at "
                    "most --max-boxes. Boxes are x1 y1 x2 y2 in the image's pixels (docs/detection.md).")
    p.add_argument("image", metavar="IMAGE", help="an image file (PNG, JPEG, GIF, BMP, WebP or TIFF)")
    p.add_argument("--conf", type=float, default=None, metavar="S",
                   help="score threshold: keep boxes scoring at least S (default: the detector's, 0.6)")
    p.add_argument("--iou", type=float, default=None, metavar="T",
                   help="NMS IoU threshold: suppress boxes overlapping a better one by more than T (default 0.5)")
    p.add_argument("--max-boxes", type=int, default=yolo.MAX_BOXES, metavar="N",
                   help=f"keep at most N boxes (default {yolo.MAX_BOXES})")
    nms = p.add_mutually_exclusive_group()
    nms.add_argument("--per-class", dest="per_class", action="store_true", default=True,
                     help="NMS within each class only (the default)")
    nms.add_argument("--agnostic", dest="per_class", action="store_false",
                     help="class-agnostic NMS: any better box suppresses an overlapping one")
    p.add_argument("--run", dest="run_id", metavar="RUN", help="a detection run's id (default: the bundled detector)")
    p.add_argument("--runs-dir", type=Path, metavar="DIR", help="the runs folder (default: $CNNPG_RUNS_DIR or ./runs)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=lambda args: _run(args, error))


def read_image(path: Path):  # noqa: ANN201 - numpy array, imported lazily
    """The image file at ``path``, decoded safely (``decode_upload``: byte and pixel caps, formats, EXIF); errors as
    ``ValueError`` naming the file."""
    from engine.media.images import MAX_UPLOAD_BYTES, decode_upload

    if not path.exists():
        raise ValueError(f"{path}: no such file")
    if not path.is_file():
        raise ValueError(f"{path}: not a file")
    try:
        size = path.stat().st_size
        if size > MAX_UPLOAD_BYTES:  # said before reading it all
            raise ValueError(f"the file is {size / 1024 / 1024:.1f} MiB; the limit is "
                             f"{MAX_UPLOAD_BYTES / 1024 / 1024:.1f} MiB")
        data = path.read_bytes()
        return decode_upload(data)
    except OSError as e:
        raise ValueError(f"{path}: cannot read it: {e.strerror or e}") from None
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None


def _run(args: argparse.Namespace, error: type[Exception]) -> int:
    from engine.detection.detectors import bundled_detector, check_thresholds, detect_image, run_detector

    try:
        check_thresholds(0.0 if args.conf is None else args.conf, 0.0 if args.iou is None else args.iou,
                         args.max_boxes)
        image = read_image(Path(args.image))
        if args.run_id is None:
            detector = bundled_detector()
        else:
            from engine.training.runs import RunStore

            detector = run_detector(RunStore(args.runs_dir), args.run_id)
        found = detect_image(detector, image, args.conf, args.iou, args.max_boxes, args.per_class)
    except (ValueError, FileNotFoundError) as e:  # RunError and CheckpointError are ValueErrors too
        raise error(str(e)) from None
    if args.json:
        print(json.dumps({"image": str(args.image), "detector": detector.title, **found.to_dict()}, indent=2))
        return 0
    print(f"{args.image}: {found.width}×{found.height}, {detector.title}; score ≥ {found.score_threshold:g}, NMS IoU > "
          f"{found.iou_threshold:g} {'per class' if found.per_class else 'class-agnostic'}: {len(found)} "
          f"box{'es' if len(found) != 1 else ''}")
    for b in found.to_dict()["boxes"]:
        x1, y1, x2, y2 = b["box"]
        print(f"  {b['class']:<12} {b['score']:.3f}  {x1:7.1f} {y1:7.1f} {x2:7.1f} {y2:7.1f}")
    sys.stdout.flush()
    return 0
