"""The CNN Playground engine: pure PyTorch and numpy, no Streamlit. Import submodules directly
(``engine.nets.spec``, ``engine.nets.build``, ``engine.nets.summary`` ...); nothing heavy happens at import time."""
