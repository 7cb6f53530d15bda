# Set-up and the two everyday commands. `make demo` and `make test` create .venv on first use
# (torch first: the CPU wheel torch==2.13.0 unless .venv already has a torch, e.g. your CUDA
# build), then install drift with its extras; later calls reuse the environment.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_SPEC ?= torch==2.13.0
PIP := $(BIN)/python -m pip install --disable-pip-version-check -q
ARGS ?=

.PHONY: install demo test lint clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(PIP) "$(TORCH_SPEC)"
	$(PIP) -e ".[dev,embed]"
	touch $@

demo: install
	$(BIN)/drift $(ARGS)

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check drift tests benchmarks
	$(BIN)/ruff format --check drift tests benchmarks

clean:
	rm -rf $(VENV) outputs/runs outputs/multiruns outputs/cache
