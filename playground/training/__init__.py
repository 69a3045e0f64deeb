"""UI: training."""
