"""Tasks: the kinds of learning problem the one training loop serves (docs/tasks-and-jobs.md). ``base`` holds the
contract and the registry; each task is one module that registers itself on import (``classify``; localisation,
landmarks, YOLO detection and triplet embeddings (engine.faces.embed) come with their topics)."""

from engine.training.tasks import classify  # noqa: F401 - registers the classification task
from engine.training.tasks.base import (
    LOSS,
    TASKS,
    Meter,
    Metric,
    SumMeter,
    Task,
    card_task,
    default_task,
    move_to,
    register,
    task_from_dict,
)
from engine.training.tasks.classify import Classify

__all__ = ["LOSS", "TASKS", "Classify", "Meter", "Metric", "SumMeter", "Task", "card_task", "default_task", "move_to",
           "register", "task_from_dict"]

# Topic tasks register themselves on import, last (they build on the names above): a stored run must find its task
# whichever page opened the store first.
import engine.detection.tasks  # noqa: E402, F401, I001 - localisation and landmarks
import engine.detection.detect  # noqa: E402, F401, I001 - YOLO detection
import engine.faces.embed  # noqa: E402, F401, I001 - triplet-loss embeddings
