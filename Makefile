# The README's two commands: `make demo` (install + main job) and `make test` (install + tests).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# GPU users: install their own torch build into $(VENV) first and run with TORCH= (empty) to keep it.
TORCH ?= torch==2.13.0

.PHONY: install demo test bench

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(if $(TORCH),$(BIN)/python -m pip install -q "$(TORCH)")
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/sensoryt5 reproduce --quick

test: install
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python -m benchmarks
