"""UI: conv_lab."""
