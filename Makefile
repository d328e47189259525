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

.PHONY: install book test lint notebooks release clean browser-deps sandbox-deps publish

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
	$(BIN)/lint-imports  # the architecture: pyproject.toml's [tool.importlinter] contracts

# The browser test (tests/book/test_browser.py) needs Debian's Chromium, its driver and a CJK
# font (Chinese in figures and pages). Installed here when missing; never skipped.
BROWSER_PKGS := chromium chromium-driver fonts-noto-cjk
browser-deps:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null || missing="$$missing chromium-driver"; \
	fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || missing="$$missing fonts-noto-cjk"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then \
			echo "missing Debian packages:$$missing (the browser test needs $(BROWSER_PKGS))"; \
			echo "install them as root: apt-get install -y$$missing"; exit 1; \
		fi; \
		echo "installing$$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -qq --no-install-recommends $$missing >/dev/null 2>&1 \
			|| { apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; } \
			|| exit 1; \
	fi

# `coursekit grade` and `coursekit check` run student code in bubblewrap (Debian's
# `bubblewrap`): installed here when missing, and proved to start (it needs unprivileged user
# namespaces; see the README's trust model for Ubuntu's AppArmor restriction). Never skipped.
sandbox-deps:
	@if ! command -v bwrap >/dev/null; then \
		if [ "$$(id -u)" != 0 ]; then \
			echo "missing Debian package: bubblewrap (coursekit grade runs student code in it)"; \
			echo "install it as root: apt-get install -y bubblewrap"; exit 1; \
		fi; \
		echo "installing bubblewrap"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -qq --no-install-recommends bubblewrap >/dev/null 2>&1 \
			|| { apt-get update -qq && apt-get install -y -qq --no-install-recommends bubblewrap; } \
			|| exit 1; \
	fi
	@bwrap --unshare-all --unshare-user --uid 65534 --gid 65534 --ro-bind / / true 2>/dev/null || { \
		echo "bubblewrap is installed but cannot create a sandbox: unprivileged user namespaces are off."; \
		echo "On Ubuntu 23.10+: see README.md, 'The trust model' (kernel.apparmor_restrict_unprivileged_userns)."; \
		exit 1; }

# nbval re-executes every notebook and compares its stored outputs, twice: on this machine's
# CPU, and as an AVX2-only CPU would compute (torch's vectorised kernels, MKL and oneDNN take
# other code paths), so a stored number that only one kind of CPU reproduces fails here, not
# on a contributor's laptop. --dist loadscope keeps each notebook's cells on one worker.
AVX2_ONLY := ATEN_CPU_CAPABILITY=avx2 MKL_CBWR=AVX2 ONEDNN_MAX_CPU_ISA=AVX2
NBVAL := $(BIN)/pytest --nbval --nbval-current-env -p no:cacheprovider -n 2 --dist loadscope

# --dist loadgroup: tests spread one by one over the workers, except those marked
# xdist_group (modules with module-scoped fixtures, and each assignment's round trip), which
# share one worker, so the fixtures that grade whole classes run once, not once per worker.
test: lint book browser-deps sandbox-deps
	$(BIN)/pytest -n 2 --dist loadgroup --durations=15 tests
	$(NBVAL) book solutions
	$(AVX2_ONLY) $(NBVAL) book solutions

# Authors: rebuild every notebook from nbsrc/, execute it, and regenerate exercises/.
notebooks: $(STAMP) browser-deps  # chapter figures draw Chinese with the CJK font it installs
	$(BIN)/python tools/notebooks.py
	$(BIN)/coursekit release

release: $(STAMP)
	$(BIN)/coursekit release

# A clean build of the site, ready for any static host (GitHub Pages: .github/workflows/pages.yml).
publish: $(STAMP) $(MATHJAX)
	rm -rf _build/html
	$(MAKE) book
	tar -czf _build/site.tar.gz -C _build/html .
	@echo "The site is _build/html (open _build/html/index.html); packed for a static host as _build/site.tar.gz"

clean:
	rm -rf _build book/_static/mathjax
