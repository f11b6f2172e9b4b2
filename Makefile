# One-command workflows; every target creates the virtualenv it needs from nothing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install demo test lint format bench fuzz soak audit clean package

# Two layers in one virtualenv: the runtime and the reports (all that `make demo` needs), then
# the test and lint tools on top (`make install`, `make test`, `make lint`).
$(BIN)/.reports-installed: requirements.txt requirements-reports.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-reports.txt
	touch $@

$(BIN)/.installed: $(BIN)/.reports-installed requirements-ops.txt requirements-dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# The project itself, editable, on top: `oplog-lake` and `python -m lib` from any folder, running
# this checkout's code (the build backend is pinned in requirements-dev.txt; nothing is fetched).
$(BIN)/.project-installed: $(BIN)/.installed pyproject.toml
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-index \
		--no-build-isolation --editable .
	touch $@

install: $(BIN)/.project-installed

demo: $(BIN)/.reports-installed  ## replay the sample SQS batch and inventory offline into ./lake and show them
	$(BIN)/python handler.py events/sqs-batch.json
	$(BIN)/python -m lib show --lake ./lake
	$(BIN)/python -m lib report daily --lake ./lake --since 2019-01-01
	$(BIN)/python -m lib report failures --lake ./lake --since 2019-01-01
	$(BIN)/python -m lib inventory --lake ./lake
	$(BIN)/python -m lib report unprotected --lake ./lake

test: install  ## the whole test suite (starts its own loopback servers)
	$(BIN)/python -m pytest

lint: install  ## ruff, the layers' import rule, mypy, cfn-lint on the SAM template, zizmor on the CI workflow
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy
	$(BIN)/cfn-lint template.yaml
	$(BIN)/zizmor --offline --strict-collection --quiet .github/workflows

$(BIN)/.bench-installed: $(BIN)/.installed requirements-bench.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-bench.txt
	touch $@

bench: $(BIN)/.bench-installed  ## every benchmark with its baseline; writes bench/results.json
	$(BIN)/python bench/run.py

# template.yaml deploys arm64 (Architectures); make package LAMBDA_ARCH=x86_64 for the other.
LAMBDA_ARCH ?= arm64

package: install  ## the slim Lambda package in build/lambda-arm64, and its x86_64 twin proven here
	$(BIN)/python tools/package.py build --arch $(LAMBDA_ARCH) --out build/lambda-$(LAMBDA_ARCH)
	$(BIN)/python tools/package.py build --arch x86_64 --out build/lambda-x86_64 --check

# `sam build` (BuildMethod: makefile) runs these with ARTIFACTS_DIR set; the same package.
build-IngestFunction build-CompactFunction:
	$(PYTHON) tools/package.py build --arch $(LAMBDA_ARCH) --out "$(ARTIFACTS_DIR)"

fuzz: install  ## hypothesis at high example counts over message parsing and flatten
	$(BIN)/python tests/fuzz/fuzz_parse.py --examples 20000

soak: install  ## 50,000 IDs through warm invocations with 1% 5xx and 1% 429 (loopback only)
	$(BIN)/python bench/soak.py --ids 50000

AUDIT_VENV ?= .venv-audit

$(AUDIT_VENV)/.installed: requirements-audit.txt
	test -x $(AUDIT_VENV)/bin/python || $(PYTHON) -m venv $(AUDIT_VENV)
	$(AUDIT_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-audit.txt
	touch $@

audit: $(AUDIT_VENV)/.installed  ## pip-audit over every pinned requirement; needs the package index's JSON API
	$(AUDIT_VENV)/bin/pip-audit --strict --progress-spinner off \
		-r requirements.txt -r requirements-reports.txt -r requirements-ops.txt \
		-r requirements-dev.txt -r requirements-bench.txt

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) $(AUDIT_VENV) lake build .pytest_cache .ruff_cache .oplog-lake
