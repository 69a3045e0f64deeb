"""Command line for the engine: ``python -m engine <command> ...``.

    python -m engine summary SPEC [--input C,H,W] [--json]   per-layer table (or JSON) of a network
    python -m engine codegen SPEC [--input C,H,W] [-o FILE]  standalone PyTorch source for it
    python -m engine train [--spec SPEC] --data NAME --epochs N [--task T] [--json] ...   train it, keep the run
                                                              (--ray ADDRESS: on a Ray cluster, docs/ray.md;
                                                              --from-run RUN: from a run's network and weights;
                                                              --grid S --anchors B: detection's grid and anchors;
                                                              --task embed --held-out 8,9: the One-shot lab's)
    python -m engine style CONTENT STYLE [--alpha 10] [--beta 40] [--steps N] [--size PX] --out OUT.png
                                                              neural style transfer (engine/style/cli.py)
    python -m engine detect IMAGE [--conf 0.6] [--iou 0.5] [--max-boxes N] [--agnostic] [--run RUN] [--json]
                                                              boxes, classes, scores (engine/detection/cli.py)
    python -m engine verify IMAGE_A IMAGE_B [--threshold T] [--json]
                                                              face verification (engine/faces/cli.py)

SPEC is a preset name (``lenet5``, ``resnet50``, ...) or the path of a JSON spec file. A spec that cannot be read or
has invalid layers exits with status 2 and says why on stderr, one line per problem. Each command is one
``_cmd_<name>(args) -> int`` registered in ``_parser``; adding one (``train``, ``detect`` ...) touches nothing else.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from pathlib import Path

from engine.nets.codegen import codegen
from engine.nets.presets import get_preset, preset_names
from engine.nets.spec import NetworkSpec, Shape, SpecError
from engine.nets.summary import Summary, summary
from engine.units import format_bytes, format_count, format_shape, plural

EXIT_BAD_INPUT = 2  # argparse's own status for a bad command line


class CliError(Exception):
    """A user error the CLI reports on stderr (no traceback) before exiting with ``EXIT_BAD_INPUT``."""


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except (CliError, SpecError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m engine", description="CNN Playground engine tools.")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    spec_args = argparse.ArgumentParser(add_help=False)
    spec_args.add_argument("spec", metavar="SPEC", help="a preset name (see 'summary --help') or a JSON spec file")
    spec_args.add_argument("--input", type=_shape_arg, metavar="C,H,W",
                           help="override the spec's input shape, e.g. 3,64,64")

    summary = commands.add_parser("summary", parents=[spec_args], help="per-layer table of a network",
                                  description=f"Per-layer summary: output shape, parameters, MACs, activation "
                                              f"memory and receptive field. Presets: {_preset_list()}.")
    summary.add_argument("--json", action="store_true", help="print the summary as JSON")
    summary.set_defaults(run=_cmd_summary)

    codegen = commands.add_parser("codegen", parents=[spec_args], help="standalone PyTorch source of a network",
                                  description="Write a standalone PyTorch module for the network; weights "
                                              "trained in the playground load into it.")
    codegen.add_argument("-o", "--output", type=Path, metavar="FILE", help="write to FILE instead of stdout")
    codegen.add_argument("--class-name", default="Net", help="the generated class's name (default: Net)")
    codegen.set_defaults(run=_cmd_codegen)
    _add_train_parser(commands)
    from engine.style.cli import add_parser as add_style_parser  # its own module: the command is its topic's

    add_style_parser(commands, CliError)
    from engine.detection.cli import add_parser as add_detect_parser

    add_detect_parser(commands, CliError)
    from engine.faces.cli import add_parser as add_verify_parser

    add_verify_parser(commands, CliError)
    return parser


# --------------------------------------------------------------------------------------------------- commands


def _cmd_summary(args: argparse.Namespace) -> int:
    result = summary(_load_spec(args.spec, args.input))
    if not result.ok:
        raise CliError("the network is invalid:\n" + "\n".join(f"  {e}" for e in result.errors))
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(_table(result))
    return 0


def _cmd_codegen(args: argparse.Namespace) -> int:
    try:
        source = codegen(_load_spec(args.spec, args.input), class_name=args.class_name)
    except SpecError as e:
        raise CliError(str(e).replace("\n", "\n  ")) from None
    except ValueError as e:  # a bad --class-name
        raise CliError(str(e)) from None
    if args.output is None:
        sys.stdout.write(source)
        return 0
    try:
        args.output.write_text(source, encoding="utf-8")
    except OSError as e:
        raise CliError(f"cannot write {args.output}: {e.strerror or e}") from None
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


def _add_train_parser(commands: argparse._SubParsersAction) -> None:
    from engine.data import dataset_names
    from engine.device import CHOICES
    from engine.training.config import OPTIMIZERS, SCHEDULES
    from engine.training.tasks import TASKS

    train = commands.add_parser(
        "train", help="train a network on a data set and keep the run",
        description="Train a network on a data set for a task (by default the data's: classification for class "
                    "folders and the named sets); the run (config, spec, metrics, checkpoint) is kept in the runs "
                    "folder. The images are adapted to the network's input (resized, channels converted) and its "
                    "output is fitted to the task (for classification: the last linear layer to the number of "
                    "classes); both are said.")
    train.add_argument("--spec", metavar="SPEC", help=f"a preset ({_preset_list()}) or a JSON spec file (default, for "
                                                      f"localise, landmarks and detect: the task's ready network)")
    train.add_argument("--input", type=_shape_arg, metavar="C,H,W", help="override the spec's input shape")
    train.add_argument("--data", required=True, metavar="NAME",
                       help=f"a named set ({', '.join(dataset_names())}) or the path of a zip of class folders")
    train.add_argument("--epochs", required=True, type=_positive_int, metavar="N")
    train.add_argument("--device", default="auto", choices=CHOICES)
    train.add_argument("--batch-size", type=_positive_int, default=64, metavar="B")
    train.add_argument("--lr", type=float, default=1e-3, help="learning rate (the peak one for onecycle)")
    train.add_argument("--optimizer", default="adam", choices=OPTIMIZERS)
    train.add_argument("--schedule", default="constant", choices=SCHEDULES)
    train.add_argument("--weight-decay", type=float, default=0.0)
    train.add_argument("--task", choices=TASKS.names(), help="what to learn (default: the data's task)")
    train.add_argument("--label-smoothing", type=float, default=None, help="classification's label smoothing ε")
    train.add_argument("--grid", type=_positive_int, metavar="S", help="detect: the grid's cells a side (default 6)")
    train.add_argument("--anchors", type=_positive_int, metavar="B", help="detect: B anchor boxes from k-means "
                       "(1 - IoU) on the training boxes (default: the task's 3)")
    train.add_argument("--held-out", type=_index_list, metavar="I,J", help="embed: classes of --data (digits, "
                       "mnist5k, fashion_mnist, mnist) kept out of training as identities never seen, as the One-shot "
                       "lab does (default: none)")
    train.add_argument("--margin", type=float, metavar="A", help="embed: the triplet loss's margin α (default 0.2)")
    train.add_argument("--mining", choices=("random", "semi-hard", "hard"), help="embed: how triplets are chosen "
                       "(default semi-hard)")
    train.add_argument("--from-run", metavar="RUN", help="start from a run's network and weights (tensors whose "
                       "names and shapes match are copied; a new head starts fresh): transfer learning, or a trained "
                       "backbone for detect")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--amp", action="store_true", help="mixed precision (CUDA only)")
    train.add_argument("--workers", type=int, default=0, metavar="N", help="data loader worker processes")
    train.add_argument("--max-train", type=_positive_int, metavar="N", help="train on at most N images")
    train.add_argument("--data-root", type=Path, metavar="DIR", help="where torchvision-style data sets are")
    train.add_argument("--runs-dir", type=Path, metavar="DIR", help="the runs folder (default: $CNNPG_RUNS_DIR or "
                                                                    "./runs)")
    train.add_argument("--name", help="a name for the run")
    train.add_argument("--json", action="store_true", help="print one JSON object at the end (progress on stderr)")
    train.add_argument("--ray", metavar="ADDRESS", help="train on the Ray cluster at ADDRESS (auto, host:6379, "
                       "ray://host:10001; default: $CNNPG_RAY_ADDRESS, else here); the run comes home to the runs "
                       "folder (docs/ray.md)")
    train.set_defaults(run=_cmd_train)


def _cmd_train(args: argparse.Namespace) -> int:
    import signal
    import threading

    from engine.data import load_dataset
    from engine.training.config import TrainConfig
    from engine.training.events import Callback, EpochEvent
    from engine.training.fitting import fit_output, fit_problems, input_notes
    from engine.training.loop import fit
    from engine.training.runs import RunStore
    from engine.training.tasks import card_task, task_from_dict

    say = (lambda text: print(text, file=sys.stderr)) if args.json else print  # noqa: E731 - one-line sink
    spec = _load_spec(args.spec, args.input) if args.spec is not None else None
    store = RunStore(args.runs_dir)
    if args.from_run is not None:
        if spec is not None:
            raise CliError("give --spec or --from-run, not both: --from-run trains the run's own network")
        spec = _run_spec(store, args.from_run, args.input)
    try:
        if args.task == "embed":  # classes as identities, some perhaps held out (engine/faces/embed.py)
            from engine.faces.embed import identity_data

            data = identity_data(args.data, args.held_out or (), seed=args.seed, max_train=args.max_train,
                                 root=args.data_root)
        else:
            data = load_dataset(args.data, seed=args.seed, root=args.data_root, max_train=args.max_train)
        card = data.card
        task = card_task(card) if args.task is None else task_from_dict(args.task)
        task = _embed_options(task, args)
        if args.label_smoothing is not None:
            if "label_smoothing" not in task.to_dict():
                raise ValueError(f"--label-smoothing is an option of classification, not of the {task.title} task")
            task = task_from_dict({**task.to_dict(), "label_smoothing": args.label_smoothing})
        task = _detect_options(task, data, args, say)
        config = TrainConfig(optimizer=args.optimizer, lr=args.lr, schedule=args.schedule,
                             batch_size=args.batch_size, epochs=args.epochs, weight_decay=args.weight_decay,
                             seed=args.seed, device=args.device, amp=args.amp, num_workers=args.workers, task=task)
        if spec is None:
            spec = _ready_spec(task, card, args.input)
    except ValueError as e:
        raise CliError(str(e)) from None
    problems = fit_problems(spec, card, task)
    if problems:
        try:
            spec = fit_output(spec, card, task)
        except ValueError as e:
            raise CliError(str(e).replace("\n", "\n  ")) from None
        if fit_problems(spec, card, task):
            raise CliError("the network does not fit the data:\n  " + "\n  ".join(problems))
        say(f"head: {task.fix_note(card)}")
    for note in input_notes(spec, card):
        say(note)

    def values(split: dict[str, float]) -> str:
        return " ".join(f"{name} {f'{v:.4f}' if name == 'loss' else task.metric(name).format(v)}"
                        for name, v in split.items())

    class Progress(Callback):
        def on_epoch_end(self, e: EpochEvent) -> None:
            say(f"epoch {e.epoch}/{config.epochs}  train {values(e.train)}  val {values(e.val)}  "
                f"{e.images_per_second:,.0f} img/s  {e.seconds:.1f} s")

    stop = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set()) if _main_thread() else None
    try:
        classes = f", {card.num_classes} classes" if card.classes else ""
        say(f"training {task.title} on {card.title}: {len(data.train):,} images{classes}; validating on "
            f"{len(data.val):,}")
        address = args.ray if args.ray is not None else _ray_address()
        if address:
            result = _train_on_ray(address, spec, data, config, store, args.name, args.from_run, stop, Progress(),
                                   say)
            if result is None:
                return 1
        else:
            result = fit(spec, data, config, callbacks=[Progress()], stop=stop, store=store, name=args.name,
                         init_from=args.from_run)
    except ValueError as e:
        raise CliError(str(e).replace("\n", "\n  ")) from None
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    summary = {**result.to_dict(), "dataset": card.name, "run_dir": str(store.path(result.run_id))}
    if args.json:
        print(json.dumps(_finite(summary), indent=2, allow_nan=False))
    else:
        say(f"{result.status}: validation {result.metric.title} {result.metric.format(result.last)} after "
            f"{plural(result.epochs, 'epoch')} on {result.device}, {result.images_per_second:,.0f} images/s; run "
            f"{result.run_id} in {summary['run_dir']}")
    if result.status == "failed":
        print(f"error: {result.reason}", file=sys.stderr)
        return 1
    return 0


def _run_spec(store: object, run_id: str, input_shape: Shape | None) -> NetworkSpec:
    """The network of the run ``run_id`` (``--from-run``), its input replaced by ``input_shape`` when given."""
    from engine.training.runs import RunError

    try:
        run = store.get(run_id)
    except RunError as e:
        raise CliError(f"--from-run: {e}") from None
    if run.info.epochs < 1:
        raise CliError(f"--from-run: run {run_id} has not finished an epoch: no weights to start from")
    return run.spec if input_shape is None else dataclasses.replace(run.spec, input=input_shape)


def _embed_options(task: object, args: argparse.Namespace) -> object:
    """``task`` with ``--held-out``, ``--margin`` and ``--mining`` applied (the embedding's options; ``ValueError``
    for another task)."""
    options = {k: v for k, v in (("held_out", args.held_out), ("margin", args.margin), ("mining", args.mining))
               if v is not None}
    if not options:
        return task
    if task.name != "embed":
        raise ValueError(f"--held-out, --margin and --mining are options of the triplet-loss embedding (--task "
                         f"embed), not of the {task.title} task")
    from engine.training.tasks import task_from_dict

    return task_from_dict({**task.to_dict(), **options})


def _detect_options(task: object, data: object, args: argparse.Namespace, say: object) -> object:
    """``task`` with ``--grid`` and ``--anchors`` applied (detection's options; ``ValueError`` for another task):
    the anchors from k-means with 1 - IoU on the training boxes' shapes (engine/detection/anchors.py)."""
    if args.grid is None and args.anchors is None:
        return task
    if task.name != "detect":
        raise ValueError(f"--grid and --anchors are options of detection (--task detect), not of the {task.title} "
                         f"task")
    import torch

    from engine.detection.anchors import box_shapes, kmeans_anchors

    options = {}
    if args.grid is not None:
        options["grid"] = args.grid
    if args.anchors is not None:
        boxes = [b.reshape(-1, 4) for b in data.train.targets.boxes]
        shapes = box_shapes(torch.cat(boxes), data.card.image_shape[-1]) if boxes else torch.empty(0, 2)
        found = kmeans_anchors(shapes, args.anchors, seed=args.seed)
        options["anchors"] = [[round(float(w), 4), round(float(h), 4)] for w, h in found.anchors.tolist()]
        side = data.card.image_shape[-1]
        say(f"anchors: {', '.join(f'{w * side:.0f}×{h * side:.0f}' for w, h in options['anchors'])} pixels "
            f"(k-means on {len(shapes):,} training boxes, mean IoU {found.mean_iou:.3f})")
    from engine.training.tasks import task_from_dict

    return task_from_dict({**task.to_dict(), **options})


def _ray_address() -> str:
    from engine.jobs.ray_backend import address_from_env

    return address_from_env()


def _train_on_ray(address: str, spec: NetworkSpec, data: object, config: object, store: object, name: str | None,
                  init_from: str | None, stop: object, progress: object, say: object) -> object:
    """The same training as a job on the Ray cluster at ``address`` (engine.jobs.ray_backend), its epochs said as
    they come back and Ctrl-C sent to it as Stop; the fit's result, or None after saying why the job failed."""
    from engine.jobs.ray_backend import RayBackend
    from engine.jobs.runner import JobRunner
    from engine.jobs.training import TrainOutcome, train_job

    runner = JobRunner(max_jobs=1, max_queued=1, isolation="thread", backend=RayBackend(address))
    job = runner.submit(train_job, spec, data, config, store=store, name=name, init_from=init_from)
    said, placed = 0, False
    while True:
        finished = job.wait(0.2)
        if stop.is_set() and not job.stop.is_set():
            job.request_stop()
        if job.placement and not placed:
            where = job.placement
            say(f"on {where.get('node', 'this machine')} ({where.get('device') or where.get('why', '')})")
            placed = True
        epochs = job.log.snapshot().epochs
        for e in epochs[said:]:
            progress.on_epoch_end(e)
        said = len(epochs)
        if finished:
            break
    if not isinstance(job.result, TrainOutcome):
        print(f"error: {job.error}", file=sys.stderr)
        return None
    return job.result.result


def _ready_spec(task: object, card: object, input_shape: Shape | None) -> NetworkSpec:
    """The task's ready network for the data (engine/detection/networks.py; the embedding's: engine/faces/embed.py),
    for ``train`` without ``--spec``."""
    from engine.detection.networks import READY_TASKS, ready_network

    if task.name == "embed":  # the One-shot lab's ready embedding network
        from engine.faces.embed import ready_spec

        return ready_spec(tuple(input_shape or card.image_shape), task.dim)
    if task.name not in READY_TASKS:
        raise ValueError(f"--spec is needed for {task.title}: only {', '.join((*READY_TASKS, 'embed'))} have a ready "
                         f"network")
    spec = ready_network(task, card)
    return spec if input_shape is None else dataclasses.replace(spec, input=input_shape)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _finite(value: object) -> object:
    """``value`` with NaN and infinities as None (strict JSON has neither)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


# --------------------------------------------------------------------------------------------------- inputs


def _index_list(text: str) -> list[int]:
    """``"8,9"`` -> ``[8, 9]`` (class indices)."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected class indices such as 8,9, got {text!r}") from None
    if not values or any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected class indices such as 8,9, got {text!r}")
    return values


