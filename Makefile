# `make run`: set up .venv, run the demo on real GloVe vectors and serve the explorer.  `make test`: set up, lint and run the tests.
# `make lint`: ruff (lint and format check) over src/, tests/ and benchmarks/; `make format` rewrites them.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format setup bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/embspace demo

test: lint
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: $(STAMP)
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_open_query.py
	$(BIN)/python benchmarks/bench_topk.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
