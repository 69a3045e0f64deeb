"""Command line for the engine: ``python -m engine <command> ...``.

    python -m engine summary SPEC [--input C,H,W] [--json]   per-layer table (or JSON) of a network
    python -m engine codegen SPEC [--input C,H,W] [-o FILE]  standalone PyTorch source for it

SPEC is a preset name (``lenet5``, ``resnet50``, ...) or the path of a JSON spec file. A spec that cannot be read or
has invalid layers exits with status 2 and says why on stderr, one line per problem. Each command is one
``_cmd_<name>(args) -> int`` registered in ``_parser``; adding one (``train``, ``detect`` ...) touches nothing else.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from engine.codegen import codegen
from engine.presets import get_preset, preset_names
from engine.spec import NetworkSpec, Shape, SpecError
from engine.summary import Summary, format_bytes, format_count, summary

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


# --------------------------------------------------------------------------------------------------- inputs


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
             format_bytes(r.memory), "×".join(map(str, r.receptive_field)) if r.receptive_field else "—")
            for r in result.rows]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:  # names and shapes left-aligned, numbers right-aligned
        padded = [c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
        return "  ".join(padded).rstrip()

    rule = "=" * len(line(header))
    out_shape = "×".join(map(str, result.output_shape)) if result.output_shape else "—"
    totals = [
        f"Input: {'×'.join(map(str, result.spec.input))}    Output: {out_shape}",
        f"Total params: {result.total_params:,} ({format_count(result.total_params)})",
        f"Trainable params: {result.trainable_params:,}",
        f"Non-trainable params: {result.total_params - result.trainable_params:,}",
        f"MACs (one sample): {result.total_macs:,} ({format_count(result.total_macs)})",
        f"Activation memory (one sample, float32): {format_bytes(result.activation_memory)}",
        f"Parameter memory (float32): {format_bytes(result.param_memory)}",
    ]
    return "\n".join([rule, line(header), rule, *map(line, rows), rule, *totals, rule])


if __name__ == "__main__":
    sys.exit(main())
