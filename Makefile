# Two commands on a fresh machine: `make demo` and `make test`. Each sets itself up first.
# CPU machines get torch==2.13.0 (the CPU build); on a CUDA machine see README "Install".
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-all lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@command -v espeak-ng >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && apt-get install -y -qq espeak-ng >/dev/null) || echo "warning: could not install espeak-ng"; \
	  else echo "note: install espeak-ng (apt-get install espeak-ng) for the espeak test voices"; fi; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[dev,mms,xtts]"
	touch $(STAMP)

demo: setup
	$(BIN)/voicetune demo

test: setup
	$(BIN)/python -m pytest -q

test-all: setup
	$(BIN)/python -m pytest -q -m ""

lint: setup
	$(BIN)/ruff check src tests bench

clean:
	rm -rf $(VENV) demo-output
