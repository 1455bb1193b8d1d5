# Entry points of the book. `make book` and `make test` work on a fresh clone:
# they create the virtual environment in .venv when it is missing.
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
# Widgets draw their static figure while the book builds and the tests run.
export NBUTILS_STATIC := 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1
NPROC   := $(shell nproc)
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install book test test-fast test-determinism test-offline browser bench bench-quick serve clean

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

## Every test: nbutils units, checkers, hygiene, nbval over chapters/, the strict book build, every page in Chromium.
test: $(STAMP) browser
	$(PY) -m pytest

## The same without the book build and nbval (seconds, for editing nbutils).
test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow" tests/

## Debian's Chromium for tests/test_site_browser.py, installed when missing (no browser download by playwright).
browser:
	@test -x /usr/bin/chromium || { $(SUDO) apt-get update && $(SUDO) apt-get install -y chromium chromium-driver; }

## nbval over every chapter twice, with one thread and with every core: printed values must not change.
test-determinism: $(STAMP)
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m pytest chapters/
	OMP_NUM_THREADS=$(NPROC) MKL_NUM_THREADS=$(NPROC) $(PY) -m pytest chapters/

## A clean strict build and every test with no network: a new network namespace where only loopback is up
## (the Jupyter kernels and the browser test's server use 127.0.0.1). Needs root, as CI has.
test-offline: $(STAMP) browser
	rm -rf _build
	$(SUDO) unshare --net sh -c 'ip link set lo up && test "$$(ip -o link show up | cut -d: -f2)" = " lo" \
		&& test -z "$$({ ip route show table all; ip -6 route show table all; } | grep -v " dev lo ")" \
		&& echo "offline: only loopback is up and every route stays on it" && $(PY) -m pytest'

## Benchmark: each chapter 3x in a fresh kernel, the clean book build, from-scratch vs PyTorch, scaling.
## Writes benchmarks/results.json, which the page performance.md shows (6 to 8 minutes on 2 cores).
bench: $(STAMP)
	$(PY) -m benchmarks

## One run per chapter and fewer samples, no profiles, no book build; prints the tables, writes nothing.
bench-quick: $(STAMP)
	$(PY) -m benchmarks --quick

## Serve the built website on http://127.0.0.1:8000
serve:
	$(PY) -m http.server 8000 --bind 127.0.0.1 --directory _build/html

clean:
	rm -rf _build
