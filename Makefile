# Two commands for a newcomer: `make up` starts the platform, `make test` runs the suite.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: up test bench install system-packages clean lint-deploy

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade "pip>=23.2"
	$(PY) -m pip install -q -c constraints.txt -e ".[test]"
	@touch $(STAMP)

install: $(STAMP)

# Debian packages the platform and its tests need beside Python, installed when missing and we
# are root (CI is a fresh machine); otherwise the missing ones are named.
#   fonts-dejavu-core: the font embedded in printed documents (every Romanian letter)
#   poppler-utils: pdftoppm, the documents' tests render a page to PNG
#   tzdata: Europe/Bucharest on printed documents
#   pgbackrest: the cluster backups and their tests; prometheus: promtool checks the alert rules
SYSTEM_PACKAGES := fonts-dejavu-core poppler-utils tzdata pgbackrest prometheus
system-packages:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else echo "please install these Debian packages:$$missing"; fi; fi

up: $(STAMP) system-packages
	$(PY) -m deploy.local.up

test: $(STAMP) system-packages
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m bench.run_all

lint-deploy: $(STAMP)
	$(PY) -m pytest -q tests/unit/test_deploy_manifests.py

clean:
	rm -rf $(VENV) var
