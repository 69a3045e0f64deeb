"""The training job: ``engine.training.loop.fit`` in the background, reporting to the job's log and stopping on its
stop flag, then the task's evaluation of the trained model on the validation set — skipped once Stop is asked, and
ended by a Stop that comes while it runs, so a stopped job ends after one batch however long the evaluation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.data import LoadedData
from engine.jobs.job import Job
from engine.training.config import TrainConfig
from engine.training.evaluate import EvaluationStopped, evaluate
from engine.training.events import Callback, FitResult
from engine.training.loop import fit
from engine.training.runs import RunStore


@dataclass
class TrainOutcome:
    """What ``train_job`` returns: the fit's result and, unless it failed, the model's evaluation on the validation
    set (None when that set is empty). ``status`` and ``reason`` are the fit's, so the job takes them."""

    result: FitResult
    evaluation: Any = None  # the task's evaluation views (classification: engine.training.tasks.classify.Evaluation)
    notes: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        return self.result.status

    @property
    def reason(self) -> str:
        return self.result.reason

    @property
    def run_id(self) -> str | None:
        return self.result.run_id


def train_job(job: Job, model_or_spec: Any, data: LoadedData, config: TrainConfig | None = None, *,
              store: RunStore | None = None, run_id: str | None = None,
              init_from: str | Path | Mapping[str, Any] | None = None, name: str | None = None,
              callbacks: Sequence[Callback] = ()) -> TrainOutcome:
    """``engine.training.loop.fit`` reporting to ``job.log`` (and ``callbacks``) and stopping on ``job.stop``, then
    the task's evaluation of the trained model on ``data.val``. Resuming (``run_id``) first puts the run's earlier
    epochs into the log. A new run belongs to the job's owner."""
    if run_id is not None and store is not None:
        job.log.preload(store.get(run_id).history)
    result = fit(model_or_spec, data, config, callbacks=[job.log, *callbacks], stop=job.stop, store=store,
                 run_id=run_id, init_from=init_from, name=name, owner=job.owner)
    evaluation, notes = None, list(result.notes)
    if result.status != "failed" and len(data.val) and not job.stop.is_set():
        try:
            evaluation = evaluate(result.model, data.val, result.stats, task=result.task, stop=job.stop)
        except EvaluationStopped as e:
            notes.append(f"the evaluation was stopped ({e})")
    return TrainOutcome(result, evaluation, notes)
