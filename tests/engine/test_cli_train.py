"""``python -m engine train``: a real run in a subprocess, as a user types it; error paths in-process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engine.__main__ import main
from engine.data import load_dataset
from engine.detection.anchors import box_shapes, kmeans_anchors
from engine.faces.embed import identity_data
from engine.nets.summary import summary
from engine.training.runs import RunStore
from engine.training.trained import run_data


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
    (["--grid", "3"], "--grid and --anchors are options of detection (--task detect), not of the classification"),
    (["--from-run", "20260101-000000-abcd"], "give --spec or --from-run, not both"),
    (["--margin", "0.3"], "--held-out, --margin and --mining are options of the triplet-loss embedding"),
    (["--task", "embed", "--data", "shapes"], "identities come from one of digits, mnist5k, fashion_mnist, mnist"),
    (["--task", "embed", "--held-out", "8,19"], "held-out classes must lie in [0, 10), got [8, 19]"),
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


def test_detect_trains_with_the_users_grid_and_anchors_from_k_means(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture) -> None:
    """``--task detect --grid 3 --anchors 2``: the run's task has that grid and the two anchors k-means (1 - IoU)
    finds on the same training boxes; the ready network ends in a 3×3 map of B·(5 + C) channels."""
    runs = tmp_path / "runs"
    code = main(["train", "--data", "multi_scenes", "--task", "detect", "--grid", "3", "--anchors", "2", "--epochs",
                 "1", "--max-train", "32", "--batch-size", "16", "--seed", "1", "--runs-dir", str(runs)])
    out = capsys.readouterr().out
    assert code == 0 and "mean IoU" in out
    store = RunStore(runs)
    (info,) = store.list()
    run = store.get(info.id)
    data = load_dataset("multi_scenes", seed=1, max_train=32)
    boxes = torch.cat([b.reshape(-1, 4) for b in data.train.targets.boxes])
    want = kmeans_anchors(box_shapes(boxes, data.card.image_shape[-1]), 2, seed=1).anchors
    assert run.task.grid == 3 and torch.allclose(torch.tensor(run.task.anchors), want, atol=1e-4)
    assert summary(run.spec).output_shape == (2 * (5 + data.card.num_classes), 3, 3)


def test_from_run_starts_from_the_runs_network_and_weights(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """``--from-run``: LeNet-5 trained on digits, then fine-tuned on the two-class faces: the same network with a
    new 2-output head, its other weights the run's (a learning rate of 1e-9 keeps them where they started)."""
    runs = tmp_path / "runs"
    assert main(["train", "--spec", "lenet5", "--data", "digits", "--epochs", "1", "--runs-dir", str(runs)]) == 0
    store = RunStore(runs)
    (first,) = store.list()
    assert main(["train", "--from-run", first.id, "--data", "lfw_faces", "--epochs", "1", "--max-train", "64",
                 "--lr", "1e-9", "--runs-dir", str(runs)]) == 0
    out = capsys.readouterr().out
    assert "head: the last linear layer now gives 2 outputs" in out
    second = next(r for r in store.list() if r.id != first.id)
    assert store.get(second.id).config["init_from"] == first.id
    before, after = store.load_checkpoint(first.id).model, store.load_checkpoint(second.id).model
    head = [k for k in after if after[k].shape != before[k].shape]
    assert head and all(k.startswith(head[0].rsplit(".", 1)[0]) for k in head)  # the new head alone differs
    for k in after.keys() - set(head):
        torch.testing.assert_close(after[k], before[k], atol=1e-6, rtol=0, msg=k)
    assert main(["train", "--from-run", "nope", "--data", "digits", "--epochs", "1", "--runs-dir", str(runs)]) == 2
    assert "--from-run: " in capsys.readouterr().err


def test_embed_trains_the_one_shot_labs_task_with_identities_held_out(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture) -> None:
    """``--task embed --held-out 8,9``: the digits as identities with 8 and 9 never trained on, the ready embedding
    network, the triplet loss with the margin and mining asked; the run's data comes back for a resume."""
    runs = tmp_path / "runs"
    code = main(["train", "--task", "embed", "--data", "digits", "--held-out", "8,9", "--margin", "0.3", "--mining",
                 "hard", "--epochs", "2", "--json", "--runs-dir", str(runs)])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["status"] == "finished"
    assert result["task"] == {"name": "embed", "dim": 64, "margin": 0.3, "mining": "hard", "held_out": [8, 9]}
    assert set(result["val"]) >= {"auc", "auc_seen", "auc_held_out"}
    want = identity_data("digits", (8, 9), seed=0)
    run = RunStore(runs).get(result["run_id"])
    assert run.config["dataset"]["name"] == "digits_identities"
    assert run.config["dataset"]["train_size"] == len(want.train) and summary(run.spec).output_shape == (64,)
    again, why = run_data(run)
    assert why == "" and torch.equal(again.train.images, want.train.images)
