# Everything a new machine needs comes from this file and pyproject.toml.
# `make demo` and `make test` install on first use; later runs reuse the venv until
# pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint format bench clean sandbox

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,meltano]'
	touch $(STAMP)

install: $(STAMP)

## Run the whole pipeline against the local Zoom sandbox (no Zoom account needed).
demo: $(STAMP)
	$(BIN)/python -m tap_zoom_defender.demo

## Lint + the full test suite (what CI runs).
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## Start a sandbox in the foreground (Ctrl-C to stop).
sandbox: $(STAMP)
	$(BIN)/zoom-sandbox --plan pro --users 500 --days 14 --seed 7

bench: $(STAMP)
	$(BIN)/python bench/sandbox_throughput.py

clean:
	rm -rf $(VENV) .meltano .pytest_cache .ruff_cache demo-output
