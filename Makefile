# Two commands: `make run` (the whole system on 127.0.0.1:8000) and `make test`; and
# `make cluster`, the production shape on this machine (see the README).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run cluster test test-unit test-faults test-e2e-cluster lint venv rabbitmq cluster-packages k8s-tools browser-packages console migrate bench clean

run: venv rabbitmq console
	$(PY) scripts/run_stack.py

cluster: venv cluster-packages console
	$(PY) scripts/run_cluster.py

# every test, ruff and mypy included, as one pytest process per CPU, each a shard of the test
# files (scripts/test_shards.py, as `make test-unit`; TEST_SHARDS=1 for one process); fails
# when any shard fails or no test ran
test: venv rabbitmq cluster-packages k8s-tools browser-packages console
	$(PY) scripts/test_shards.py $(if $(TEST_SHARDS),-n $(TEST_SHARDS))

# the end-to-end tests against `make cluster`'s topology instead of one process per service
test-e2e-cluster: venv rabbitmq cluster-packages browser-packages console
	E2E_TOPOLOGY=cluster $(PY) -m pytest tests/e2e

# the faults the cluster survives (tests/cluster/test_faults.py; README "Faults it survives"),
# alone (left out of `make test` until the whole broker outage's fix is proven)
test-faults: venv cluster-packages
	$(PY) -m pytest -m faults tests/cluster/test_faults.py

# ruff and mypy as configured in pyproject.toml (tests/test_lint.py runs them in `make test`)
lint: venv
	$(PY) -m ruff check .
	$(PY) -m mypy

# no RabbitMQ needed: tests marked broker, e2e or cluster are left out; one pytest process
# per CPU, each a shard of the test files (scripts/test_shards.py; TEST_SHARDS=1 for one)
test-unit: venv
	$(PY) scripts/test_shards.py $(if $(TEST_SHARDS),-n $(TEST_SHARDS)) -m "not broker and not e2e and not cluster"

venv: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null && $(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv python3-pip)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

# the operator console's built files (README "Console"): rebuilt when a source is newer
CONSOLE_SOURCES := $(shell find console/src -type f 2>/dev/null) console/index.html \
	console/vite.config.js console/package.json console/package-lock.json
console: console/dist/index.html

console/dist/index.html: $(CONSOLE_SOURCES)
	scripts/build_console.sh

browser-packages:  # what the browser tests drive (tests/e2e/console/)
	scripts/ensure_packages.sh chromium

rabbitmq:
	scripts/ensure_rabbitmq.sh

cluster-packages:  # what `make cluster` and its test run (scripts/ensure_packages.sh)
	scripts/ensure_packages.sh rabbitmq-server postgresql haproxy

# `kubectl kustomize`, which tests/deploy renders the overlays with: Debian's
# kubernetes-client, unless a kubectl is installed already (another package's /usr/bin/kubectl
# would conflict with it)
k8s-tools:
	command -v kubectl >/dev/null || scripts/ensure_packages.sh kubernetes-client

migrate: venv
	$(PY) -m svckit.migrate

bench: venv rabbitmq migrate
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) var/*.sqlite3* var/test var/cluster console/dist console/node_modules
