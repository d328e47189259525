# The two commands of the README: `make book` and `make test`. Both set up .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed
MATHJAX_VERSION := 3.2.2
MATHJAX := book/_static/mathjax/tex-chtml.js
# nbgrader runs `alembic` and jupyter runs kernels by name: the venv's tools come first.
export PATH := $(BIN):$(PATH)
export COURSEKIT_DEVICE ?= cpu
# Notebooks are executed and re-executed (nbval) with one thread: see tools/notebooks.py.
export OMP_NUM_THREADS ?= 1

.PHONY: install book test lint notebooks release clean

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

# MathJax is served from the built site, never from a CDN: take it from the npm registry.
$(MATHJAX):
	@command -v npm >/dev/null || { echo "npm is needed once to fetch MathJax (apt-get install npm)"; exit 1; }
	rm -rf book/_static/mathjax
	tmp=$$(mktemp -d) && (cd $$tmp && npm pack --silent mathjax@$(MATHJAX_VERSION) >/dev/null && tar xzf mathjax-$(MATHJAX_VERSION).tgz) \
		&& mkdir -p book/_static/mathjax && cp -r $$tmp/package/es5/. book/_static/mathjax/ \
		&& cp $$tmp/package/LICENSE book/_static/mathjax/LICENSE && rm -rf $$tmp

book: $(STAMP) $(MATHJAX)
	$(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint book
	$(BIN)/pytest tests
	$(BIN)/pytest --nbval --nbval-current-env -p no:cacheprovider book solutions

# Authors: rebuild every notebook from nbsrc/, execute it, and regenerate exercises/.
notebooks: $(STAMP)
	$(BIN)/python tools/notebooks.py
	$(BIN)/coursekit release

release: $(STAMP)
	$(BIN)/coursekit release

clean:
	rm -rf _build book/_static/mathjax
