"""``python -m engine`` on the hostile specs of issue 9: the limit's message and exit status 2, before anything is
built or allocated (docs/layer-kinds.md, "Limits")."""

from __future__ import annotations

import json
import resource
from pathlib import Path

import pytest

from engine.__main__ import main

LINEAR_1E9 = {"input": [1, 8, 8], "layers": [{"kind": "flatten"}, {"kind": "linear", "out_features": 10**9},
                                             {"kind": "relu"}, {"kind": "linear", "out_features": 10}]}


def _nested(depth: int) -> str:
    """The JSON text of residual blocks nested ``depth`` deep (written out: json.dumps itself recurses)."""
    return '{"input": [1, 8, 8], "layers": ' + '[{"kind": "residual", "body": ' * depth + '[{"kind": "relu"}]' + \
        "}]" * depth + "}"


@pytest.mark.parametrize(("spec", "argv", "message"), [
    (LINEAR_1E9, [], "out_features is 1,000,000,000; the limit is 65,536"),
    ({"input": [1, 8, 8], "layers": [{"kind": "relu"}] * 10_000}, [], "layers (nested ones counted) is 10,000"),
    (_nested(300), [], "nesting of composite blocks is 300 levels; the limit is 32"),
    (_nested(500), [], "nested too deeply to read (hundreds of levels); composite blocks may nest at most 32"),
    ({"input": [1, 8, 8], "layers": [{"kind": "flatten"}, {"kind": "linear", "out_features": 10}]},
     ["--input", "3,100000,100000"], "the input's height is 100,000; the limit is 4,096"),
])
def test_train_refuses_a_hostile_spec_with_the_limit_and_no_allocation(tmp_path: Path, capsys, spec, argv, message):
    path = tmp_path / "spec.json"
    path.write_text(spec if isinstance(spec, str) else json.dumps(spec))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    code = main(["train", "--spec", str(path), "--data", "digits", "--epochs", "1", "--device", "cpu",
                 "--runs-dir", str(tmp_path / "runs"), *argv])
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    err = capsys.readouterr().err
    assert code == 2 and message in err, err
    assert "Traceback" not in err and grown_mb < 300
    assert not list((tmp_path / "runs").glob("*/config.json"))  # no run was started


@pytest.mark.parametrize("command", ["summary", "codegen"])
def test_summary_and_codegen_refuse_blocks_nested_500_deep(tmp_path: Path, capsys, command):
    path = tmp_path / "spec.json"
    path.write_text(_nested(500))
    assert main([command, str(path)]) == 2
    assert "composite blocks may nest at most 32 levels" in capsys.readouterr().err
