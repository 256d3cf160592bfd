# `make run` starts the platform on embedded defaults; `make test` runs the test suite.
# Each creates .venv and installs what it needs the first time.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

LOCALES := backend/pages/locales

.PHONY: run test bench clean messages browser deploy-tools

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/scanpower run

test: $(STAMP) browser deploy-tools
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The browser tests drive Debian's Chromium (a browser download is not possible here) with CJK fonts.
browser:
	@bash .ci/browser-deps

# compose.yaml is validated with Debian's docker-compose, and the broker's configuration with a real Mosquitto.
deploy-tools:
	@bash .ci/deploy-deps

# After changing a page's words: extract them and merge them into the catalogues; then translate the new
# entries in $(LOCALES)/zh_CN/LC_MESSAGES/messages.po (tests/pages/test_translations.py names any left).
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -o $(LOCALES)/messages.pot --no-location --sort-output --omit-header .
	$(BIN)/pybabel update -i $(LOCALES)/messages.pot -d $(LOCALES) -D messages --no-fuzzy-matching \
		--ignore-obsolete --width 120

clean:
	rm -rf $(VENV) var .pytest_cache
