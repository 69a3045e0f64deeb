"""The CNN Playground engine: pure PyTorch and numpy, no Streamlit. Import submodules directly
(``engine.spec``, ``engine.build``, ``engine.summary`` ...); nothing heavy happens at import time."""
