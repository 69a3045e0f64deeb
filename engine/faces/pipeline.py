"""From a picture to one face's embedding, with an error that says what went wrong: no face, several faces (how
many; the caller picks one), a face too small to trust, or a file that is not a readable image.

Faces are numbered left to right (``pick`` 1 is the leftmost), so a message's "face 2" is the one a person would
call the second. Pictures are ``(H, W, 3)`` uint8 RGB; files and uploads are decoded with the project's safe decoder
(``engine.media.images.decode_upload``: size and pixel caps, a format whitelist).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.faces.backend import Face, FaceBackend
from engine.media.images import MAX_UPLOAD_BYTES, decode_upload, to_uint8

MIN_FACE = 40  # pixels: a smaller face has too little detail for its embedding to mean much


class FaceError(ValueError):
    """A picture that gives no usable face; the message can be shown as it is."""


class NoFaceError(FaceError):
    pass


class ManyFacesError(FaceError):
    """Several faces where one was expected: ``faces`` (left to right) lets the caller pick one."""

    def __init__(self, message: str, faces: list[Face]):
        super().__init__(message)
        self.faces = faces


class TinyFaceError(FaceError):
    pass


class UnreadableImageError(FaceError):
    pass


@dataclass(frozen=True)
class EmbeddedFace:
    """A face found in a picture, its aligned ``crop`` and its ``vector`` (the backend's embedding)."""

    face: Face
    crop: np.ndarray = field(repr=False)
    vector: np.ndarray = field(repr=False)


def read_image(source: str | Path | bytes, max_bytes: int = MAX_UPLOAD_BYTES) -> np.ndarray:
    """A picture file's (or upload's) bytes decoded safely as ``(H, W, 3)`` uint8; ``UnreadableImageError`` saying
    why not."""
    name = "the image"
    if not isinstance(source, bytes):
        name = str(source)
        try:
            with open(source, "rb") as f:
                source = f.read(max_bytes + 1)
        except OSError as e:
            raise UnreadableImageError(f"{name} could not be read: {e.strerror or e}") from None
    try:
        return to_uint8(decode_upload(source, max_bytes=max_bytes))
    except ValueError as e:
        raise UnreadableImageError(f"{name} is not a usable picture: {e}") from None


def as_rgb(image: np.ndarray) -> np.ndarray:
    """``image`` as ``(H, W, 3)`` uint8: gray gets three channels, floats in [0, 1] become 0..255, alpha goes."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = to_uint8(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise UnreadableImageError(f"a picture is (H, W), (H, W, 3) or (H, W, 4), got {image.shape}")
    return np.ascontiguousarray(image[..., :3])


def find_faces(image: np.ndarray, backend: FaceBackend) -> list[Face]:
    """Every face in ``image``, left to right."""
    return sorted(backend.detect(as_rgb(image)), key=lambda f: f.box[0])


def embed_all(image: np.ndarray, backend: FaceBackend, min_size: int = MIN_FACE) -> list[EmbeddedFace]:
    """Every face of at least ``min_size`` pixels in ``image``, left to right, aligned and embedded (in one batch)."""
    image = as_rgb(image)
    faces = [f for f in find_faces(image, backend) if f.size >= min_size]
    crops = [backend.align(image, f) for f in faces]
    vectors = backend.embed(crops)
    return [EmbeddedFace(f, c, v) for f, c, v in zip(faces, crops, vectors, strict=True)]


def embed_one(image: np.ndarray, backend: FaceBackend, pick: int | None = None, min_size: int = MIN_FACE,
              what: str = "the picture") -> EmbeddedFace:
    """The one face of ``image`` (or face number ``pick``, 1 = leftmost, when there are several), embedded.

    ``NoFaceError``, ``ManyFacesError`` (with the faces, to pick from), ``TinyFaceError`` (under ``min_size`` pixels)
    or ``FaceError`` for a ``pick`` out of range; ``what`` names the picture in the message."""
    image = as_rgb(image)
    face = choose(find_faces(image, backend), pick, min_size, what)
    crop = backend.align(image, face)
    return EmbeddedFace(face, crop, backend.embed([crop])[0])


def choose(faces: Sequence[Face | EmbeddedFace], pick: int | None = None, min_size: int = MIN_FACE,
           what: str = "the picture") -> Any:
    """The one of ``faces`` (left to right) to use: the only one, or number ``pick`` (1 = leftmost); the errors of
    ``embed_one``. Takes faces or embedded faces (a page embeds every face once, then lets the user pick)."""
    if not faces:
        raise NoFaceError(f"No face was found in {what}: use a photo with a face seen from the front, at least "
                          f"{min_size} pixels wide.")
    if pick is None and len(faces) > 1:
        raise ManyFacesError(f"{len(faces)} faces were found in {what}; choose one of them (1 = the leftmost, "
                             f"{len(faces)} = the rightmost).", [_face(f) for f in faces])
    if pick is not None and not 1 <= pick <= len(faces):
        raise FaceError(f"{what} has {len(faces)} face{'s' if len(faces) != 1 else ''}; face {pick} does not exist "
                        f"(choose 1 to {len(faces)}).")
    chosen = faces[(pick or 1) - 1]
    size = _face(chosen).size
    if size < min_size:
        raise TinyFaceError(f"The face in {what} is only {size:.0f} pixels wide; at least {min_size} are needed "
                            f"for a reliable comparison. Use a closer or larger photo.")
    return chosen


def _face(f: Face | EmbeddedFace) -> Face:
    return f.face if isinstance(f, EmbeddedFace) else f
