# Two commands on a fresh machine: `make demo` and `make test`. Each sets itself up first.
# `make setup` installs exactly requirements/ci.lock (what CI tested: Python 3.11, Linux x86_64,
# CPU torch 2.13.0, extras dev,mms,xtts,ui,piper-train); `make lock` regenerates it from pyproject.toml.
# On a CUDA machine see README "Install".
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
LOCK := requirements/ci.lock
LOCK_INPUTS := requirements/ci-constraints.txt
EXTRAS := dev,mms,xtts,ui,piper-train
PIP_VERSION := 26.3
UV_VERSION := 0.13.9
# extra pip options, e.g. PIP_ARGS="--extra-index-url https://download.pytorch.org/whl/cpu" on a machine
# without this kind's local torch wheel
PIP_ARGS ?=
# where this machine kind keeps torch's CPU wheel; `make lock` reads it when it exists
FIND_LINKS ?= /opt/wheels
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-all test-latest test-lowest lint lock bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml $(LOCK)
	@command -v espeak-ng >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && apt-get install -y -qq espeak-ng >/dev/null) || echo "warning: could not install espeak-ng"; \
	  else echo "note: install espeak-ng (apt-get install espeak-ng) for the espeak test voices"; fi; }
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "warning: could not install chromium"; \
	  else echo "note: install chromium (apt-get install chromium) for the browser test of voicetune ui"; fi; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q "pip==$(PIP_VERSION)"
	$(BIN)/python -m pip install -q $(PIP_ARGS) -r $(LOCK)
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	$(BIN)/python tools/check_lock.py $(LOCK)
	touch $(STAMP)

demo: setup
	$(BIN)/voicetune demo

test: setup
	$(BIN)/python -m pytest -q --durations=20  # the slowest tests, so a CI log shows where its minutes went

test-all: setup
	$(BIN)/python -m pytest -q -m ""

lint: setup
	$(BIN)/ruff check src tests bench tools

# The lock: uv pip compile over pyproject.toml's dependencies + the extras CI installs, for the
# interpreter and platform CI runs on. Refresh it after changing pyproject.toml, or to take new
# releases: `make lock && make test`, then commit requirements/ci.lock.
lock:
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install -q "uv==$(UV_VERSION)"
	.venv-lock/bin/uv pip compile pyproject.toml $(foreach e,$(subst $(comma), ,$(EXTRAS)),--extra $(e)) \
	  --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	  $(if $(wildcard $(FIND_LINKS)),--find-links $(FIND_LINKS)) -c $(LOCK_INPUTS) \
	  --custom-compile-command "make lock" -q -o $(LOCK)

# Not part of CI: the newest releases pyproject.toml's ranges allow (torch stays at $(TORCH)), in their
# own venv, running the default suite. Finds the next upstream break before users do.
test-latest:
	rm -rf .venv-latest
	$(PYTHON) -m venv .venv-latest
	.venv-latest/bin/python -m pip install -q --upgrade pip
	.venv-latest/bin/python -m pip install -q $(PIP_ARGS) --upgrade --upgrade-strategy eager "$(TORCH)" -e ".[$(EXTRAS)]"
	.venv-latest/bin/python -m pip freeze --exclude-editable > .venv-latest/freeze.txt
	.venv-latest/bin/python -m pytest -q -p no:cacheprovider

# Not part of CI: the lowest versions pyproject.toml claims for voicetune's direct dependencies.
test-lowest:
	rm -rf .venv-lowest
	$(PYTHON) -m venv .venv-lowest
	.venv-lowest/bin/python -m pip install -q "uv==$(UV_VERSION)"
	.venv-lowest/bin/uv pip compile pyproject.toml $(foreach e,$(subst $(comma), ,$(EXTRAS)),--extra $(e)) \
	  --resolution lowest-direct --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	  $(if $(wildcard $(FIND_LINKS)),--find-links $(FIND_LINKS)) -c $(LOCK_INPUTS) -q -o .venv-lowest/lowest.lock
	.venv-lowest/bin/python -m pip install -q $(PIP_ARGS) -r .venv-lowest/lowest.lock
	.venv-lowest/bin/python -m pip install -q --no-deps --no-build-isolation -e .
	.venv-lowest/bin/python -m pytest -q -p no:cacheprovider

clean:
	rm -rf $(VENV) .venv-lock .venv-latest .venv-lowest demo-output

comma := ,
