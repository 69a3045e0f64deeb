"""The One-shot lab, run headless through the real entry: settings that cannot train say why; a short real training
started from the page (a background job, owned by this browser) lands in the run store as an "embed" run, and the
page's projections, ROC curves and verification table show what the engine computes for that run, trained and
untrained."""

from __future__ import annotations

import json

import pytest
import torch
from apptest_helpers import await_job, button, open_page

from engine.faces.embed import identity_data
from engine.nets.build import build
from engine.training.evaluate import evaluate
from engine.training.runs import RunStore
from engine.training.trained import run_stats

TIMEOUT = 240  # seconds a short job may take on a loaded 2-core machine
K = "_w_tl_"


@pytest.fixture
def page(runs_dir):
    return open_page("triplet_lab.py")


def _charts(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def _title(chart: dict) -> str:
    return chart["layout"].get("title", {}).get("text", "")


def test_the_page_opens_with_its_settings_and_refuses_too_many_held_out_classes(page):
    assert [t.value for t in page.title] == ["One-shot lab"]
    assert page.multiselect(key=K + "held").value == [8, 9]
    assert not button(page, "Train").disabled
    page.multiselect(key=K + "held").set_value(list(range(9))).run()
    assert not page.exception
    assert any("at least two of the 10 classes" in e.value for e in page.error)
    assert not [b for b in page.button if b.label == "Train"]  # nothing to train: no button


def test_a_short_training_shows_its_projection_triplets_and_verification(page, runs_dir):
    page.selectbox(key=K + "set").set_value("digits").run()
    page.select_slider(key=K + "images").set_value(1000).run()
    page.number_input(key=K + "epochs").set_value(2).run()
    button(page, "Train").click().run()
    job = await_job(page, "train_job", TIMEOUT)
    assert job.status == "finished", job.error
    assert not page.exception, [e.value for e in page.exception]
    run_id = page.session_state["triplet_run"]
    assert run_id == job.result.run_id
    store = RunStore(runs_dir)
    run = store.get(run_id)
    assert run.info.task == "embed" and run.info.owner == page.session_state["owner"]
    assert run.task.held_out == (8, 9) and run.task.mining == "semi-hard"

    # the engine's own evaluation of this run on the validation images the page shows (the digits' 359)
    val = identity_data("digits", (8, 9), seed=0).val
    trained = evaluate(store.load_model(run_id), val, run_stats(run), task=run.task)
    untrained = evaluate(build(run.spec, seed=0), val, run_stats(run), task=run.task)

    charts = _charts(page)
    titles = [_title(c) for c in charts]
    assert any(t.startswith("Untrained · AUC held out") for t in titles)
    assert any(t.startswith("Trained after 2 epochs") for t in titles)
    assert {"ROC, identities seen in training", "ROC, held-out identities",
            "FAR and FRR, held-out identities"} <= set(titles)
    # the projection has one trace per identity, held-out ones as crosses
    (after,) = [c for c in charts if _title(c).startswith("Trained")]
    assert [t["name"] for t in after["data"]][-2:] == ["8 (held out)", "9 (held out)"]
    assert sum(len(t["x"]) if isinstance(t["x"], list) else 0 for t in after["data"]) in (0, len(val))

    (table,) = [d.value for d in page.dataframe if "AUC" in d.value.columns and "network" in d.value.columns]
    got = {(r["identities"], r["network"]): r["AUC"] for _, r in table.iterrows()}
    for ev, name in ((trained, "trained"), (untrained, "untrained")):
        assert got[("held-out identities", name)] == pytest.approx(ev.metrics["auc_held_out"], abs=1e-6)
        assert got[("identities seen in training", name)] == pytest.approx(ev.metrics["auc_seen"], abs=1e-6)
    # the threshold slider moves FAR and FRR as the engine counts them
    page.slider(key="_w_tl_view_threshold").set_value(0.5).run()
    (table,) = [d.value for d in page.dataframe if "AUC" in d.value.columns and "network" in d.value.columns]
    row = table[(table["identities"] == "held-out identities") & (table["network"] == "trained")].iloc[0]
    p = trained.pairs("held_out")
    assert row["FAR at 0.50"] == pytest.approx(float(((p.distances <= 0.5) & ~p.same).sum() / (~p.same).sum()))
    assert row["FRR at 0.50"] == pytest.approx(float(((p.distances > 0.5) & p.same).sum() / p.same.sum()))

    # the mined triplets are shown as images with their loss; the binary alternative as a table
    assert any("semi-hard mining picks" in m.value for m in page.markdown)
    captions = [c for image in page.get("image") for c in image.captions]
    assert len(captions) >= 3 and {c.split(":")[0] for c in captions} == {"A", "P", "N"}
    (binary,) = [d.value for d in page.dataframe if "verifier" in d.value.columns]
    assert len(binary) == 2 and torch.tensor(binary["AUC"].tolist()).gt(0.5).all()

    # the run is the Training page's active run too: that page shows it without an exception
    page.switch_page("../pages/training.py")
    page.run()
    assert not page.exception, [e.value for e in page.exception]
