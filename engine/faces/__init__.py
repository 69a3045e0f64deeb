"""Week 4: faces — verification (1:1, "is this the same person?") and recognition (1:K, "who is this?") with a
pretrained pipeline, and the triplet-loss lab's embedding.

The pipeline is FaceNet's idea (Schroff et al., 2015, "FaceNet: A Unified Embedding for Face Recognition and
Clustering"): a network maps an aligned face to a vector so that the same person's faces lie close and different
people's far apart; verification thresholds a distance, recognition is the nearest enrolled vector. Offline it runs on
dlib's models (``backend.py``, ``dlib_backend.py``: HOG or CNN detection, 5-point alignment, the 128-d ResNet
embedding); other backends: ``mtcnn.py``/``mtcnn_backend.py`` (MTCNN's cascade, boxes and five landmarks, with
dlib's embedding) and ``facenet.py`` (MTCNN and FaceNet's 512-d Inception-ResNet-v1, weights through
``engine.nets.weights``). ``pipeline.py`` finds and embeds one face with clear errors, ``verify.py`` compares two,
``gallery.py`` keeps each owner's enrolled people in SQLite and identifies a probe, ``cli.py`` is
``python -m engine verify``. The triplet lab's are ``triplet.py`` (the loss and mining), ``metrics.py`` (ROC, AUC,
FAR/FRR) and ``embed.py`` (the "embed" task).
See docs/faces.md. Nothing heavy is imported here: the models load when a backend is first asked for.
"""
