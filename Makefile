# DeepLight: `make run` serves the dashboard, `make test` runs every test. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8501
DEEPLIGHT_HOME ?= $(CURDIR)/data/runtime
export DEEPLIGHT_HOME

.PHONY: venv demo run test test-fast bench lint clean

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps pypiqe==1.2
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

## Prepare the built-in demo (a synthetic DeepLightMD-style country); idempotent.
demo: venv
	$(BIN)/deeplight data demo --out $(DEEPLIGHT_HOME)/demo

## Serve the dashboard (docker/entrypoint.sh prepares the demo first; the Docker image runs the same script).
run: venv
	HOST=$(HOST) PORT=$(PORT) PYTHON=$(CURDIR)/$(BIN)/python sh docker/entrypoint.sh

test: demo
	$(BIN)/python -m pytest

test-fast: venv
	$(BIN)/python -m pytest -m "not e2e and not slow"

## Benchmarks write tables to benchmarks/results/ (see README).
bench: demo
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache test-output
