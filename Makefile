# Quick start:  make demo   (set up, then rank the default zoo)
#               make test   (set up, then run the test suite)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_ZOO ?= zoos/infogan_cr

.PHONY: setup demo test lint clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[torch,dev,ray,gpu]'
	touch $@

# The bundled InfoGAN-CR zoo, in the precision-targeted mode on every core (minutes);
# drop --precision for the full paper protocol.
demo: setup
	$(BIN)/modelcentrality rank $(DEMO_ZOO) --precision 0.01 --jobs 0 -o build/demo-ranking.json

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check .

clean:
	rm -rf build .pytest_cache