def _shape_arg(text: str) -> Shape:
    """``"3,64,64"`` -> ``(3, 64, 64)``; argparse turns the ``ArgumentTypeError`` into a usage error (status 2)."""
    try:
        shape = tuple(int(v) for v in text.replace("x", ",").split(","))
    except ValueError:
        shape = ()
    if not shape or any(v < 1 for v in shape):
        raise argparse.ArgumentTypeError(f"expected positive integers like 3,64,64 (C,H,W), got {text!r}")
    return shape


def _load_spec(name_or_path: str, input_shape: Shape | None) -> NetworkSpec:
    """A preset by name, else a JSON spec file; ``input_shape`` replaces the spec's input when given."""
    path = Path(name_or_path)
    if path.is_file():
        try:
            text = path.read_bytes()
        except OSError as e:
            raise CliError(f"cannot read {path}: {e.strerror or e}") from None
        try:
            spec = NetworkSpec.from_json(text)
        except SpecError as e:
            raise CliError(f"{path}: {e}") from None
    elif name_or_path in preset_names():
        spec = get_preset(name_or_path)
    elif path.exists():
        raise CliError(f"cannot read {name_or_path!r}: it is not a file")
    elif path.suffix or "/" in name_or_path or "\\" in name_or_path:
        raise CliError(f"cannot read {name_or_path!r}: no such file")
    else:
        raise CliError(f"unknown preset {name_or_path!r}; presets: {_preset_list()} (or give a JSON spec file)")
    if input_shape is not None:
        spec = dataclasses.replace(spec, input=input_shape)
    return spec


