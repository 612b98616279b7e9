# genrnn — the README's two commands are `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.genrnn-installed
# Pin torch to the release that CI uses; TORCH_INDEX lets a user pick a wheel index
# (e.g. the CPU-only one) without editing anything.
TORCH_SPEC  ?= torch==2.13.0
TORCH_INDEX ?=
ARGS ?=

.PHONY: setup system-deps run test test-slow lint bench checkpoints clean

setup: $(STAMP) system-deps

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip >/dev/null 2>&1 || true
	@$(PY) -c "import torch" 2>/dev/null || \
	  $(PY) -m pip install -q "$(TORCH_SPEC)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX),)
	$(PY) -m pip install -q -e ".[test]"
	@touch $(STAMP)

# FluidSynth and a General MIDI SoundFont from the OS packages, only when missing.
system-deps:
	@sh scripts/system-deps.sh

run: setup
	$(PY) tui.py $(ARGS)

test: setup
	$(VENV)/bin/ruff check genrnn tests benchmarks tui.py
	$(VENV)/bin/lint-imports
	$(VENV)/bin/pytest -q $(ARGS)

test-slow: setup
	$(VENV)/bin/pytest -q -m slow $(ARGS)

bench: setup
	$(PY) benchmarks/text_shakespeare.py $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info

# Rebuild the shipped models (see checkpoints/README.md). TEXT=/path/tinyshakespeare.txt skips
# the one-time download; BUDGET_SCALE=10 on a CPU-only machine.
TEXT ?=
BUDGET_SCALE ?= 1
checkpoints: setup
	$(PY) scripts/make_checkpoints.py $(if $(TEXT),--text $(TEXT),) --budget-scale $(BUDGET_SCALE)
