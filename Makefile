# PayLater: `make run` starts the whole product locally; `make test` installs and checks.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed

.PHONY: install run test lint typecheck pytest clean redrive

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

run: install  ## the whole product on http://127.0.0.1:8000 (Ctrl-C stops it)
	$(PY) -m chalicelib.local.stack

redrive: install  ## the review DLQ: `make redrive` lists it, `make redrive ACTION=move` re-drives it
	$(PY) -m chalicelib.local.redrive $(or $(ACTION),list)

lint: install
	$(VENV)/bin/ruff check .

typecheck: install
	$(VENV)/bin/mypy

pytest: install
	$(PY) -m pytest -m "not slow"

test: lint typecheck pytest  ## what CI runs

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .local
