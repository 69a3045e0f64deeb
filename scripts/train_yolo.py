"""Train the bundled YOLO detector of the generated multi-object scenes, reproducibly (docs/detection.md "YOLO",
docs/assets.md).

    .venv/bin/python scripts/train_yolo.py [--epochs 20] [--train 2000] [--out weights/yolo_scenes]

The same arguments give the same weights on the same device type (seeded data, initial weights and batch order;
the one training loop). Writes ``model.safetensors`` (the state dict) and ``meta.json`` (the task with its grid and
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


def main(argv: list[str] | None = None) -> int:
    from safetensors.torch import save_file

    from engine.data import load_dataset
    from engine.data.registry import multi_scenes
    from engine.data.types import ImageSet, LoadedData
    from engine.detection.detect import Detect
    from engine.training.config import TrainConfig
    from engine.training.evaluate import evaluate
    from engine.training.events import Callback, EpochEvent
    from engine.training.loop import fit

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--train", type=int, default=2000, help="training scenes (at most 2000)")
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--out", type=Path, default=ROOT / "weights" / "yolo_scenes")
    args = p.parse_args(argv)

    full = load_dataset("multi_scenes", seed=args.seed, max_train=args.train)
    val = ImageSet(full.val.images[:VAL], full.val.targets.subset(range(VAL)))
    data = LoadedData(replace(full.card, val_size=VAL), full.train, val)
    task = Detect()
    spec = task.ready_spec(data.card)
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
        "command": f"scripts/train_yolo.py --epochs {args.epochs} --train {args.train} --lr {args.lr} "
                   f"--batch-size {args.batch_size} --seed {args.seed}",
        "trained": {"data": "multi_scenes", "seed": args.seed, "scenes": len(data.train), "epochs": args.epochs,
                    "lr": args.lr, "batch_size": args.batch_size, "device": result.device,
                    "seconds": round(time.time() - start)},
        "held_out": {"scenes": HELD_OUT, "part": 2, "map50": ev.metrics["map50"], "map": ev.metrics["map"],
                     "per_class_ap": {data.card.classes[k]: v for k, v in ev.per_class.items()}},
    }
    (args.out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    print(f"held-out mAP@0.5 {ev.metrics['map50']:.3f}, mAP@0.5:0.95 {ev.metrics['map']:.3f}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
