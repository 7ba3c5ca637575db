# Two commands for a newcomer: `make up` starts the platform, `make test` runs the suite.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: up test bench install clean lint-deploy system-packages

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade "pip>=23.2"
	$(PY) -m pip install -q -c constraints.txt -e ".[test]"
	@touch $(STAMP)

install: $(STAMP)

# Debian packages the tests and the platform need (as root, only when missing; CI is a fresh
# machine). openssh-server: the SFTP backup target test starts a real sshd.
DEBIAN_PACKAGES := openssh-server
system-packages:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  missing=""; for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi; \
	fi

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
