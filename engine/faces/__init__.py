"""Faces: verification, recognition and the one-shot / triplet-loss lab (course notes 1.4.1)."""
