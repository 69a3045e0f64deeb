"""Training: the one loop over tasks, its config and events, the run store, evaluation, export and transfer."""
