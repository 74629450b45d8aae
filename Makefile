# Two set-up commands (see README.md): `make demo` and `make test`.
# Everything they need is installed by the rules below, from pinned files:
#   .kit/tools      bootstrap venv holding uv (from PyPI)
#   .venv               the notebook environment = environment.yml (+ lab tools, dev tooling)
#   .venv-airflow       the Airflow 2.11 environment = requirements/airflow-2.11.txt (default)
#   .venv-airflow-3.2   the Airflow 3.2 environment = requirements/airflow-3.2.txt
#   .venv-airflow-3.3   the Airflow 3.3 environment = requirements/airflow-3.3.txt
# (each Airflow environment + requirements/airflow-dev.in, its test tooling)
#   kit-runtime:local   the runtime image (image/Dockerfile), built with Docker on a local
#                       stand-in base (scripts/image.py installs and starts the engine if need be)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3.11
UV_VERSION := 0.13.9
TOOLS := .kit/tools
UV := $(TOOLS)/bin/uv
VENV := .venv
# The Airflow versions kit runs on (kit/dagtools/versions.py lists the same, for `kit dag
# test --airflow`); the first one is the default environment, .venv-airflow.
AIRFLOW_VERSIONS := 2.11 3.2 3.3
AIRFLOW_DEFAULT := $(firstword $(AIRFLOW_VERSIONS))
af_venv = .venv-airflow$(if $(filter $(AIRFLOW_DEFAULT),$(1)),,-$(1))
AIRFLOW_VENV := $(call af_venv,$(AIRFLOW_DEFAULT))
NB_STAMP := $(VENV)/.kit-installed
AF_STAMPS := $(foreach v,$(AIRFLOW_VERSIONS),$(call af_venv,$(v))/.kit-installed)
export UV_CACHE_DIR ?= $(CURDIR)/.kit/uv-cache

IMAGE ?= kit-runtime:local

.PHONY: help env demo test test-fast lint typecheck pytest bench lab lock clean dev-up dev-down \
	image image-for-tests

help:
	@echo "make demo   - embedded GCS + run the forecast notebook (installs what it needs)"
	@echo "make test   - lint, type checks and the whole test suite, with kit/'s line coverage"
	@echo "make test-fast - the tests without a browser, Airflow, the image or slow runs"
	@echo "make bench  - benchmark suite (bench/results.md)"
	@echo "make lab    - JupyterLab on the notebook environment"
	@echo "make image  - build the runtime image with Docker ($(IMAGE))"
	@echo "make lock   - re-pin environment.yml and requirements/*.txt"

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.kit/notebook-requirements.txt: environment.yml scripts/env_requirements.py | $(UV)
	$(PYTHON) scripts/env_requirements.py environment.yml > $@

# The notebook environment, plus the laptop-only tools (JupyterLab, ...) and dev tooling.
$(NB_STAMP): .kit/notebook-requirements.txt requirements/lab.txt requirements/dev.txt pyproject.toml | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(VENV)
	$(UV) pip install --quiet --python $(VENV) -r .kit/notebook-requirements.txt \
		-r requirements/lab.txt -r requirements/dev.txt
	$(UV) pip install --quiet --python $(VENV) --no-deps -e .
	touch $@

# One rule per Airflow version; all of them share the uv cache (UV_CACHE_DIR).
define airflow_env
$(call af_venv,$(1))/.kit-installed: requirements/airflow-$(1).txt requirements/airflow-dev.in pyproject.toml | $$(UV)
	# --clear: a changed Airflow version must not leave the previous one's packages behind.
	$$(UV) venv --quiet --clear --python $$(PYTHON) $(call af_venv,$(1))
	$$(UV) pip install --quiet --python $(call af_venv,$(1)) -r requirements/airflow-$(1).txt -r requirements/airflow-dev.in -c requirements/airflow-$(1).txt
	# kit itself, without dependencies: the Airflow side uses only its stdlib-only modules.
	$$(UV) pip install --quiet --python $(call af_venv,$(1)) --no-deps -e .
	touch $$@
