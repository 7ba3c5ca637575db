# Two commands for a newcomer: `make up` starts the platform, `make test` runs the suite.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: up test bench install clean lint-deploy

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade "pip>=23.2"
	$(PY) -m pip install -q -c constraints.txt -e ".[test]"
	@touch $(STAMP)

install: $(STAMP)

up: $(STAMP)
	$(PY) -m deploy.local.up

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m bench.run_all

lint-deploy: $(STAMP)
	$(PY) -m pytest -q tests/unit/test_deploy_manifests.py

clean:
	rm -rf $(VENV) var
