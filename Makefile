# `make demo` and `make test` work from a fresh clone: they create .venv and install what they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The CPU wheel of torch lies on this machine's disk; an unpinned torch would pull a multi-GB CUDA build.
TORCH_PIN := torch==2.13.0
STAMP  := $(VENV)/.installed
DEMO_DIR ?= demo-work

.PHONY: demo test lint bench clean-venv browser

$(STAMP): pyproject.toml Makefile constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt "$(TORCH_PIN)"
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev,ml,llm,view,ray]"
	# The tests load exports with LLaMA-Factory's own loader; its pins (datasets<=4, av<=16, torchvision)
	# would downgrade ours or pull a torchvision that does not load beside the CPU torch.
	$(BIN)/python -m pip install -q --no-deps llamafactory==0.9.5
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m vidcurate.demo --out $(DEMO_DIR)

# The report and viewer tests drive Debian's chromium through Playwright (never `playwright install`).
browser:
	@command -v chromium >/dev/null || (apt-get update && apt-get install -y --no-install-recommends chromium)

test: $(STAMP) browser
	$(BIN)/python -m ruff check src tests bench
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/python -m ruff check src tests bench
	$(BIN)/python -m ruff format --check src tests bench
	$(BIN)/python -m mypy

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean-venv:
	rm -rf $(VENV)
