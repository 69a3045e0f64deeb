# CNN Playground in a container: the app served by the project's own `make run`, on the CPU by default.
# Build: docker build -t cnn-playground .      Run: docker run --rm -p 8501:8501 -v cnnpg-data:/data cnn-playground
# Or: docker compose up (compose.yaml; a GPU service under the profile "gpu"). See docs/hosting.md.
#
# torch comes from PyPI's side of the world here, not from a machine's disk: TORCH_INDEX_URL is an extra package
# index for torch and torchvision at the pinned versions — PyTorch's CPU-only builds by default (a few hundred MB
# instead of several GB of CUDA libraries); the GPU service builds with a CUDA index instead.
FROM python:3.11-slim-bookworm

ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
# 1: Ray too (requirements-ray.txt, about 240 MB), for an app that sends its jobs to a Ray cluster (docs/ray.md).
ARG WITH_RAY=0

# Debian packages: what the app needs at run time (packages.txt, shared with Streamlit-style hosting), make for
# `make run`, openssl for `make run-https`, tini to pass `docker stop` on to the server (runs come back resumable).
COPY packages.txt /tmp/packages.txt
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends make openssl tini \
    $(grep -v '^\s*#' /tmp/packages.txt) \
 && rm -rf /var/lib/apt/lists/* /tmp/packages.txt

# A user of its own; its data in one volume: runs, data sets and weights (the CNNPG_*_DIR variables, and torch's
# cache for weights downloaded when a user allows it).
RUN useradd --create-home --uid 1000 playground \
 && mkdir -p /app /data/runs /data/datasets /data/weights \
 && chown -R playground:playground /app /data
ENV CNNPG_RUNS_DIR=/data/runs \
    CNNPG_DATA_DIR=/data/datasets \
    CNNPG_WEIGHTS_DIR=/data/weights \
    TORCH_HOME=/data/torch \
    PIP_EXTRA_INDEX_URL=${TORCH_INDEX_URL} \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    STREAMLIT_SERVER_ADDRESS=0.0.0.0 \
    PORT=8501
VOLUME /data
USER playground
WORKDIR /app

# The pinned requirements first, in a layer of their own (rebuilt only when the pins change), installed as the
# Makefile does: requirements.txt, then requirements-nodeps.txt without dependencies.
COPY --chown=playground:playground requirements.txt requirements-nodeps.txt requirements-ray.txt ./
RUN python -m venv .venv \
 && .venv/bin/python -m pip install -q -r requirements.txt \
 && .venv/bin/python -m pip install -q --no-deps -r requirements-nodeps.txt \
 && if [ "$WITH_RAY" = 1 ]; then .venv/bin/python -m pip install -q -r requirements-ray.txt; fi

# The project; `make setup` installs it into the same virtual environment (nothing left to download but pip itself).
COPY --chown=playground:playground . .
RUN make setup

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["python", "scripts/healthcheck.py"]
ENTRYPOINT ["tini", "-g", "--"]
CMD ["make", "run"]
