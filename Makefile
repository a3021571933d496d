# `make run`: set up .venv, run the demo on real GloVe vectors and serve the explorer.  `make test`: set up and run the tests.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test setup bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/embspace demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_open_query.py
	$(BIN)/python benchmarks/bench_topk.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