def _preset_list() -> str:
    return ", ".join(preset_names())


# --------------------------------------------------------------------------------------------------- table


def _table(result: Summary) -> str:
    """A torchinfo-style table: nested layers indented under their block, then the totals."""
    header = ("Layer", "Output shape", "Params", "MACs", "Memory", "Receptive field")
    rows = [(f"{'  ' * r.depth}{r.name}", r.shape_text, f"{r.params + r.frozen_params:,}", f"{r.macs:,}",
             format_bytes(r.memory), format_shape(r.receptive_field) + (" *" if r.notes else ""))
            for r in result.rows]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:  # names and shapes left-aligned, numbers right-aligned
        padded = [c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
        return "  ".join(padded).rstrip()

    rule = "=" * len(line(header))
    out_shape = format_shape(result.output_shape)
    totals = [
        f"Input: {format_shape(result.spec.input)}    Output: {out_shape}",
        f"Total params: {result.total_params:,} ({format_count(result.total_params)})",
        f"Trainable params: {result.trainable_params:,}",
        f"Non-trainable params: {result.total_params - result.trainable_params:,}",
        f"MACs (one sample): {result.total_macs:,} ({format_count(result.total_macs)})",
        f"Activation memory (one sample, float32): {format_bytes(result.activation_memory)}",
        f"Parameter memory (float32): {format_bytes(result.param_memory)}",
    ]
    notes = sorted({note for r in result.rows for note in r.notes})
    footnotes = [f"* receptive field: {note}" for note in notes]
    return "\n".join([rule, line(header), rule, *map(line, rows), rule, *totals, *footnotes, rule])


if __name__ == "__main__":
    sys.exit(main())
