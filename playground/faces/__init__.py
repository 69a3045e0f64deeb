"""UI of the Faces page (pages/faces.py): the shared settings and face picking (``common``), Verify (``verify``),
the gallery and identification (``recognise``), live webcam recognition (``live``). See docs/faces.md."""
