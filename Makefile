# The entry points: `make run` (the default flow) and `make test` (the test suite); `make setup`
# alone prepares the machine and .venv (CI pipelines call it before their own steps).
# Setup reruns when pyproject.toml is newer than the venv.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages the flow and its tests run: the C-sim compiler, Tcl for the tool-script
# checks, rsync for the local GitLab runner of the CI test.
PACKAGES := g++ tcl rsync
# The local GitLab CI runner the CI test runs the pipeline template with (the last release that
# runs on Node.js 20).
GITLAB_CI_LOCAL := gitlab-ci-local@4.65.1

.PHONY: run test setup clean-venv

$(STAMP): pyproject.toml
	@missing=$$(for p in $(PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	  if [ -n "$$missing" ]; then \
	    $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $$missing; fi
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	npm install --silent --no-audit --no-fund --prefix $(VENV)/node $(GITLAB_CI_LOCAL)
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/doit

test: $(STAMP)
	$(VENV)/bin/python -m pytest

clean-venv:
	rm -rf $(VENV)
