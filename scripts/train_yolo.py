"""Train the bundled YOLO detector of the generated multi-object scenes, reproducibly (docs/detection.md "YOLO",
docs/assets.md).

    .venv/bin/python scripts/train_yolo.py [--epochs 20] [--train 2000] [--width 1] [--out weights/yolo_scenes]

The same arguments give the same weights on the same device type (seeded data, initial weights and batch order;
the one training loop). ``--train`` may go beyond the data set's 2,000 training scenes: the scenes are drawn by
seed, so more of part 0 are generated (what lifts the held-out mAP: docs/detection.md "YOLO"); ``--width``
multiplies the channels of ``Detect.ready_spec``'s hidden convolutions; ``--threads 1`` is the fastest on a CPU that
other work shares. Writes ``model.safetensors`` (the state dict) and ``meta.json`` (the task with its grid and
anchors, the network spec, the input statistics, the classes, the command and the mAP on held-out scenes: part 2 of
the "multi_scenes" seed, never trained or validated on).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HELD_OUT = 400  # held-out scenes measured at the end
VAL = 100  # validation scenes measured after every epoch (mAP over more costs seconds per epoch on a CPU)
MAX_TRAIN = 50_000  # training scenes at most (about 1.4 GB of uint8 96×96 images)


def main(argv: list[str] | None = None) -> int:
    from safetensors.torch import save_file

    from engine.data.registry import MULTI_VAL, dataset_card, multi_scenes
    from engine.data.types import ImageSet, LoadedData
    from engine.detection.detect import Detect
    from engine.training.config import TrainConfig
    from engine.training.evaluate import evaluate
    from engine.training.events import Callback, EpochEvent
    from engine.training.loop import fit

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--train", type=int, default=2000, help=f"training scenes (at most {MAX_TRAIN})")
    p.add_argument("--width", type=float, default=1.0, help="multiplies the hidden convolutions' channels")
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="CPU threads for torch (default: torch's); 1 is the fastest on a CPU shared with other work")
    p.add_argument("--out", type=Path, default=ROOT / "weights" / "yolo_scenes")
    args = p.parse_args(argv)
    if not 1 <= args.train <= MAX_TRAIN:
        p.error(f"--train must be from 1 to {MAX_TRAIN} scenes, got {args.train}")
    if not 0.25 <= args.width <= 4:
        p.error(f"--width must be from 0.25 to 4, got {args.width}")
    if args.threads is not None:
        if args.threads < 1:
            p.error(f"--threads must be a positive integer, got {args.threads}")
        import torch

        torch.set_num_threads(args.threads)

    val = multi_scenes(MULTI_VAL, args.seed, 1)  # the data set's validation part; its first VAL measured each epoch
    val = ImageSet(val.images[:VAL], val.targets.subset(range(VAL)))
    card = replace(dataset_card("multi_scenes"), train_size=args.train, val_size=VAL)
    data = LoadedData(card, multi_scenes(args.train, args.seed, 0), val)
    task = Detect()
    spec = widened(task.ready_spec(data.card), args.width)
    config = TrainConfig(task=task, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, schedule="onecycle",
                         seed=args.seed, device=args.device)

    class Say(Callback):
        def on_epoch_end(self, e: EpochEvent) -> None:
            print(f"epoch {e.epoch}/{args.epochs}: train loss {e.train['loss']:.3f}, val loss {e.val['loss']:.3f}, "
                  f"val mAP@0.5 {e.val['map50']:.3f}, {e.seconds:.0f} s", flush=True)

    start = time.time()
    result = fit(spec, data, config, callbacks=[Say()])
    if result.status != "finished":
        print(f"error: training {result.status}: {result.reason}", file=sys.stderr)
        return 1
    held = multi_scenes(HELD_OUT, args.seed, 2)
    ev = evaluate(result.model, held, result.stats, task=task)
    args.out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in result.model.state_dict().items()}
    save_file(state, str(args.out / "model.safetensors"))
    meta = {
        "format": "cnnpg-yolo-1", "task": task.to_dict(), "spec": json.loads(spec.to_json()),
        "stats": {"mean": list(result.stats.mean), "std": list(result.stats.std)}, "classes": list(data.card.classes),
        "input_shape": list(data.card.image_shape),
        "command": f"scripts/train_yolo.py --epochs {args.epochs} --train {args.train} --width {args.width:g} "
                   f"--lr {args.lr} --batch-size {args.batch_size} --seed {args.seed}"
                   + (f" --threads {args.threads}" if args.threads else ""),
        "trained": {"data": "multi_scenes", "seed": args.seed, "scenes": len(data.train), "epochs": args.epochs,
                    "width": args.width,
                    "lr": args.lr, "batch_size": args.batch_size, "device": result.device,
                    "seconds": round(time.time() - start)},
        "held_out": {"scenes": HELD_OUT, "part": 2, "map50": ev.metrics["map50"], "map": ev.metrics["map"],
                     "per_class_ap": {data.card.classes[k]: v for k, v in ev.per_class.items()}},
    }
    (args.out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    print(f"held-out mAP@0.5 {ev.metrics['map50']:.3f}, mAP@0.5:0.95 {ev.metrics['map']:.3f}; wrote {args.out}")
    return 0


def widened(spec, width: float):  # noqa: ANN001, ANN201 - NetworkSpec, imported in main
    """``spec`` with every convolution but the last (the head) ``width`` times as many channels (at least 1)."""
    import dataclasses

    from engine.nets.kinds.conv import Conv2d

    if width == 1:
        return spec
    convs = [i for i, layer in enumerate(spec.layers) if isinstance(layer, Conv2d)]
    layers = list(spec.layers)
    for i in convs[:-1]:
        layers[i] = dataclasses.replace(layers[i], out_channels=max(1, round(layers[i].out_channels * width)))
    return dataclasses.replace(spec, layers=tuple(layers))


if __name__ == "__main__":
    sys.exit(main())
