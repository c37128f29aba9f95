# Quick start:  make demo   (set up, then rank the default zoo)
#               make test   (set up, then run the test suite)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_ZOO ?= build/demo-zoo

.PHONY: setup demo test lint clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[torch,dev,ray]'
	touch $@

$(DEMO_ZOO): | setup
	$(BIN)/modelcentrality synthetic-zoo $(DEMO_ZOO)

demo: setup $(DEMO_ZOO)
	$(BIN)/modelcentrality rank $(DEMO_ZOO) -o build/demo-ranking.json

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check .

clean:
	rm -rf build .pytest_cache
