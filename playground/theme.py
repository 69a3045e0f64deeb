"""Visual constants in one place (colours per layer kind, status colours)."""

COLORS = {
    "conv": "#4e79a7",
    "pool": "#f28e2b",
    "dense": "#59a14f",
    "composite": "#b07aa1",
    "input": "#bab0ac",
    "neutral": "#9c9c9c",
    "error": "#e15759",
    "accent": "#e4572e",
}

KIND_COLORS = {
    "input": COLORS["input"],
    "conv2d": COLORS["conv"],
    "maxpool2d": COLORS["pool"],
    "avgpool2d": COLORS["pool"],
    "adaptiveavgpool2d": COLORS["pool"],
    "flatten": COLORS["dense"],
    "linear": COLORS["dense"],
    "residual": COLORS["composite"],
    "inception": COLORS["composite"],
}
