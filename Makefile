# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test bench clean install install-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstall whenever the pinned dependencies change.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed-run

install: $(VENV)/.installed-run
install-test: $(VENV)/.installed-test

run: install
	$(BIN)/python scripts/run.py

test: install-test
	scripts/ensure_services.sh
	$(BIN)/python -m pytest

bench: install-test
	scripts/ensure_services.sh
	-$(BIN)/python bench/partners_api.py
	-$(BIN)/python bench/matching_engine.py
	-$(BIN)/python bench/matching_run.py

clean:
	rm -rf var .pytest_cache
