# PayLater: `make run` starts the whole product locally; `make test` installs and checks.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed

.PHONY: install run test lint typecheck pytest fuzz bench clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

run: install  ## the whole product on http://127.0.0.1:8000 (Ctrl-C stops it)
	$(PY) -m chalicelib.local.stack

lint: install
	$(VENV)/bin/ruff check .

typecheck: install
	$(VENV)/bin/mypy

pytest: install
	$(PY) -m pytest -m "not slow"

test: lint typecheck pytest  ## what CI runs (includes a short fuzz run: tests/test_fuzz.py)

fuzz: install  ## schemathesis against the local stack, long run (FUZZ_ARGS="--max-time 600 --seed N")
	$(PY) -m scripts.fuzz --max-examples 300 $(FUZZ_ARGS)

bench: install  ## import time, DynamoDB calls per route, sweeper reads, requests/s, hot partitions
	$(PY) -m scripts.bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .local
