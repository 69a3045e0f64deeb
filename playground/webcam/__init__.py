"""UI: webcam."""
