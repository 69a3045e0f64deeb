"""UI: widgets."""
