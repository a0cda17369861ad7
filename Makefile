# PayLater: `make run` starts the whole product locally; `make test` installs and checks.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
# checkov pins an old boto3 that clashes with moto and chalice: its own venv.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
CHECKOV := $(CHECKOV_VENV)/bin/checkov

# `make package STAGE=dev` for the dev stage. chalice package needs a region even offline.
STAGE ?= prod
AWS_DEFAULT_REGION ?= cn-north-1
export AWS_DEFAULT_REGION
PACKAGE_DIR := build/$(STAGE)/package

.PHONY: help install routes run reset test lint typecheck pytest package infra-check iam-check clean demo redrive soak fuzz bench openapi-snapshot chromium console-shots webhook-receiver lifecycle

# The console's browser tests drive Debian's Chromium through Playwright (which never
# downloads a browser here); CI machines start without it.
CHROMIUM := /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

help:  ## this list
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## /\1\t/' | expand -t 18

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade "pip<26.3"  # chalice 1.34 declares pip<26.3 (chalice package builds with it)
	$(PIP) install -q -r requirements-dev.txt
	touch $(STAMP)

$(CHECKOV_STAMP): requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install -q --upgrade pip
	$(CHECKOV_VENV)/bin/pip install -q -r requirements-checkov.txt
	touch $(CHECKOV_STAMP)

install: $(STAMP)

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium

chromium: $(CHROMIUM)

# tests/contract/test_typescript_types.py: openapi-typescript and tsc, pinned by clients/typescript's
# package-lock.json, installed there (never globally); Node and npm from Debian if missing.
NPM := $(or $(shell command -v npm 2>/dev/null),/usr/bin/npm)
NODE_MODULES := clients/typescript/node_modules/.installed

$(NPM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nodejs npm

$(NODE_MODULES): clients/typescript/package.json clients/typescript/package-lock.json | $(NPM)
	cd clients/typescript && $(NPM) ci --no-audit --no-fund --loglevel=error
	touch $@

routes: install  ## chalicelib/route_table.py from the routers (after adding or changing a route)
	$(PY) -m scripts.routes

run: install  ## the whole product on http://127.0.0.1:8000 (Ctrl-C stops it)
	$(PY) -m chalicelib.local.stack

reset: install  ## a clean stack for the next walk: empties a running `make run` (same PORT), clock back, demo data again
	$(PY) -m scripts.reset

webhook-receiver: install  ## a merchant's sample receiver on 127.0.0.1:8700: `make webhook-receiver SECRET=whsec_...`
	$(PY) -m scripts.webhook_receiver --secret $(SECRET) --port $(or $(WEBHOOK_PORT),8700)

redrive: install  ## the review DLQ: `make redrive` lists it, `make redrive ACTION=move` re-drives it
	$(PY) -m chalicelib.local.redrive $(or $(ACTION),list)

risk-backtest: install  ## replay recorded risk decisions through the rules (RULES=file.json: a proposed set)
	$(PY) -m scripts.risk_backtest $(if $(RULES),--rules $(RULES))

lint: install
	$(VENV)/bin/ruff check .

typecheck: install
	$(VENV)/bin/mypy

# Both cores: one pytest worker (and one in-process moto) per core; a file's tests stay on one
# worker so module fixtures (a started local stack) are built once. PYTEST_WORKERS=0 runs serially.
PYTEST_WORKERS ?= auto
pytest: install $(CHROMIUM) $(NODE_MODULES)
	PAYLATER_REQUIRE_NODE=1 $(PY) -m pytest -m "not slow" -n $(PYTEST_WORKERS) --dist loadfile

fuzz: install  ## schemathesis against the local stack, long run (FUZZ_ARGS="--max-time 600 --seed N")
	$(PY) -m scripts.fuzz --max-examples 300 $(FUZZ_ARGS)

openapi-snapshot: install  ## a deliberate contract change: rewrite tests/contract/openapi.snapshot.json from /v1/openapi.json
	PAYLATER_UPDATE_OPENAPI_SNAPSHOT=1 $(PY) -m pytest -q -n 0 -p no:randomly tests/contract/test_openapi_snapshot.py

bench: install  ## import time, DynamoDB calls per route, sweeper reads, requests/s, hot partitions
	$(PY) -m scripts.bench $(BENCH_ARGS)

package: install  ## build/$(STAGE)/package/{sam.json,deployment.zip} and how to deploy them
	$(PY) scripts/infra.py package --stage $(STAGE)

# Offline checks of the deployable template: cfn-lint, checkov (stock rules plus ours in
# infra/checkov), tests on the packaged output (they also run our checks on a known-bad template).
infra-check: package $(CHECKOV_STAMP)
	$(VENV)/bin/cfn-lint --regions $(AWS_DEFAULT_REGION) -- $(PACKAGE_DIR)/sam.json
	$(CHECKOV) -f $(PACKAGE_DIR)/sam.json --framework cloudformation --skip-download --quiet --compact \
		--external-checks-dir infra/checkov
	PAYLATER_PACKAGED=$(PACKAGE_DIR) PAYLATER_STAGE=$(STAGE) CHECKOV=$(CHECKOV) \
		$(PY) -m pytest tests/infra/test_packaged_template.py

# The product under IAM enforcement (moto on loopback): the walks (docs/walks.md), the demo story and
# every job, each AWS call signed as the function that makes it in the cloud with the policy
# scripts/infra.py generates from chalicelib/grants.py; fails on any denied call, names it.
iam-check: install  ## least privilege, proven by running (decisions: build/iam-decisions.jsonl)
	$(PY) -m scripts.iam_check --log build/iam-decisions.jsonl

test: lint typecheck pytest infra-check iam-check  ## what CI runs (pytest includes a short fuzz run: tests/contract/test_fuzz.py)

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .mypy_cache .ruff_cache .local build

console-shots: install $(CHROMIUM)  ## docs/console-*.png: each console screen against a fresh local stack
	fc-list 2>/dev/null | grep -qi "wqy\|noto.*cjk" || DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq fonts-wqy-microhei
	$(PY) -m scripts.console shots

lifecycle: install  ## docs/lifecycle.md: the order lifecycle's table and state diagram, from the code
	$(PY) -m scripts.lifecycle

demo: install  ## walk the whole story over HTTP against `make run` (start it in another terminal)
	$(PY) -m scripts.demo

soak: install  ## the model-based money test, long: 5,000 steps with DynamoDB faults on every core (docs/operations.md "Soak")
	MODEL_FULL_EVERY=$${MODEL_FULL_EVERY:-25} MODEL_EXAMPLES=$${MODEL_EXAMPLES:-70} MODEL_STEPS=$${MODEL_STEPS:-100} $(PY) -m scripts.soak
