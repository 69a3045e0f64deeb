"""``python -m engine``: each command run for real, in a subprocess, as a user would type it.

A run costs a few seconds of CPU (importing torch, then torch's first meta-device pass), so the module's runs
(``_RUNS``) go two at a time in one fixture and the tests read their results. The remaining error paths call
``main(argv)`` in-process: the same code without the process start.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from engine.__main__ import main
from engine.nets.codegen import codegen
from engine.nets.presets import get_preset, preset_names
from engine.nets.summary import summary

_RUNS = {
    "table": ["summary", "lenet5"],
    "json": ["summary", "lenet5", "--json"],
    "bigger input": ["summary", "lenet5", "--input", "3,64,64"],
    "kernel too big": ["summary", "{tmp}/too_big.json"],
    "unknown preset": ["summary", "lenet6"],
    "codegen": ["codegen", "resnet18", "--input", "3,32,32", "-o", "{tmp}/resnet18.py"],
}
_TOO_BIG = {"input": [1, 8, 8], "layers": [{"kind": "conv2d", "out_channels": 4, "kernel_size": 3},
                                          {"kind": "conv2d", "out_channels": 4, "kernel_size": 9}]}


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli")
    (path / "too_big.json").write_text(json.dumps(_TOO_BIG))
    (path / "broken.json").write_text('{"input": [1, 8, 8], "layers": [')
    return path


@pytest.fixture(scope="module")
def runs(tmp: Path) -> dict[str, subprocess.CompletedProcess]:
    def run(args: list[str]) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "engine", *(a.format(tmp=tmp) for a in args)]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    with ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as pool:
        return dict(zip(_RUNS, pool.map(run, _RUNS.values()), strict=True))


# --------------------------------------------------------------------------------------------------- subprocesses


def test_summary_table(runs: dict) -> None:
    run = runs["table"]
    assert run.returncode == 0, run.stderr
    assert "Total params: 61,706" in run.stdout
    lines = run.stdout.splitlines()
    assert any(line.startswith("conv2d #1") and "6×28×28" in line and "156" in line for line in lines)
    assert "Output: 10" in run.stdout


def test_summary_json_matches_the_engine(runs: dict) -> None:
    run = runs["json"]
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    expected = summary(get_preset("lenet5")).to_dict()
    assert data["totals"] == expected["totals"]
    assert data == expected


def test_input_override_changes_shapes(runs: dict) -> None:
    run = runs["bigger input"]
    assert run.returncode == 0, run.stderr
    assert "Input: 3×64×64" in run.stdout
    assert "6×60×60" in run.stdout  # conv2d #1: 5×5 kernel on 64×64
    assert "Total params: 61,706" not in run.stdout  # the first linear layer now sees 16·13·13 features


def test_invalid_layer_exits_2_with_its_message(runs: dict) -> None:
    run = runs["kernel too big"]
    assert run.returncode == 2
    assert "conv2d #2: kernel 9 is larger than its 6×6 input" in run.stderr
    assert "Traceback" not in run.stderr and run.stdout == ""


def test_unknown_preset_exits_2_listing_the_names(runs: dict) -> None:
    run = runs["unknown preset"]
    assert run.returncode == 2
    assert "'lenet6'" in run.stderr and all(name in run.stderr for name in preset_names())
    assert "Traceback" not in run.stderr


def test_codegen_writes_a_file_that_runs(runs: dict, tmp: Path) -> None:
    run = runs["codegen"]
    assert run.returncode == 0, run.stderr
    ran = subprocess.run([sys.executable, str(tmp / "resnet18.py")], capture_output=True, text=True, timeout=120,
                         cwd=tmp)
    assert ran.returncode == 0, ran.stderr
    assert "input (2, 3, 32, 32) -> output (2, 1000)" in ran.stdout
    assert "11,689,512 parameters" in ran.stdout


# --------------------------------------------------------------------------------------------------- in-process


@pytest.mark.parametrize(("argv", "message"), [
    (["summary", "{tmp}/broken.json"], "broken.json: not valid JSON"),
    (["summary", "{tmp}/missing.json"], "missing.json': no such file"),
    (["summary", "{tmp}"], "it is not a file"),
    (["codegen", "{tmp}/too_big.json"], "conv2d #2: kernel 9 is larger"),
    (["codegen", "lenet5", "--class-name", "3D"], "class_name must be a Python identifier"),
    (["codegen", "lenet5", "-o", "{tmp}/no/such/dir/net.py"], "cannot write"),
])
def test_user_errors_exit_2_with_a_message(argv: list[str], message: str, tmp: Path,
                                           capsys: pytest.CaptureFixture) -> None:
    assert main([a.format(tmp=tmp) for a in argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [[], ["summary"], ["summary", "lenet5", "--input", "3,0,4"], ["fit", "lenet5"]])
def test_bad_command_lines_are_usage_errors(argv: list[str], capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert "usage: python -m engine" in capsys.readouterr().err


def test_codegen_to_stdout_is_the_engine_source(capsys: pytest.CaptureFixture) -> None:
    assert main(["codegen", "lenet5", "--class-name", "LeNet5"]) == 0
    assert capsys.readouterr().out == codegen(get_preset("lenet5"), class_name="LeNet5")


def test_summary_marks_a_receptive_field_that_varies(tmp: Path, capsys: pytest.CaptureFixture) -> None:
    spec = {"input": [1, 12, 12], "layers": [{"kind": "adaptiveavgpool2d", "output_size": 5},
                                            {"kind": "conv2d", "out_channels": 1}]}
    (tmp / "adaptive.json").write_text(json.dumps(spec))
    assert main(["summary", str(tmp / "adaptive.json")]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith(("adaptiveavgpool2d #1", "conv2d #2"))]
    assert rows[0].endswith("4×4 *") and rows[1].endswith("8×8 *")
    assert "* receptive field: outputs see fields of different sizes here" in out
