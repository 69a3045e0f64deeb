"""``python -m engine train``: a real run in a subprocess, as a user types it; error paths in-process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.__main__ import main
from engine.training.runs import RunStore


def test_train_lenet5_on_digits_json(tmp_path: Path) -> None:
    """LeNet-5 (1×32×32) on 8×8 digits: the input is adapted, the run stored, the JSON is one object."""
    runs = tmp_path / "runs"
    done = subprocess.run([sys.executable, "-m", "engine", "train", "--spec", "lenet5", "--data", "digits",
                           "--epochs", "3", "--json", "--runs-dir", str(runs)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["val"]["accuracy"] > 0.8
    assert result["task"] == {"name": "classify", "label_smoothing": 0.0}
    assert result["best"]["metric"] == "accuracy" and result["best"]["value"] >= result["val"]["accuracy"]
    assert result["epochs"] == 3 and result["status"] == "finished"
    assert result["device"].startswith("cpu") or result["device"].startswith("cuda")
    assert result["images_per_second"] > 0
    assert "resized to 32×32" in done.stderr and "epoch 3/3" in done.stderr
    info = RunStore(runs).info(result["run_id"])
    assert (info.status, info.epochs, info.dataset) == ("finished", 3, "digits")
    assert Path(result["run_dir"], "checkpoint.safetensors").is_file()


def test_train_prints_progress_and_fits_the_head(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    spec = tmp_path / "net.json"
    spec.write_text(json.dumps({"input": [1, 8, 8], "layers": [
        {"kind": "conv2d", "out_channels": 4, "padding": 1}, {"kind": "relu"}, {"kind": "flatten"},
        {"kind": "linear", "out_features": 3}]}))
    code = main(["train", "--spec", str(spec), "--data", "lfw_faces", "--epochs", "1", "--batch-size", "32",
                 "--runs-dir", str(tmp_path / "runs"), "--optimizer", "sgd", "--lr", "0.01"])
    out = capsys.readouterr().out
    assert code == 0
    assert "head: the last linear layer now gives 2 outputs" in out
    assert "resized to 8×8" in out and "epoch 1/1" in out and "finished: validation accuracy" in out


@pytest.mark.parametrize(("argv", "message"), [
    (["--data", "imagenet"], "imagenet"),
    (["--data", "missing.zip"], "missing.zip"),
    (["--spec", "lenet6"], "unknown preset 'lenet6'"),
    (["--lr", "-1"], "lr must be a number > 0"),
])
def test_errors_exit_2_with_a_message(argv: list[str], message: str, tmp_path: Path,
                                      capsys: pytest.CaptureFixture) -> None:
    args = {"--spec": "lenet5", "--data": "digits", "--epochs": "1", "--runs-dir": str(tmp_path)}
    args.update(dict(zip(argv[::2], argv[1::2], strict=True)))
    code = main(["train", *[x for kv in args.items() for x in kv]])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_a_bad_epoch_count_is_a_usage_error(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as info:
        main(["train", "--spec", "lenet5", "--data", "digits", "--epochs", "0"])
    assert info.value.code == 2 and "expected a positive integer" in capsys.readouterr().err
