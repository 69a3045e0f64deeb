"""The run store: every training run on disk (``store``), its files' safe formats (``files``) and the migration of
runs written before tasks existed (``migrate``), the people of a class and its leaderboard (``people``), and a
class's runs exported in one zip (``archive``)."""

from engine.training.runs.files import CheckpointError, RunError, load_state_dict, read_safetensors
from engine.training.runs.migrate import CHECKPOINT_FORMAT, RUN_FORMAT
from engine.training.runs.people import Person
from engine.training.runs.store import ENV_VAR, STATUSES, Checkpoint, Run, RunInfo, RunStore, default_root

__all__ = ["CHECKPOINT_FORMAT", "ENV_VAR", "RUN_FORMAT", "STATUSES", "Checkpoint", "CheckpointError", "Person", "Run",
           "RunError", "RunInfo", "RunStore", "default_root", "load_state_dict", "read_safetensors"]
