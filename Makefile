# Headroom: `make run` serves the app, `make test` runs every test layer.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 8501

.PHONY: run test test-fast lint bench clean

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime
	$(PY) -m streamlit run Home.py --server.port $(PORT)

test: $(VENV)/.dev
	bash scripts/install_system_deps.sh
	$(PY) -m pytest

# Without the browser layer: quick feedback while developing.
test-fast: $(VENV)/.dev
	$(PY) -m pytest -m "not browser"

lint: $(VENV)/.dev
	$(PY) -m ruff check core pages tests bench Home.py
	$(PY) -m mypy core

bench: $(VENV)/.runtime
	for f in bench/*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean:
	rm -rf .state tests/artifacts .pytest_cache
