"""The task a data set is made for (``card_task``): the one its card names, else the first for its kind of targets."""

from __future__ import annotations

import dataclasses

import pytest

from engine.data import dataset_card
from engine.detection.detect import Detect
from engine.detection.tasks import Localise
from engine.training.fitting import task_for
from engine.training.tasks import Classify, card_task, default_task


def test_multi_scenes_are_for_detection_and_the_other_sets_for_their_targets_first_task():
    multi = dataset_card("multi_scenes")
    assert multi.task == "detect" and card_task(multi) == Detect() and task_for(multi) == Detect()
    assert default_task(multi.targets) == Localise()  # the same kind of targets: the card says which task
    assert card_task(dataset_card("scenes")) == Localise() == task_for(dataset_card("scenes"))
    assert card_task(dataset_card("digits")) == Classify()
    assert task_for(multi, Localise()) == Localise()  # a task given wins
    assert card_task(dataclasses.replace(multi, task=None)) == Localise()  # a card naming none (an uploaded zip)
    with pytest.raises(ValueError, match="unknown task|no task|nope"):
        card_task(dataclasses.replace(multi, task="nope"))
