"""The style transfer page's sections (pages/style.py): the two pictures (``images``), the settings (``settings``),
the optimisation with its live view (``run``), the gallery and the Gram matrices (``results``), the blend explorer
(``blend``) and fast mode with the live webcam (``fast``). See docs/style.md."""
