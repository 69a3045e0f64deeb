#!/usr/bin/env bash
# The labelled face photos the faces tests use (docs/faces.md, docs/assets.md): face_recognition 1.3.0's sdist ships
# tests/test_images/ (obama.jpg, obama2.jpg, obama3.jpg, biden.jpg, ...), and only its sdist does. They are fetched
# here with pip into a git-ignored cache, never committed (their licence is not stated). Best effort: without them
# the tests that need them skip, saying so (and a skip fails CI: tests/conftest.py).
#   usage: scripts/face-photos.sh [DEST (default .cache/face-photos)]    PY: the python with pip (default .venv's)
set -u
DEST="${1:-.cache/face-photos}"
PY="${PY:-.venv/bin/python}"
if [ -f "$DEST/obama.jpg" ] && [ -f "$DEST/biden.jpg" ]; then
    exit 0
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
if "$PY" -m pip download -q --no-binary :all: --no-deps face_recognition==1.3.0 -d "$tmp" \
        && mkdir -p "$DEST" \
        && tar -xzf "$tmp"/face_recognition-1.3.0.tar.gz -C "$tmp" face_recognition-1.3.0/tests/test_images \
        && cp "$tmp"/face_recognition-1.3.0/tests/test_images/* "$DEST"/; then
    echo "face photos: $(ls "$DEST" | wc -l) files in $DEST"
else
    echo "warning: the face photos could not be fetched (pip download face_recognition==1.3.0 failed);" \
         "the tests that need them will skip" >&2
fi
exit 0
