# Two commands for a newcomer: `make up` starts the platform, `make test` runs the suite.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: up test bench install clean lint-deploy web-assets browser
# The web pages' front-end libraries come from the npm registry, never from the repository:
# Chart.js (served to browsers from the git-ignored static/vendor/) and axe-core (tests only).
NPM_PACKAGES := chart.js@4.6.1 axe-core@4.14.1
NPM_DIR := build/npm
WEB_VENDOR := gateway/web/static/vendor
WEB_STAMP := $(WEB_VENDOR)/.installed

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade "pip>=23.2"
	$(PY) -m pip install -q -c constraints.txt -e ".[test]"
	@touch $(STAMP)

install: $(STAMP)

$(WEB_STAMP): Makefile
	@command -v npm >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq npm >/dev/null; } || \
	  { echo "npm is missing: apt-get install npm (the charts need it; the pages work without)"; exit 1; }
	npm install --prefix $(NPM_DIR) --no-audit --no-fund --no-save --silent $(NPM_PACKAGES)
	mkdir -p $(WEB_VENDOR)
	cp $(NPM_DIR)/node_modules/chart.js/dist/chart.umd.min.js $(WEB_VENDOR)/
	@touch $(WEB_STAMP)

web-assets: $(WEB_STAMP)

# Debian's Chromium for the browser tests (Playwright never downloads a browser here)
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq chromium; } || \
	  echo "Chromium is missing: run 'sudo apt-get install chromium' (the browser tests are skipped without it)"

up: $(STAMP)
	-@$(MAKE) --no-print-directory web-assets
	$(PY) -m deploy.local.up

test: $(STAMP) web-assets browser
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m bench.run_all

lint-deploy: $(STAMP)
	$(PY) -m pytest -q tests/unit/test_deploy_manifests.py

clean:
	rm -rf $(VENV) var
