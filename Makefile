# Tip Pocket — the two Quick start commands: `make run` and `make test`.
# Both create .venv with the first Python 3.11+ found, install what they need, then act.

SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	  command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	  2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
ARGS ?=

.PHONY: run test lint typecheck pytest jstest install install-test bench clean

$(VENV)/bin/python:
	@test -n "$(PYTHON)" || { echo "error: Python 3.11 or newer is needed (python3 --version)"; exit 1; }
	@$(PYTHON) -m venv $(VENV) || { echo "error: could not create $(VENV); on Debian/Ubuntu: apt-get install python3-venv"; exit 1; }
	@$(PY) -m pip install --quiet --upgrade pip

# Stamp files: reinstall only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $@ $(VENV)/.installed

# Browser libraries (hls.js) come from the npm registry into node_modules/, never into the
# repository. Without npm the server still runs; the live page then plays video only in
# browsers with native HLS, and says so.
node_modules/.installed: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --no-audit --no-fund --ignore-scripts --loglevel=error && touch $@; \
	else \
	  echo "warning: npm not found; hls.js not installed (apt-get install npm to add it)"; \
	fi

install: $(VENV)/.installed node_modules/.installed
install-test: $(VENV)/.installed-test node_modules/.installed

run: install
	$(PY) run.py serve $(ARGS)

lint: install-test
	$(PY) -m ruff check .

typecheck: install-test
	$(PY) -m mypy

pytest: install-test
	$(PY) -m pytest $(ARGS)

# The consoles' logic (web/static/*.js) under node's own test runner: no npm package needed.
# Without node 18+ the JS tests are skipped locally, and say so; under CI=true that fails.
jstest:
	@if command -v node >/dev/null 2>&1 \
	    && node -e 'process.exit(Number(process.versions.node.split(".")[0]) < 18 ? 1 : 0)'; then \
	  node --test tests/js/*.test.js; \
	elif [ "$$CI" = "true" ]; then \
	  echo "error: CI=true but node 18 or newer is not installed (tests/js/)"; exit 1; \
	else \
	  echo "warning: node 18 or newer not found; JavaScript tests (tests/js/) skipped (apt-get install nodejs)"; \
	fi

test: lint typecheck jstest pytest

# Each benchmark prints one JSON line with its figures and the floor measured in the same run.
bench: install-test
	$(PY) bench/hub.py
	$(PY) bench/search.py
	$(PY) bench/clips.py

clean:
	rm -rf $(VENV) node_modules .mypy_cache .ruff_cache .pytest_cache
