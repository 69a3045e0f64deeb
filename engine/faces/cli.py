"""The CLI's ``verify`` command (``python -m engine verify IMAGE_A IMAGE_B [--backend B] [--threshold T] [--json]``):
are the faces of two picture files the same person? Prints the distance, the threshold and the decision (exit status
0 either way); a picture without a usable face, or with several and no ``--pick-a``/``--pick-b``, exits 2 with the
reason.
Registered by ``engine.__main__``, which passes its error type."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_parser(commands: argparse._SubParsersAction, error: type[Exception]) -> None:
    """Add ``verify`` to the CLI's commands; user errors are raised as ``error`` (the CLI prints them, exits 2)."""
    from engine.faces.backend import BACKENDS, METRICS

    p = commands.add_parser(
        "verify", help="face verification: are two pictures the same person?",
        description="Find one face in each picture, embed both with a pretrained network (dlib's 128-d ResNet, "
                    "offline; or MTCNN detection with dlib's ResNet; or FaceNet, given its weights) and compare the "
                    "distance between the embeddings with a threshold: below it, the same "
                    "person (docs/faces.md).")
    p.add_argument("image_a", metavar="IMAGE_A", type=Path, help="a picture file (PNG, JPEG, ...)")
    p.add_argument("image_b", metavar="IMAGE_B", type=Path, help="another picture file")
    p.add_argument("--threshold", type=float, metavar="T",
                   help="the same person below this distance (default: the backend's for the distance, dlib 0.6)")
    p.add_argument("--metric", choices=METRICS, default=None, help="the distance (default: the backend's)")
    p.add_argument("--backend", choices=BACKENDS.names(), default="dlib",
                   help="dlib (default): dlib's detector, alignment and ResNet; mtcnn: MTCNN detection and alignment, "
                        "dlib's ResNet; facenet: MTCNN and FaceNet's Inception-ResNet-v1 (its weights in "
                        "$CNNPG_WEIGHTS_DIR or torch's cache, or --allow-download)")
    p.add_argument("--detector", choices=("hog", "cnn"), default=None, help="dlib's face detector (default hog)")
    p.add_argument("--allow-download", action="store_true",
                   help="with --backend facenet: download its weights (107 MB) when they are not here, verified by "
                        "SHA-256")
    p.add_argument("--pick-a", type=int, metavar="N", help="the face of IMAGE_A to use when it has several "
                                                            "(1 = the leftmost)")
    p.add_argument("--pick-b", type=int, metavar="N", help="the same for IMAGE_B")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.set_defaults(run=lambda args: _run(args, error))


def _run(args: argparse.Namespace, error: type[Exception]) -> int:
    from engine.faces.backend import backend
    from engine.faces.pipeline import read_image
    from engine.faces.verify import verify

    try:
        if args.threshold is not None and not args.threshold > 0:
            raise ValueError(f"--threshold must be a positive number, got {args.threshold}")
        if args.detector is not None and args.backend != "dlib":
            raise ValueError(f"--detector is dlib's; the {args.backend} backend detects with MTCNN")
        if args.backend == "facenet" and args.allow_download:
            from engine.faces import facenet

            try:
                facenet.locate(allow_download=True)
            except FileNotFoundError as e:
                raise ValueError(str(e)) from None
        faces = (backend("dlib", detector=args.detector or "hog") if args.backend == "dlib"
                 else backend(args.backend))
        a = read_image(args.image_a)
        b = read_image(args.image_b)
        result = verify(a, b, faces, args.threshold, args.metric, args.pick_a, args.pick_b)
    except ValueError as e:
        raise error(str(e)) from None
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        sign = "<" if result.same else "≥"
        print(f"{result.decision}: distance {result.distance:.3f} {sign} threshold {result.threshold:g} "
              f"({result.metric}, {result.backend})")
    return 0
