"""The Localisation & landmarks page's state in its link (playground/links.py): the scene and the face the editors
show, and the training settings (what to learn, which network, images, epochs, learning rate). The hand-edited box
and prediction follow the scene shown; a trained run is the user's and is not in the link."""

from __future__ import annotations

from playground.links import Link, choice, integer
from playground.localisation.picker import PICK_FROM
from playground.localisation.train import LR_CHOICES, NETWORKS, TRAIN_SIZES, WHAT

LINKS = (
    Link("_w_loc_box_index", integer(0, PICK_FROM - 1), "scene"),
    Link("_w_loc_pts_index", integer(0, PICK_FROM - 1), "face"),
    Link("_w_loc_tr_what", choice(WHAT), "learn"),
    Link("_w_loc_tr_net", choice(NETWORKS), "network"),
    Link("_w_loc_tr_images", choice(TRAIN_SIZES), "images"),
    Link("_w_loc_tr_epochs", integer(1, 100), "epochs"),
    Link("_w_loc_tr_lr", choice(LR_CHOICES), "lr"),
)
