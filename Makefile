# Entry points of the book. `make book` and `make test` work on a fresh clone:
# they create the virtual environment in .venv when it is missing.
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
# NBUTILS_STATIC=1 (explorers draw their static figure) is set by nbutils.widgets.BUILD_ENVIRONMENT, which
# the book build (_ext/static_explorers.py), the tests (tests/conftest.py) and the benchmark apply.
NPROC   := $(shell nproc 2>/dev/null || sysctl -n hw.ncpu)
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# The browser test's Chromium; elsewhere than Debian: make test CHROMIUM=/path/to/chromium
CHROMIUM ?= /usr/bin/chromium
export CHROMIUM
LINTED  := nbutils tests benchmarks _ext chapters

.PHONY: install book test test-fast lint test-live test-determinism test-offline browser bench bench-quick serve clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[book]"
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3"
	touch $(STAMP)

install: $(STAMP)

## Execute every notebook and write the website to _build/html.
book: $(STAMP)
	$(VENV)/bin/jupyter-book build . -W -n --keep-going

## Every test: ruff, nbutils units, checkers, hygiene, nbval over chapters/, the strict book build (of the
## stored outputs, which nbval proves fresh), and every page in Chromium (skipped with a note where there is
## no Chromium, except under CI=true).
test: $(STAMP) lint browser
	@if [ -x "$(CHROMIUM)" ]; then $(PY) -m pytest; else \
	echo "Skipping the browser test: no Chromium at $(CHROMIUM); install one and run make test CHROMIUM=/path/to/chromium."; \
	$(PY) -m pytest --ignore=tests/test_site_browser.py; fi

## ruff over the book's code and its chapter notebooks (80 columns there: chapters/ruff.toml).
lint: $(STAMP)
	$(VENV)/bin/ruff check $(LINTED)

## The same without the book build, the browser and nbval (seconds, for editing nbutils).
test-fast: $(STAMP) lint
	$(PY) -m pytest -m "not slow" tests/

## A reader's session: every chapter run and its explorers moved in JupyterLab in Chromium (minutes; not in make test).
test-live: $(STAMP) browser
	$(PY) -m pytest -m live tests/test_live_jupyterlab.py

## Chromium for tests/test_site_browser.py (playwright drives it and downloads no browser): Debian's package
## where apt-get exists; elsewhere nothing (make test skips the browser test), and under CI=true an error.
browser:
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif command -v apt-get >/dev/null 2>&1; then $(SUDO) apt-get update && $(SUDO) apt-get install -y chromium; \
	elif [ "$$CI" = true ]; then echo "CI=true: the browser test needs Chromium at $(CHROMIUM)." >&2; exit 1; fi

## nbval over every chapter twice, with one thread and with every core: printed values must not change.
test-determinism: $(STAMP)
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m pytest -p tests.conftest chapters/
	OMP_NUM_THREADS=$(NPROC) MKL_NUM_THREADS=$(NPROC) $(PY) -m pytest -p tests.conftest chapters/

## A clean strict build and every test with no network: a new network namespace where only loopback is up
## (the Jupyter kernels and the browser test's server use 127.0.0.1). Needs root, as CI has.
test-offline: $(STAMP) browser
	rm -rf _build
	$(SUDO) unshare --net sh -c 'ip link set lo up && test "$$(ip -o link show up | cut -d: -f2)" = " lo" \
		&& test -z "$$({ ip route show table all; ip -6 route show table all; } | grep -v " dev lo ")" \
		&& echo "offline: only loopback is up and every route stays on it" && $(PY) -m pytest'

## Benchmark: each chapter 3x in a fresh kernel (time, peak memory), from-scratch vs PyTorch, scaling.
## Writes benchmarks/results.json, which performance.md and each chapter's cost line show (minutes).
bench: $(STAMP)
	$(PY) -m benchmarks

## One run per chapter and one short measurement per case; prints the tables, writes nothing.
bench-quick: $(STAMP)
	$(PY) -m benchmarks --quick

## Serve the built website on http://127.0.0.1:8000
serve:
	$(PY) -m http.server 8000 --bind 127.0.0.1 --directory _build/html

clean:
	rm -rf _build
