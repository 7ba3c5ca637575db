# Two commands for a newcomer: `make up` starts the platform, `make test` runs the suite.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: up test bench install system-packages test-packages web-assets clean lint-deploy
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

# Debian packages beside Python, installed when missing and we are root (CI is a fresh
# machine); otherwise the missing ones are named.
#   fonts-dejavu-core: the font embedded in printed documents (every Romanian letter)
#   tzdata: Europe/Bucharest on printed documents; npm: fetches the web pages' libraries
#   (only when no npm is on the PATH: a machine whose Node.js comes from NodeSource has npm
#   inside its nodejs package, and Debian's npm would conflict with it)
SYSTEM_PACKAGES := fonts-dejavu-core tzdata $(if $(shell command -v npm),,npm)
# ... and for the tests: poppler-utils (pdftoppm renders a document page to PNG), pgbackrest
# (the cluster backups), prometheus (promtool checks the alert rules), chromium (the browser
# tests; Playwright never downloads a browser here), openssh-server (the SFTP backup target
# test starts a real sshd)
TEST_PACKAGES := poppler-utils pgbackrest prometheus chromium openssh-server
define debian_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else echo "please install these Debian packages:$$missing"; fi; fi
endef
system-packages:
	$(call debian_install,$(SYSTEM_PACKAGES))
test-packages: system-packages
	$(call debian_install,$(TEST_PACKAGES))

$(WEB_STAMP): Makefile
	@command -v npm >/dev/null || { echo "npm is missing: apt-get install npm (the charts need it; the pages work without)"; exit 1; }
	npm install --prefix $(NPM_DIR) --no-audit --no-fund --no-save --silent $(NPM_PACKAGES)
	mkdir -p $(WEB_VENDOR)
	cp $(NPM_DIR)/node_modules/chart.js/dist/chart.umd.min.js $(WEB_VENDOR)/
	@touch $(WEB_STAMP)

web-assets: $(WEB_STAMP)

up: $(STAMP) system-packages
	-@$(MAKE) --no-print-directory web-assets
	$(PY) -m deploy.local.up

test: $(STAMP) test-packages web-assets
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m bench.run_all

lint-deploy: $(STAMP)
	$(PY) -m pytest -q tests/unit/test_deploy_manifests.py

clean:
	rm -rf $(VENV) var
