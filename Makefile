# The two entry points: `make run` (the default flow) and `make test` (the test suite).
# Both create .venv with the pinned dependencies when it is missing or older than pyproject.toml.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run test clean-venv

$(STAMP): pyproject.toml
	@command -v g++ >/dev/null || (apt-get update -qq && apt-get install -y -qq g++)
	@command -v tclsh >/dev/null || (apt-get update -qq && apt-get install -y -qq tcl)
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/doit

test: $(STAMP)
	$(VENV)/bin/python -m pytest

clean-venv:
	rm -rf $(VENV)
