"""Visual constants in one place: status colours, and one colour per family of layer kinds (a kind names its family,
``LayerSpec.family``; a new kind of a known family needs nothing here)."""

COLORS = {
    "conv": "#4e79a7",
    "pool": "#f28e2b",
    "dense": "#59a14f",
    "shape": "#76b7b2",
    "composite": "#b07aa1",
    "input": "#bab0ac",
    "neutral": "#9c9c9c",
    "error": "#e15759",
    "accent": "#e4572e",
    "truth": "#2ca02c",  # a label: the true box or points (detection figures)
    "prediction": "#e4572e",  # the network's (or the user's) prediction beside it
}

FAMILY_COLORS = {
    "conv": COLORS["conv"],
    "pool": COLORS["pool"],
    "dense": COLORS["dense"],
    "shape": COLORS["shape"],
    "composite": COLORS["composite"],
    "norm": COLORS["neutral"],
    "activation": COLORS["neutral"],
    "regularisation": COLORS["neutral"],
}
