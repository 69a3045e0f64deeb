# The README's commands. `make run` serves the app; `make test` runs the whole suite; `make bench` the benchmarks.
# Both set up what they need first: a virtual environment with the pinned requirements and the project (editable).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 8501

.PHONY: run run-https test bench load lint setup setup-dev setup-ray system-deps face-photos clean

$(VENV)/.installed: requirements.txt requirements-nodeps.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -r requirements-nodeps.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

# Ray (docs/ray.md): optional for the app, needed by the tests of jobs on a cluster, so the dev set-up has it too.
$(VENV)/.installed-ray: $(VENV)/.installed requirements-ray.txt
	$(PY) -m pip install -q -r requirements-ray.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed $(VENV)/.installed-ray requirements-dev.txt
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

setup: $(VENV)/.installed
setup-dev: $(VENV)/.installed-dev
setup-ray: $(VENV)/.installed-ray

# Debian packages: Chromium for the browser tests, Fashion-MNIST for the training page. Best effort: installed when
# this machine has apt and we are root; otherwise say what is missing and go on.
system-deps:
	@bash scripts/system-deps.sh

# The faces tests' labelled photos (face_recognition's sdist, into the git-ignored .cache/): scripts/face-photos.sh.
face-photos: setup
	@PY=$(PY) bash scripts/face-photos.sh .cache/face-photos

run: setup
	$(PY) -m streamlit run playground/app.py --server.port $(PORT) --server.headless true \
		--browser.gatherUsageStats false

# The same app over https, for a classroom: other machines' browsers give the camera only to https pages. A self-signed
# certificate is made once in .certs/ (scripts/make-cert.sh); serves on every interface of this machine.
run-https: setup
	bash scripts/make-cert.sh .certs
	$(PY) -m streamlit run playground/app.py --server.port $(PORT) --server.headless true \
		--browser.gatherUsageStats false --server.address 0.0.0.0 \
		--server.sslCertFile .certs/cert.pem --server.sslKeyFile .certs/key.pem

lint: setup-dev
	$(VENV)/bin/ruff check .

test: setup-dev system-deps face-photos lint
	$(PY) -m pytest -q -p no:cacheprovider

# Every benchmark runs, even after one misses its target; then the misses are listed and the exit status says so.
bench: setup-dev
	@missed=""; for f in bench/bench_*.py; do echo "== $$f"; $(PY) $$f || missed="$$missed $$f"; done; \
	if [ -n "$$missed" ]; then echo "== missed their targets:$$missed"; exit 1; else echo "== every benchmark met its target"; fi

# What one server holds: 40 light-client students, 10 of them training, on an app served on loopback (bench/README.md).
load: setup-dev
	$(PY) bench/load_classroom.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .cache
