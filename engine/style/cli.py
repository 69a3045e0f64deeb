"""The CLI's ``style`` command (``python -m engine style CONTENT STYLE --out OUT.png``): the page's optimisation, or
fast mode, from a shell. CONTENT and STYLE are image files, or the names of bundled photos and artworks, so it works
offline with nothing to download. Registered by ``engine.__main__``, which passes its error type."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

import numpy as np

BAD_INPUT = (ValueError, FileNotFoundError)


def add_parser(commands: argparse._SubParsersAction, error: type[Exception]) -> None:
    """Add ``style`` to the CLI's commands; user errors are raised as ``error`` (the CLI prints them, exits 2)."""
    from engine.device import CHOICES
    from engine.media.images import SAMPLE_IMAGES
    from engine.style.artworks import ARTWORKS
    from engine.style.backbones import BACKBONES
    from engine.style.optimise import INITS, OPTIMIZERS

    p = commands.add_parser(
        "style", help="neural style transfer: CONTENT in the style of STYLE",
        description="Optimise an image so that its activations in a pretrained network match CONTENT's at one layer "
                    "and its Gram matrices match STYLE's at several: J = alpha * J_content + beta * J_style "
                    "(docs/style.md). With --fast, one pass of a feed-forward network instead. CONTENT and STYLE are "
                    f"image files or names: photos {', '.join(SAMPLE_IMAGES)}; artworks {', '.join(ARTWORKS)}.")
    p.add_argument("content", metavar="CONTENT", help="an image file, or a bundled photo or artwork name")
    p.add_argument("style", metavar="STYLE", help="an image file, or a bundled photo or artwork name")
    p.add_argument("--out", required=True, type=Path, metavar="OUT.png", help="where to write the result (PNG)")
    p.add_argument("--alpha", type=float, default=10.0, help="the content cost's weight α (default 10)")
    p.add_argument("--beta", type=float, default=40.0, help="the style cost's weight β (default 40)")
    p.add_argument("--steps", type=int, default=100, metavar="N", help="optimisation steps (default 100)")
    p.add_argument("--size", type=int, default=192, metavar="PX", help="the result's longer side (default 192)")
    p.add_argument("--optimizer", default="adam", choices=OPTIMIZERS)
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: adam 0.02, lbfgs 1)")
    p.add_argument("--init", default="content", choices=list(INITS), help="what G starts from")
    p.add_argument("--backbone", default="efficientnet_lite0", choices=BACKBONES.names())
    p.add_argument("--content-layer", metavar="NAME", help="the content layer (default: the backbone's)")
    p.add_argument("--style-layers", metavar="NAME:W,...", help="style layers and weights λ, e.g. 'stem:0.5,block "
                                                                "4:0.5' (default: the backbone's five, 0.2 each)")
    p.add_argument("--allow-download", action="store_true", help="let VGG-19's weights be downloaded (548 MB)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", choices=CHOICES)
    p.add_argument("--fast", action="store_true", help="fast mode: one pass of the ONNX networks, no optimisation")
    p.add_argument("--json", action="store_true", help="print one JSON object at the end (progress on stderr)")
    p.set_defaults(run=lambda args: _run(args, error))


def load_picture(name_or_path: str, size: int = 512) -> np.ndarray:
    """An image file (decoded safely), else a bundled photo, else an artwork, as ``(H, W, 3)`` uint8."""
    from engine.media.images import SAMPLE_IMAGES, decode_upload, sample_image, to_uint8
    from engine.style.artworks import ARTWORKS, artwork

    path = Path(name_or_path)
    if path.is_file():
        try:
            return to_uint8(decode_upload(path.read_bytes()))
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None
    if name_or_path in SAMPLE_IMAGES:
        return to_uint8(sample_image(name_or_path, None, gray=False))
    if name_or_path in ARTWORKS:
        return to_uint8(artwork(name_or_path, size))
    raise FileNotFoundError(f"{name_or_path!r} is neither an image file nor a bundled picture; photos: "
                            f"{', '.join(SAMPLE_IMAGES)}; artworks: {', '.join(ARTWORKS)}")


