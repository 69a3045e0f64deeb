"""The gallery (1:K recognition) on real photos: enrol from one photo, identify another photo of the same person,
"unknown" above the threshold, owners kept apart (listing, matching, deleting), delete and clear, export without
pictures or owner ids, and its limits."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest
from faces_photos import photo

from engine.faces.backend import backend, distance
from engine.faces.gallery import MAX_SAMPLES, UNKNOWN, Gallery
from engine.faces.pipeline import embed_one

ALICE, BOB = "owner-alice-0123456789", "owner-bob-0123456789ab"


@pytest.fixture(scope="module")
def faces():
    dlib_faces = backend("dlib")
    return {n: embed_one(photo(f"{n}.jpg"), dlib_faces) for n in ("obama", "obama2", "obama3", "biden")}


def test_one_shot_enrolment_identifies_another_photo_and_strangers_are_unknown(tmp_path, faces):
    g = Gallery(tmp_path)
    assert g.enrol(ALICE, "Barack", [faces["obama"]], "dlib") == 1
    match = g.identify(ALICE, faces["obama2"].vector, "dlib", 0.6)
    assert match.known and match.name == "Barack" and match.nearest == "Barack"
    assert match.distance == pytest.approx(float(distance(faces["obama"].vector, faces["obama2"].vector)), abs=1e-5)
    stranger = g.identify(ALICE, faces["biden"].vector, "dlib", 0.6)
    assert not stranger.known and stranger.name == UNKNOWN and stranger.nearest == "Barack" and stranger.distance > 0.6
    g.enrol(ALICE, "Joe", [faces["biden"]], "dlib")
    answers = g.identify_many(ALICE, np.stack([faces["obama3"].vector, faces["biden"].vector]), "dlib", 0.6)
    assert [m.name for m in answers] == ["Barack", "Joe"]


def test_the_nearest_of_several_pictures_counts(tmp_path, faces):
    g = Gallery(tmp_path)
    assert g.enrol(ALICE, "Barack", [faces["obama"], faces["obama3"]], "dlib") == 2
    match = g.identify(ALICE, faces["obama2"].vector, "dlib", 0.6)
    want = min(float(distance(faces[n].vector, faces["obama2"].vector)) for n in ("obama", "obama3"))
    assert match.distance == pytest.approx(want, abs=1e-5)
    assert [p.samples for p in g.people(ALICE)] == [2]
    crops = g.crops(ALICE, "Barack")
    assert len(crops) == 2 and np.array_equal(crops[0], faces["obama"].crop)  # PNG: lossless


def test_owners_are_kept_apart(tmp_path, faces):
    g = Gallery(tmp_path)
    g.enrol(ALICE, "Barack", [faces["obama"]], "dlib")
    assert g.people(BOB) == [] and g.crops(BOB, "Barack") == []
    bobs = g.identify(BOB, faces["obama2"].vector, "dlib", 0.6)
    assert not bobs.known and bobs.nearest is None  # Alice's Barack is not Bob's
    g.enrol(BOB, "Barack", [faces["biden"]], "dlib")  # Bob's own "Barack" is someone else
    assert g.identify(BOB, faces["obama2"].vector, "dlib", 0.6).name == UNKNOWN
    assert g.identify(ALICE, faces["obama2"].vector, "dlib", 0.6).name == "Barack"
    assert g.delete(BOB, "Barack") == 1
    assert [p.name for p in g.people(ALICE)] == ["Barack"]
    assert g.export(BOB)["people"] == []


def test_delete_clear_and_export(tmp_path, faces):
    g = Gallery(tmp_path)
    g.enrol(ALICE, "Barack", [faces["obama"], faces["obama2"]], "dlib")
    g.enrol(ALICE, "Joe", [faces["biden"]], "dlib")
    exported = json.loads(json.dumps(g.export(ALICE)))
    assert [p["name"] for p in exported["people"]] == ["Barack", "Joe"]
    assert np.allclose(exported["people"][1]["embeddings"][0]["vector"], faces["biden"].vector, atol=1e-5)
    assert ALICE not in json.dumps(exported) and "crop" not in json.dumps(exported)
    assert g.delete(ALICE, "Joe") == 1 and [p.name for p in g.people(ALICE)] == ["Barack"]
    assert g.identify(ALICE, faces["biden"].vector, "dlib", 0.6).name == UNKNOWN
    assert g.clear(ALICE) == 2 and g.people(ALICE) == []
    with sqlite3.connect(g.db) as con:  # gone from the file, not only hidden
        assert con.execute("SELECT COUNT(*) FROM samples").fetchone()[0] == 0


def test_limits_and_names(tmp_path, faces):
    g = Gallery(tmp_path)
    with pytest.raises(ValueError, match="a name cannot be empty"):
        g.enrol(ALICE, "  ", [faces["obama"]], "dlib")
    with pytest.raises(ValueError, match="cannot hold '<'"):
        g.enrol(ALICE, "<script>", [faces["obama"]], "dlib")
    with pytest.raises(ValueError, match="nothing to enrol"):
        g.enrol(ALICE, "Barack", [], "dlib")
    with pytest.raises(ValueError, match=f"at most {MAX_SAMPLES} pictures"):
        g.enrol(ALICE, "Barack", [faces["obama"]] * (MAX_SAMPLES + 1), "dlib")
    assert g.people(ALICE) == []
    g.enrol(ALICE, "  Barack   Obama ", [faces["obama"]], "dlib")
    assert [p.name for p in g.people(ALICE)] == ["Barack Obama"]


def test_another_backends_vectors_are_not_matched(tmp_path, faces):
    g = Gallery(tmp_path)
    g.enrol(ALICE, "Barack", [faces["obama"]], "other")
    assert g.identify(ALICE, faces["obama"].vector, "dlib", 0.6).nearest is None
    assert g.people(ALICE, "dlib") == [] and [p.name for p in g.people(ALICE)] == ["Barack"]
