"""Week 4: neural style transfer (Gatys, Ecker & Bethge, 2015-2016) — the content and style costs with Gram matrices
(``costs``), the pretrained networks they are measured on with their layers named for people (``backbones``), the
optimisation of the generated image (``optimise``; as a job: ``engine.jobs.style``), fast feed-forward stylisation
with ONNX networks (``fast``), style images that work offline (``artworks``) and the CLI command (``cli``).
See docs/style.md."""
