# The entry points: `make run` (the default flow) and `make test` (the test suite); `make setup`
# alone prepares the machine and .venv (CI pipelines call it before their own steps).
# The Debian packages are checked on every call (and installed when missing); the venv is
# rebuilt when pyproject.toml is newer than it.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# What the flow and its tests run: g++ (C-sim), Tcl (the mock vendor tools), OpenSSH's server (the
# deploy tests start their own on 127.0.0.1), Chromium (the report test renders report.html
# headless) and rsync (the local GitLab runner of the CI test).
PACKAGES := g++ tcl openssh-server chromium rsync
# The local GitLab CI runner the CI test runs the pipeline template with (the last release that
# runs on Node.js 20).
GITLAB_CI_LOCAL := gitlab-ci-local@4.65.1

.PHONY: run test setup packages clean-venv

packages:
	@missing=$$(for p in $(PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	  if [ -n "$$missing" ]; then $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; fi

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	npm install --silent --no-audit --no-fund --prefix $(VENV)/node $(GITLAB_CI_LOCAL)
	touch $(STAMP)

setup: packages $(STAMP)

run: setup
	$(VENV)/bin/doit

test: setup
	$(VENV)/bin/python -m pytest

clean-venv:
	rm -rf $(VENV)
