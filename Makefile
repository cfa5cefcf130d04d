# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test bench clean install install-test translations

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
	scripts/ensure_browser.sh
	$(BIN)/python -m pytest

bench: install-test
	scripts/ensure_services.sh
	-$(BIN)/python bench/partners_api.py
	-$(BIN)/python bench/matching_engine.py
	-$(BIN)/python bench/matching_run.py

# The portal's messages: extract them from code and templates into the Indonesian catalogue
# (new ones arrive untranslated: write their Indonesian; tests/portal/test_translations.py
# fails until every one has it).
translations: install-test
	mkdir -p var
	$(BIN)/pybabel extract -F services/portal/babel.cfg -k _l -k lazy_gettext --no-location \
		--sort-output -o var/portal-messages.pot services/portal
	$(BIN)/pybabel update -i var/portal-messages.pot -d services/portal/translations -l id \
		--no-location --no-fuzzy-matching --ignore-obsolete --width 100

clean:
	rm -rf var .pytest_cache
