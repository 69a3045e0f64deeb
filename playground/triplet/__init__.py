"""The One-shot lab's UI (pages/triplet_lab.py): training an embedding with the triplet loss, its live views."""
