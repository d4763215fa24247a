# Two commands matter: `make run` (the demo) and `make test` (the whole suite).
# Everything else is a building block of those two.

# The first Python >= 3.11 on PATH builds the virtualenv.
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& echo $$p && break; done)
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
# Two sets, each recorded by a stamp once installed: the demo set (requirements/demo.lock: the
# runtime pins, the local servers, pip and the build backend), all `make run` needs, and the dev
# set (requirements/dev.lock: all of that plus the test, lint and policy tools) for `make test`.
# The dev set contains the demo set, so installing it stamps both: `make test` after `make run`
# adds the tools, `make run` after `make test` installs nothing.
DEMO_STAMP := $(VENV)/.installed-demo
DEV_STAMP := $(VENV)/.installed-dev
# uv installs every lock, printing a line per step: with cold caches its step took 14 s for the
# demo set where pip took 270 s (figures at the top of README). Each file is checked against
# its hash. Bytecode is compiled at install time (as pip does; uv does not by default): where
# PYTHONDONTWRITEBYTECODE is set, as on the CI machine, every process otherwise compiled every
# library it imported from source, every time (a service's import: 6.6 s -> 3.0 s there).
UV_INSTALL = $(UV) pip install --python $(BIN)/python --require-hashes --compile-bytecode
# The project itself, editable, without touching the pins (setuptools comes from the lock).
UV_PROJECT = $(UV) pip install --python $(BIN)/python --no-deps --no-build-isolation -e .

.PHONY: install install-demo lock run test lint typecheck unit integration fault bench clean tools deploy-check

install: $(DEV_STAMP)

install-demo: $(DEMO_STAMP)

# The virtualenv without pip (ensurepip took ~50 s of a loaded 2-core machine), and uv in it
# from requirements/installer.lock, hashes checked, by the pip of $(PYTHON) (--python needs pip
# >= 22.3); failing that, by a pip of its own. pip itself comes later, from the locks.
PIP_BOOTSTRAP = install --disable-pip-version-check --require-hashes -r requirements/installer.lock
$(UV): requirements/installer.lock
	@test -n "$(PYTHON)" || { echo "Python >= 3.11 is required" >&2; exit 1; }
	@echo "==> [1/2] virtualenv $(VENV) and the installer (uv, requirements/installer.lock)"
	$(PYTHON) -m venv --without-pip $(VENV)
	$(PYTHON) -m pip --python $(BIN)/python $(PIP_BOOTSTRAP) \
		|| { $(BIN)/python -m ensurepip && $(BIN)/python -m pip $(PIP_BOOTSTRAP); }
	touch $@

$(DEMO_STAMP): pyproject.toml requirements/demo.lock | $(UV)
	@echo "==> [2/2] the runtime and the local servers (requirements/demo.lock)"
	$(UV_INSTALL) -r requirements/demo.lock
	$(UV_PROJECT)
	touch $@

$(DEV_STAMP): pyproject.toml requirements/dev.lock | $(UV)
	@echo "==> [2/2] the runtime, the local servers and the test, lint and policy tools (requirements/dev.lock)"
	$(UV_INSTALL) -r requirements/dev.lock
	$(UV_PROJECT)
	touch $@ $(DEMO_STAMP)

# Regenerates the locks from pyproject.toml and requirements/*.in (needs PyPI), for every
# platform and Python >= 3.11. Pins already in a lock are kept unless `make lock UPGRADE=1`.
# demo.lock and dev.lock are constrained by the others, so `make run` and the tests run on
# exactly what the image ships, and uv is the same version wherever it comes from.
LOCK = $(UV) pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command 'make lock' $(if $(UPGRADE),--upgrade)
lock: install
	$(LOCK) requirements/build.in -o requirements/build.lock
	$(LOCK) pyproject.toml -o requirements/runtime.lock
	$(LOCK) requirements/installer.in -o requirements/installer.lock
	$(LOCK) pyproject.toml requirements/build.in --extra devservers \
		-c requirements/runtime.lock -c requirements/build.lock -o requirements/demo.lock
	$(LOCK) pyproject.toml requirements/build.in --extra dev --extra devservers \
		-c requirements/demo.lock -c requirements/installer.lock -o requirements/dev.lock

run: install-demo
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

$(TOOLS)/%/.installed: deploy/k8s/checks/tools/%.txt | $(UV)
	@test -n "$(PYTHON)" || { echo "Python >= 3.11 is required" >&2; exit 1; }
	@echo "==> the offline manifest checks' $* (.tools/$*, $<)"
	$(PYTHON) -m venv --without-pip $(TOOLS)/$*
	$(UV) pip install --python $(TOOLS)/$*/bin/python --compile-bytecode -r $<
	touch $@

# The manifests' checks alone: render, validate, policy, settings coverage, hardening.
deploy-check: install tools
	$(BIN)/pytest tests/deploy
