# Two commands: `make run` (the whole system on 127.0.0.1:8000) and `make test`; and
# `make cluster`, the production shape on this machine (see the README).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run cluster test test-unit test-faults test-e2e-cluster lint venv rabbitmq cluster-packages migrate bench clean

run: venv rabbitmq
	$(PY) scripts/run_stack.py

cluster: venv cluster-packages
	$(PY) scripts/run_cluster.py

test: venv rabbitmq cluster-packages
	$(PY) -m pytest

# the end-to-end tests against `make cluster`'s topology instead of one process per service
test-e2e-cluster: venv rabbitmq cluster-packages
	E2E_TOPOLOGY=cluster $(PY) -m pytest tests/e2e

# the faults the cluster survives (tests/cluster/test_faults.py; README "Faults it survives"),
# left out of `make test` for now (tests/conftest.py runs them only when -m names them)
test-faults: venv cluster-packages
	$(PY) -m pytest -m faults tests/cluster/test_faults.py

# ruff and mypy as configured in pyproject.toml (tests/test_lint.py runs them in `make test`)
lint: venv
	$(PY) -m ruff check .
	$(PY) -m mypy

test-unit: venv  # no RabbitMQ needed: tests marked broker, e2e or cluster are left out
	$(PY) -m pytest -m "not broker and not e2e and not cluster"

venv: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null && $(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv python3-pip)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

rabbitmq:
	scripts/ensure_rabbitmq.sh

cluster-packages:  # what `make cluster` and its test run (scripts/ensure_packages.sh)
	scripts/ensure_packages.sh rabbitmq-server postgresql haproxy

migrate: venv
	$(PY) -m svckit.migrate

bench: venv rabbitmq migrate
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) var/*.sqlite3* var/test var/cluster
