"""Faces: the embedding's throughput (faces/s) of each backend on the CPU, and the webcam recognition path's frames/s.

1. Embedding: ``engine.faces`` aligns and embeds N faces (``align`` for each, then one batched ``embed``) against the
   reference — ``face_recognition``'s way, dlib's ``compute_face_descriptor(image, shape)`` once per face on the whole
   photo — on the same faces and landmarks; vectors checked equal first. Target: at least 0.9× the reference's faces/s.
2. Webcam: ``engine.faces.live.recognise_frame`` on a 640×480 frame with one face (detect on the frame shrunk to
   400 px, align, embed, match against a gallery of 20, draw) against the plain way of ``face_recognition``'s webcam
   demo: HOG on the full frame, the shape predictor and ``compute_face_descriptor`` per face on it, the same matching
   (nothing drawn). Target: at least 1.0× the plain way's frames/s. The CNN detector's path is printed, not judged.

3. Every other backend that runs here (MTCNN + dlib; FaceNet when its weights are here): its faces/s (align each,
   one batched embed), its detection's time on the frame and its webcam path's frames/s, each printed with its ratio
   to dlib's (HOG) measured in the same run — reported, not judged: MTCNN's cascade costs more than HOG on a CPU.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np
from PIL import Image

from engine.faces.backend import BACKENDS, available, backend
from engine.faces.live import Known, recognise_frame

EMBED_TARGET = 0.9
WEBCAM_TARGET = 1.0


def _median(fn, repeats: int) -> float:
    return _alternated([fn], repeats)[0]


def _alternated(fns: list, repeats: int) -> list[float]:
    """The median time of each of ``fns``, their trials alternated (a busy machine slows both alike), after a warm-up
    call of each."""
    for fn in fns:
        fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, kept in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            kept.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def _frame() -> np.ndarray:
    """A 640×480 webcam-like frame: the astronaut photo (one face) scaled to 480 rows, on gray."""
    from skimage import data

    face = np.asarray(Image.fromarray(data.astronaut()).resize((480, 480), Image.BILINEAR))
    frame = np.full((480, 640, 3), 128, np.uint8)
    frame[:, 80:560] = face
    return frame


def _embedding(name: str, faces_n: int, repeats: int) -> float:
    import dlib

    from engine.faces.dlib_backend import MODEL_FILES, models_dir
    from engine.faces.pipeline import find_faces

    be = backend(name)
    image = _frame()
    [face] = find_faces(image, be)
    faces = [face] * faces_n
    net = dlib.face_recognition_model_v1(str(models_dir() / MODEL_FILES["embed"]))
    x0, y0, x1, y1 = (round(v) for v in face.box)
    shape = dlib.full_object_detection(dlib.rectangle(x0, y0, x1, y1),
                                       [dlib.point(round(float(x)), round(float(y))) for x, y in face.landmarks])
    ours = be.embed([be.align(image, f) for f in faces])
    theirs = np.array([np.asarray(net.compute_face_descriptor(image, shape)) for _ in faces])
    assert np.allclose(ours, theirs, atol=1e-5), "the two ways give different vectors"
    t_ours, t_ref = _alternated([lambda: be.embed([be.align(image, f) for f in faces]),
                                 lambda: [net.compute_face_descriptor(image, shape) for _ in faces]], repeats)
    ratio = t_ref / t_ours
    print(f"{name}: embedding {faces_n} faces on the CPU (median of {repeats})")
    print(f"  engine (align each, one batched embed): {faces_n / t_ours:.1f} faces/s")
    print(f"  reference (compute_face_descriptor per face on the photo): {faces_n / t_ref:.1f} faces/s")
    print(f"  ratio: {ratio:.2f}× (target ≥ {EMBED_TARGET:g}×)")
    return ratio


def _webcam(name: str, repeats: int) -> float:
    import dlib

    be = backend(name)
    frame = _frame()
    rng = np.random.default_rng(0)
    known = Known(tuple(f"person {i}" for i in range(20)), rng.normal(0, 0.1, (20, be.dim)).astype(np.float32), 0.6)
    _, found = recognise_frame(frame, be, known)
    assert len(found) == 1, f"expected one face in the frame, found {len(found)}"
    from engine.faces.dlib_backend import MIN_SCORE, MODEL_FILES, models_dir

    hog = dlib.get_frontal_face_detector()
    shapes = dlib.shape_predictor(str(models_dir() / MODEL_FILES["shape"]))
    net = dlib.face_recognition_model_v1(str(models_dir() / MODEL_FILES["embed"]))

    def plain() -> list:
        rects, _, _ = hog.run(frame, 1, MIN_SCORE["hog"])  # the same score floor as the backend's
        vectors = [np.asarray(net.compute_face_descriptor(frame, shapes(frame, r))) for r in rects]
        return known.match(np.array(vectors)) if vectors else []

    assert len(plain()) == 1
    t_path, t_plain = _alternated([lambda: recognise_frame(frame, be, known), plain], repeats)
    ratio = t_plain / t_path
    print(f"{name}: the webcam path on a 640×480 frame with one face (median of {repeats})")
    print(f"  recognise_frame (shrunk to 400 px, detect, align, embed, match 20, draw): {1 / t_path:.1f} frames/s")
    print(f"  reference: the plain way on the full frame (HOG, shapes, descriptors, match): {1 / t_plain:.1f} frames/s")
    print(f"  ratio: {ratio:.2f}× (target ≥ {WEBCAM_TARGET:g}×)")
    cnn = backend(name, detector="cnn")
    t_cnn = _median(lambda: recognise_frame(frame, cnn, known), max(1, repeats // 3))
    print(f"  with the CNN detector instead: {1 / t_cnn:.2f} frames/s, {t_cnn:.1f} s a frame (reported, not judged)")
    return ratio


def _other(name: str, faces_n: int, repeats: int) -> None:
    """A non-dlib backend's faces/s, detection time and webcam frames/s, each against dlib's in the same run."""
    from engine.faces.pipeline import find_faces

    be, ref = backend(name), backend("dlib")
    image = _frame()
    rng = np.random.default_rng(0)
    timings = {}
    for label, b in ((name, be), ("dlib", ref)):
        [face] = find_faces(image, b)
        crops = [b.align(image, face)] * faces_n
        known = Known(tuple(f"person {i}" for i in range(20)), rng.normal(0, 0.1, (20, b.dim)).astype(np.float32),
                      b.default_threshold(b.metric), b.metric)
        timings[label] = (lambda b=b, face=face, crops=crops: b.embed([b.align(image, face)] * faces_n),
                          lambda b=b: b.detect(image), lambda b=b, known=known: recognise_frame(image, b, known))
    embed = _alternated([timings[name][0], timings["dlib"][0]], repeats)
    detect = _alternated([timings[name][1], timings["dlib"][1]], repeats)
    webcam = _alternated([timings[name][2], timings["dlib"][2]], repeats)
    print(f"{name}: against dlib (HOG) in the same run, 640×480 frame with one face (median of {repeats}; reported, "
          f"not judged)")
    print(f"  embedding {faces_n} faces: {faces_n / embed[0]:.1f} faces/s vs dlib {faces_n / embed[1]:.1f} "
          f"({embed[1] / embed[0]:.2f}×)")
    print(f"  detection on the frame: {detect[0] * 1000:.0f} ms vs HOG {detect[1] * 1000:.0f} ms "
          f"({detect[1] / detect[0]:.2f}×)")
    print(f"  webcam path: {1 / webcam[0]:.1f} frames/s vs dlib {1 / webcam[1]:.1f} ({webcam[1] / webcam[0]:.2f}×)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--faces", type=int, default=16, help="faces per embedding batch (default 16)")
    args = parser.parse_args()
    missed = []
    for name, why in available().items():
        if why:
            print(f"{name}: cannot run here ({why}); skipped")
            continue
        if name != "dlib":
            _other(name, args.faces, args.repeats)
            continue
        if _embedding(name, args.faces, args.repeats) < EMBED_TARGET:
            missed.append(f"{name} embedding")
        if _webcam(name, args.repeats) < WEBCAM_TARGET:
            missed.append(f"{name} webcam")
    if not any(why is None for why in available().values()):
        print(f"no face backend runs here ({', '.join(BACKENDS.names())}): install requirements.txt")
        return 1
    print("missed: " + ", ".join(missed) if missed else "every target met")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
