"""UI: figures."""
