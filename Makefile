# Two commands do all the set-up: `make demo` and `make test`. Each builds .venv when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Three pytest-xdist workers, a test module each at a time: the integration tests mostly wait on
# their stack's processes (the CPU is busy 40 % of the time with two), so three stacks side by side
# keep two cores busy: 7 minutes against 10 with two workers, on this suite. The modules marked
# long_running go first (tests/conftest.py): xdist's own order, by number of tests, left the
# one-test demo and backfill modules to the end of the run.
PYTEST_ARGS ?= -n 3 --dist loadfile --no-loadscope-reorder

.PHONY: demo demo-once test bench clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,sandbox]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/ml-connector demo

demo-once: $(STAMP)
	$(BIN)/ml-connector demo --once

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .demo .mlc .pytest_cache
