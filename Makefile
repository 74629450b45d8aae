# Two set-up commands (see README.md): `make demo` and `make test`.
# Everything they need is installed by the rules below, from pinned files:
#   .kit/tools      bootstrap venv holding uv (from PyPI)
#   .venv           the notebook environment = environment.yml (+ dev tooling)
#   .venv-airflow   the Airflow environment = requirements/airflow.txt (+ test tooling)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3.11
UV_VERSION := 0.13.9
TOOLS := .kit/tools
UV := $(TOOLS)/bin/uv
VENV := .venv
AIRFLOW_VENV := .venv-airflow
NB_STAMP := $(VENV)/.kit-installed
AF_STAMP := $(AIRFLOW_VENV)/.kit-installed
export UV_CACHE_DIR ?= $(CURDIR)/.kit/uv-cache
export GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT := false

.PHONY: help env demo test lint typecheck pytest bench lab lock clean dev-up dev-down

help:
	@echo "make demo   - embedded GCS + run the forecast notebook (installs what it needs)"
	@echo "make test   - lint, type checks and the whole test suite"
	@echo "make bench  - benchmark suite (bench/results.md)"
	@echo "make lab    - JupyterLab on the notebook environment"
	@echo "make lock   - re-pin environment.yml and requirements/*.txt"

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.kit/notebook-requirements.txt: environment.yml scripts/env_requirements.py | $(UV)
	$(PYTHON) scripts/env_requirements.py environment.yml > $@

$(NB_STAMP): .kit/notebook-requirements.txt requirements/dev.txt pyproject.toml | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(VENV)
	$(UV) pip install --quiet --python $(VENV) -r .kit/notebook-requirements.txt -r requirements/dev.txt
	$(UV) pip install --quiet --python $(VENV) --no-deps -e .
	touch $@

$(AF_STAMP): requirements/airflow.txt requirements/airflow-dev.in pyproject.toml | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(AIRFLOW_VENV)
	$(UV) pip install --quiet --python $(AIRFLOW_VENV) -r requirements/airflow.txt -r requirements/airflow-dev.in -c requirements/airflow.txt
	# kit itself, without dependencies: the Airflow side uses only its stdlib-only modules.
	$(UV) pip install --quiet --python $(AIRFLOW_VENV) --no-deps -e .
	touch $@

# Debian's chromium for the review-page browser tests (Playwright drives it; no download).
BROWSER := /usr/bin/chromium
$(BROWSER):
	bash scripts/install_browser.sh

env: $(NB_STAMP) $(AF_STAMP)

demo: env
	$(VENV)/bin/python scripts/demo.py

PY_DIRS = $(wildcard kit tests dags scripts image bench models)

lint: $(NB_STAMP)
	$(VENV)/bin/ruff check $(PY_DIRS)
	$(VENV)/bin/ruff format --check $(PY_DIRS)
	$(VENV)/bin/lint-imports

typecheck: $(NB_STAMP)
	$(VENV)/bin/mypy

# Two runs, one per environment: tests/dags runs where the DAGs run (Airflow, no notebook deps).
pytest: env $(BROWSER)
	$(VENV)/bin/python -m pytest -q
	if [ -d tests/dags ]; then $(AIRFLOW_VENV)/bin/python -m pytest -q tests/dags; fi

test: lint typecheck pytest

bench: env
	$(VENV)/bin/python -m bench

# The environment's bin folder goes first on PATH, so that kernels (`!kit ...`) and
# JupyterLab's terminals find kit. LAB_ROOT, LAB_ARGS: the folder served and more options.
LAB_ROOT ?= notebooks
lab: $(NB_STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/jupyter lab --notebook-dir=$(LAB_ROOT) $(LAB_ARGS)

lock: | $(UV)
	$(PYTHON) scripts/lock.py $(UV)

dev-up: $(NB_STAMP)
	$(VENV)/bin/kit dev up

dev-down: $(NB_STAMP)
	$(VENV)/bin/kit dev down

clean:
	-$(VENV)/bin/kit dev down 2>/dev/null
	rm -rf $(VENV) $(AIRFLOW_VENV) .kit
