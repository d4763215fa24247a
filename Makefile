# Two commands matter: `make run` (the demo) and `make test` (the whole suite).
# Everything else is a building block of those two.

# The first Python >= 3.11 on PATH builds the virtualenv.
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& echo $$p && break; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install lock run test lint typecheck unit integration fault bench clean tools deploy-check

install: $(STAMP)

# Everything comes from requirements/dev.lock (the runtime pins of requirements/runtime.lock,
# which the image installs, plus the dev tools and the local servers), each file checked against
# its hashes; then the project itself, editable, without touching the pins.
$(STAMP): pyproject.toml requirements/dev.lock
	@test -n "$(PYTHON)" || { echo "Python >= 3.11 is required" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Regenerates the three locks from pyproject.toml and requirements/build.in (needs PyPI), for
# every platform and Python >= 3.11. Pins already in a lock are kept unless `make lock UPGRADE=1`.
# dev.lock is constrained by the other two, so the tests run on exactly what the image ships.
LOCK = $(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command 'make lock' $(if $(UPGRADE),--upgrade)
lock: install
	$(LOCK) requirements/build.in -o requirements/build.lock
	$(LOCK) pyproject.toml -o requirements/runtime.lock
	$(LOCK) pyproject.toml requirements/build.in --extra dev --extra devservers \
		-c requirements/runtime.lock -c requirements/build.lock -o requirements/dev.lock

run: install
	$(BIN)/rituals demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

test: lint typecheck tools
	$(BIN)/pytest

unit: install
	$(BIN)/pytest tests/unit

integration: install
	$(BIN)/pytest tests/integration

# The fault suite alone, with the figures each test prints (it is also part of `make test`).
fault: install
	$(BIN)/pytest -s tests/fault

# Speed is measured here, never asserted by timed tests: ratios against a baseline in one run,
# every scenario seeded once and measured 3 times, one table, bench/results.json (README:
# Performance). BENCH_ARGS passes options: make bench BENCH_ARGS="--quick --runs 1".
bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .tools .mypy_cache .ruff_cache .pytest_cache .run

# The offline checks of the Kubernetes manifests (tests/deploy, part of `make test`) run two
# tools, each in a virtualenv of its own under .tools/, pinned in deploy/k8s/checks/tools/, so
# their dependencies never meet the services'.
TOOLS := .tools

tools: $(TOOLS)/kubernetes-validate/.installed $(TOOLS)/checkov/.installed

$(TOOLS)/%/.installed: deploy/k8s/checks/tools/%.txt
	@test -n "$(PYTHON)" || { echo "Python >= 3.11 is required" >&2; exit 1; }
	$(PYTHON) -m venv $(TOOLS)/$*
	$(TOOLS)/$*/bin/python -m pip install --quiet -r $<
	touch $@

# The manifests' checks alone: render, validate, policy, settings coverage, hardening.
deploy-check: install tools
	$(BIN)/pytest tests/deploy