endef
$(foreach v,$(AIRFLOW_VERSIONS),$(eval $(call airflow_env,$(v))))

# Debian's chromium for the review-page browser tests (Playwright drives it; no download).
BROWSER := /usr/bin/chromium
$(BROWSER):
	bash scripts/install_browser.sh

env: $(NB_STAMP) $(AF_STAMPS)

demo: env
	$(VENV)/bin/python scripts/demo.py

PY_DIRS = $(wildcard kit tests dags scripts image bench models)

lint: $(NB_STAMP)
	$(VENV)/bin/ruff check $(PY_DIRS)
	$(VENV)/bin/ruff format --check $(PY_DIRS)
	$(VENV)/bin/lint-imports

# kit/ in the notebook environment; dags/ where it runs, in the default Airflow environment.
typecheck: $(NB_STAMP) $(AIRFLOW_VENV)/.kit-installed
	$(VENV)/bin/mypy
	$(AIRFLOW_VENV)/bin/mypy --cache-dir .mypy_cache/dags dags

# The runtime image, on a stand-in base made from Debian's packages (no registry here).
image:
	$(PYTHON) scripts/image.py build --tag $(IMAGE)

# Built before the tests, which run it as the pods run it. Exit 3 is "no Docker engine can
# be had here": outside CI the image tests then skip, saying why; in CI it fails.
image-for-tests:
	$(PYTHON) scripts/image.py build --tag $(IMAGE) || { code=$$?; \
		[ $$code = 3 ] && [ "$${CI:-}" != true ] || exit $$code; }

# kit/'s line coverage (pyproject's [tool.coverage.*]) over both environments' suites:
# every Python process the tests start is measured too, each into its own file under
# .kit/coverage, combined and reported at the end; below fail_under the report fails
# `make test`.
COVERAGE_DATA := $(CURDIR)/.kit/coverage/data

# One run per environment: tests/dags runs where the DAGs run (Airflow, no notebook deps),
# once on each Airflow version, one after another.
# Coverage is measured on the default version (where kit.dagtools runs under the tests too);
# the other versions run the same tests without it, which keeps `make test` in its budget
# (coverage's tracing of every Airflow process costs about 1.5x there).
define dag_tests
	@echo "tests/dags on Airflow $(1):"
	$(if $(filter $(AIRFLOW_DEFAULT),$(1)),COVERAGE_FILE=$(COVERAGE_DATA) $(call af_venv,$(1))/bin/coverage run -m pytest,$(call af_venv,$(1))/bin/python -m pytest) -q tests/dags

endef
pytest: env $(BROWSER) image-for-tests
	rm -rf .kit/coverage && mkdir -p .kit/coverage
	COVERAGE_FILE=$(COVERAGE_DATA) RUNTIME_IMAGE=$(IMAGE) $(VENV)/bin/coverage run -m pytest -q
	$(foreach v,$(AIRFLOW_VERSIONS),$(call dag_tests,$(v)))
	$(VENV)/bin/coverage combine --quiet --data-file=$(COVERAGE_DATA)
	@echo "Line coverage of kit/ (files at 100% not listed):"
	$(VENV)/bin/coverage report --data-file=$(COVERAGE_DATA)

test: lint typecheck pytest

# The inner loop: no browser, no Airflow, no image, no slow runs (pytest markers, see
# tests/conftest.py), no coverage; under two minutes on 2 cores. `make test` runs it all.
FAST := not (browser or airflow or image or slow)
test-fast: $(NB_STAMP)
	$(VENV)/bin/python -m pytest -q -m "$(FAST)"

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
	rm -rf $(VENV) $(foreach v,$(AIRFLOW_VERSIONS),$(call af_venv,$(v))) .kit