def _style_layers(text: str | None) -> tuple[tuple[str, float], ...] | None:
    if text is None:
        return None
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, weight = part.rpartition(":") if ":" in part else (part, "", "1")
        try:
            out.append((name.strip(), float(weight)))
        except ValueError:
            raise ValueError(f"--style-layers: {part!r} is not NAME:WEIGHT (e.g. 'block 4:0.2')") from None
    return tuple(out)


def _run(args: argparse.Namespace, error: type[Exception]) -> int:
    from PIL import Image

    say = (lambda text: print(text, file=sys.stderr)) if args.json else print  # noqa: E731 - one-line sink
    try:
        content, style = load_picture(args.content), load_picture(args.style)
        if args.fast:
            result, summary = _fast(content, style, args)
        else:
            result, summary = _optimise(content, style, args, say)
    except BAD_INPUT as e:
        raise error(str(e)) from None
    if result is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(result).save(args.out, format="PNG")
        summary["out"] = str(args.out)
    if args.json:
        print(json.dumps(summary, indent=2, allow_nan=False))
    else:
        say(summary["message"])
    if summary["status"] == "failed":
        print(f"error: {summary['reason']}", file=sys.stderr)
        return 1
    return 0


def _fast(content: np.ndarray, style: np.ndarray, args: argparse.Namespace) -> tuple[np.ndarray, dict]:
    import time

    from engine.media.images import to_uint8
    from engine.style.fast import FastModeUnavailableError, FastStyler
    from engine.style.optimise import image_tensor, picture

    try:
        styler = FastStyler()
    except (FastModeUnavailableError, ImportError) as e:
        raise ValueError(str(e)) from None
    small = picture(image_tensor(to_uint8(content), args.size))  # the same output size as the optimisation's
    start = time.perf_counter()
    out = styler.stylise(small, style)
    seconds = time.perf_counter() - start
    h, w = out.shape[:2]
    return out, {"status": "finished", "mode": "fast", "size": [h, w], "seconds": round(seconds, 3),
                 "device": styler.device, "message": f"fast mode: {w}×{h} in {seconds:.2f} s on {styler.device}"}


def _optimise(content: np.ndarray, style: np.ndarray, args: argparse.Namespace, say) -> tuple[np.ndarray | None, dict]:
    from engine.style.optimise import StyleConfig, StyleStep, stylise
    from engine.units import format_seconds

    config = StyleConfig(alpha=args.alpha, beta=args.beta, content_layer=args.content_layer,
                         style_layers=_style_layers(args.style_layers), backbone=args.backbone, steps=args.steps,
                         optimizer=args.optimizer, lr=args.lr, init=args.init, size=args.size, seed=args.seed,
                         device=args.device, preview_every=args.steps).validated()
    every = max(1, args.steps // 10)

    def progress(e: StyleStep) -> None:
        if e.step % every == 0 or e.step == e.steps:
            say(f"step {e.step}/{e.steps}  J {e.total:.4g}  content {e.content:.4g}  style {e.style:.4g}  "
                f"{format_seconds(e.seconds)}")

    stop = threading.Event()
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set()) if main else None  # Ctrl-C: stop, keep G
    try:
        r = stylise(content, style, config, on_step=progress, stop=stop, allow_download=args.allow_download)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    last = r.last
    summary = {"status": r.status, "reason": r.reason, "mode": "optimise", "config": config.to_dict(),
               "steps": last.step if last else 0, "seconds": round(r.seconds, 3),
               "steps_per_second": round(r.steps_per_second, 3), "device": r.device, "weights": r.source,
               "first": r.history[0].costs() if r.history else None, "last": last.costs() if last else None,
               "size": list(r.image.shape[:2]) if r.image is not None else None}
    if last is not None:
        summary["message"] = (f"{r.status}: J {r.history[0].total:.4g} -> {last.total:.4g} after {last.step} steps "
                              f"on {r.device}, {r.steps_per_second:.2f} steps/s")
    else:
        summary["message"] = f"{r.status}: {r.reason}"
    return r.image, summary
