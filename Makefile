# Two commands on a fresh clone: `make demo` and `make test`. Both build .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP := $(VENV)/.dev-installed
SIM_STAMP := $(VENV)/.simulator-installed

.PHONY: install demo test lint bench simulator clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUNTIME_STAMP): requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

# the simulator (tests/simulator, its own distribution): for the demo, the tests and the benchmark
$(SIM_STAMP): tests/simulator/pyproject.toml $(RUNTIME_STAMP)
	$(BIN)/python -m pip install --quiet --no-deps -e tests/simulator
	touch $@

$(DEV_STAMP): requirements-dev.txt $(RUNTIME_STAMP) $(SIM_STAMP)
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

## install: .venv with the pinned runtime dependencies and the package (console scripts included)
install: $(RUNTIME_STAMP)

## demo: load several report types from the simulator into DuckDB and print SQL answers
demo: $(SIM_STAMP)
	$(BIN)/python pipelines/uniware_pipeline.py --demo

## test: lint, type-check and run every test (real HTTP against the simulator, DuckDB, PostgreSQL)
test: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest --basetemp=$(CURDIR)/.pytest-tmp  # its own temp dirs: another pytest run on the machine cleans only its own

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

## bench: the benchmark of the README (DuckDB's read_csv vs the connector on the same file)
bench: $(SIM_STAMP)
	$(BIN)/python pipelines/benchmark.py

## simulator: serve the simulated tenant on ports 8080 (API) and 8081 (files)
simulator: $(SIM_STAMP)
	$(BIN)/python -m uniware_simulator --port 8080 --file-port 8081

## clean: remove everything the Makefile creates (.venv, demo and benchmark output, caches, build metadata)
clean:
	rm -rf $(VENV) .demo .bench .pytest_cache .mypy_cache .ruff_cache *.egg-info tests/simulator/*.egg-info build dist
	find . -path ./.git -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
