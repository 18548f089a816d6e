# Everything a new machine needs comes from this file and pyproject.toml.
# `make demo` and `make test` install on first use; later runs reuse the venv until
# pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint format bench clean sandbox browser

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,meltano]'
	touch $(STAMP)

# Meltano's plugin venvs (tap-zoom and target-defender are this repo, editable; target-jsonl from
# PyPI). Re-made when the project's dependencies or plugin definitions change.
MELTANO_STAMP := .meltano/.installed
$(MELTANO_STAMP): $(STAMP) meltano.yml
	$(BIN)/meltano install
	touch $(MELTANO_STAMP)

# Debian's chromium and its chromedriver, for the browser test of `authorize`
# (tests/authorize/test_browser.py): selenium drives this driver, nothing is downloaded at run
# time. Installed once, when the driver is missing (as root: CI and the dev machines; no sudo).
CHROMEDRIVER := /usr/bin/chromedriver
$(CHROMEDRIVER):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver

browser: $(CHROMEDRIVER)

install: $(STAMP) $(MELTANO_STAMP)

## Run the whole pipeline against the local Zoom sandbox (no Zoom account needed).
demo: $(STAMP) $(MELTANO_STAMP)
	$(BIN)/python -m tap_zoom_defender.demo

## Lint + the full test suite (what CI runs).
test: $(STAMP) $(MELTANO_STAMP) $(CHROMEDRIVER)
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

# --- Many Zoom accounts on Dagster, state in Azure Blob Storage (docs/scale-out.md) ------------
# The dagster utility (orchestration/dagster.meltano.yml, included from meltano.yml) is one of the
# plugins `meltano install` installs: re-run it when the included Meltano files change.
$(MELTANO_STAMP): $(wildcard orchestration/*.meltano.yml) orchestration/dagster/constraints.txt

# Azurite, Microsoft's Azure Storage emulator (an npm package), for tests/orchestration: `npm ci`
# from the committed lock file into orchestration/azurite/node_modules (git-ignored). Node.js and
# npm come from Debian when missing (as root, like chromium above).
AZURITE := orchestration/azurite/node_modules/.bin/azurite-blob
$(AZURITE): orchestration/azurite/package.json orchestration/azurite/package-lock.json
	command -v npm >/dev/null 2>&1 || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm; }
	cd orchestration/azurite && npm ci --no-audit --no-fund --loglevel=error
	touch $(AZURITE)

.PHONY: azurite orchestrator
azurite: $(AZURITE)
test: $(AZURITE)

## Dagster's UI and daemon on http://127.0.0.1:3000 over every Meltano job (Ctrl-C to stop).
orchestrator: $(STAMP) $(MELTANO_STAMP)
	mkdir -p .meltano/dagster
	test -f .meltano/dagster/dagster.yaml || cp orchestration/dagster/dagster.yaml .meltano/dagster/
	PATH="$(CURDIR)/$(BIN):$$PATH" MELTANO_ENVIRONMENT=prod $(BIN)/meltano invoke dagster:dev
