# Entry points of the book. `make book` and `make test` work on a fresh clone:
# they create the virtual environment in .venv when it is missing.
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
# Widgets draw their static figure while the book builds and the tests run.
export NBUTILS_STATIC := 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: install book test test-fast serve clean

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

## Every test: nbutils units, checkers, hygiene, nbval over chapters/, the strict book build.
test: $(STAMP)
	$(PY) -m pytest

## The same without the book build and nbval (seconds, for editing nbutils).
test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow"

## Serve the built website on http://127.0.0.1:8000
serve:
	$(PY) -m http.server 8000 --bind 127.0.0.1 --directory _build/html

clean:
	rm -rf _build
