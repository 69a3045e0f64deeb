"""UI: inspect."""
