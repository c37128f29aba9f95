# Quick start:  make demo   (light set-up, then rank the bundled zoo and write its report)
#               make test   (full set-up, then run the test suite)
#               make test-fast (the suite less its slow tests: under a minute)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_ZOO ?= zoos/infogan_cr
# The demo compares with the zoo's ground truth when it has a train-zoo manifest.
DEMO_TRUTH := $(if $(wildcard $(DEMO_ZOO)/manifest.json),--ground-truth $(DEMO_ZOO)/manifest.json)

.PHONY: setup setup-test demo test test-fast lint clean

# The demo needs only the core and matplotlib (no torch, no ray).
setup: $(VENV)/.installed-demo

$(VENV)/.installed-demo: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[report]'
	touch $@

# The tests also exercise the PyTorch adapter, the trainers, the Ray backend and pythae.
setup-test: $(VENV)/.installed-test

$(VENV)/.installed-test: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[torch,dev,ray,gpu,pythae]'
	touch $@ $(VENV)/.installed-demo

# The bundled InfoGAN-CR zoo, in the precision-targeted mode on every core (minutes);
# drop --precision for the full paper protocol. Open build/demo-report/index.html.
demo: setup
	$(BIN)/modelcentrality rank $(DEMO_ZOO) --precision 0.01 --jobs 0 \
	    -o build/demo-ranking.json --report build/demo-report $(DEMO_TRUTH)

test: setup-test
	$(BIN)/python -m pytest -q

# The inner loop: the tests that start no process, run no CLI and train nothing
# (docs/testing.md). CI runs everything (make test).
test-fast: setup-test
	$(BIN)/python -m pytest -q -m "not slow"

# ruff, and the layer contract of .importlinter (an upward import fails).
lint: setup-test
	$(BIN)/ruff check .
	$(BIN)/lint-imports

clean:
	rm -rf build .pytest_cache
