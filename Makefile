# prune2edge: a fresh clone needs only python3 (>= 3.10) and the package registries.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

EXAMPLES := seed_mlp mnist_mlp mnist_cnn mnist_cnn_fast mnist_cnn_small mnist_cnn_calibrated \
            mnist_cnn_clustered mnist_cnn_tune mnist_cnn_tune_small \
            mobilenet_v2_mnist ds_cnn_mnist vww_mobilenet

.PHONY: setup demo test test-all test-fast lint check check-quick baselines bench clean

$(STAMP): pyproject.toml
	rm -f $(VENV)/.installed-*
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

setup: $(STAMP)  ## create .venv and install prune2edge with its dev tools

demo: $(STAMP)  ## build the MNIST CNN example offline into build/demo
	$(BIN)/prune2edge build models/mnist_cnn.toml --out build/demo --force

test: lint  ## lint and type-check, then the tests (the slow end-to-end builds included)
	$(BIN)/pytest -n auto --dist worksteal -m "not exhaustive" --durations=15

test-all: lint  ## as test, plus the exhaustive tests (every Keras 3 family)
	$(BIN)/pytest -n auto --dist worksteal

test-fast: $(STAMP)  ## unit tests only (seconds)
	$(BIN)/pytest -n auto --dist worksteal -m "not slow and not exhaustive"

lint: $(STAMP)  ## ruff, and mypy over the package (tests/test_layers.py holds the import order)
	$(BIN)/ruff check .
	$(BIN)/mypy

check: $(STAMP)  ## build every example, gate it on its budgets and committed baseline
	@for recipe in $(EXAMPLES); do \
	  $(BIN)/prune2edge build models/$$recipe.toml --out build/check/$$recipe --force --quiet \
	    --baseline models/$$recipe.baseline.json || exit $$?; \
	done

check-quick: EXAMPLES := seed_mlp mnist_mlp mnist_cnn mnist_cnn_fast mnist_cnn_small mnist_cnn_calibrated
check-quick: check  ## as check, for the six examples that build in under two minutes each (CI)

baselines: $(STAMP)  ## rebuild the examples and record their baselines (commit the result)
	@for recipe in $(EXAMPLES); do \
	  $(BIN)/prune2edge build models/$$recipe.toml --out build/check/$$recipe --force --quiet \
	  && $(BIN)/prune2edge check build/check/$$recipe --update-baseline \
	    --baseline models/$$recipe.baseline.json || exit $$?; \
	done

bench: $(STAMP)  ## benchmarks, each measured side by side in one run
	$(BIN)/python scripts/bench_structural.py
	$(BIN)/python scripts/bench_obs.py
	$(BIN)/python scripts/bench_tune.py
	$(BIN)/python scripts/bench_applications.py
	$(BIN)/python scripts/bench_mobilenet.py
	$(BIN)/python scripts/bench_vs_tfmot.py
	$(BIN)/python scripts/bench_keras3_engine.py
	$(BIN)/python scripts/bench_keras3_applications.py
	$(BIN)/python scripts/bench_validator.py
	$(BIN)/python scripts/bench_streaming.py
	$(BIN)/python scripts/bench_jobs.py
	$(BIN)/python scripts/bench_micro.py
	$(BIN)/python scripts/bench_collab.py

clean:
	rm -rf build .pytest_cache .ruff_cache
