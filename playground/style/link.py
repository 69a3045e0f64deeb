"""The Style transfer page's state in its link (playground/links.py): α, β, the output size, the steps, the optimiser
and the initialisation. The pictures (uploads, snapshots) stay on the server; the layers depend on the backbone and
are kept for the session."""

from __future__ import annotations

from engine.style.optimise import INITS, OPTIMIZERS
from playground.links import Link, choice, integer
from playground.style.settings import SIZES, WEIGHTS

LINKS = (
    Link("_w_st_alpha", choice(WEIGHTS), "alpha"),
    Link("_w_st_beta", choice(WEIGHTS), "beta"),
    Link("_w_st_size", choice(SIZES), "size"),
    Link("_w_st_steps", integer(1, 2000), "steps"),
    Link("_w_st_optimizer", choice(OPTIMIZERS), "optimizer"),
    Link("_w_st_init", choice(INITS), "init"),
)
