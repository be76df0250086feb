# The two commands: `make run` (the whole pipeline for today on the embedded default) and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export RFQ_DATA_DIR ?= $(CURDIR)/.rfq
export DAGSTER_HOME ?= $(CURDIR)/.rfq/dagster

.PHONY: install install-dev run ui test lint validate bench evaluate clean image helm-values constraints

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[local]'
	$(BIN)/rfq-pipeline models build
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $@

## Migrate, start the marketplace simulator, materialize every asset for today's partition, print a summary.
run: install $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/rfq-pipeline run

## The Dagster UI (dagster dev, port 3000) and the sales desk (port 3100) on the same embedded database, with the
## simulator standing in for the marketplaces and a local AWS (moto) for S3, SQS and SES.
ui: install $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/rfq-pipeline dev

## Install with the dev extras, lint, and run the whole suite (one worker per core; PYTEST_WORKERS=0 runs it serially).
PYTEST_WORKERS ?= auto
test: install-dev
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

validate: install $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster definitions validate -w workspace.yaml

## Classifier quality (relevance P/R/F1, industry accuracy) on labeled data it was not trained on, and dedup
## precision/recall on the repost cases.
evaluate: install
	$(BIN)/rfq-pipeline evaluate

clean:
	rm -rf .rfq

## Throughput of the hot paths (parsing, normalizing, upserting, crawling, embedding, classifying, ANN lookups),
## printed as rows/s, latencies and ratios, with the quality the fast paths keep; and a 30-day backfill through the
## run queue (runs/min, maximum concurrency per marketplace); and 1M archived RFQs from import to clusters.
bench: install
	$(BIN)/python -m rfq_pipeline.devtools.bench
	$(BIN)/python -m rfq_pipeline.devtools.bench_ai
	$(BIN)/python -m rfq_pipeline.devtools.bench_dedup
	$(BIN)/python -m rfq_pipeline.devtools.bench_queue
	$(BIN)/python -m rfq_pipeline.devtools.bench_exports
	$(BIN)/python -m rfq_pipeline.devtools.bench_desk
	$(BIN)/python -m rfq_pipeline.devtools.bench_import
	$(BIN)/python -m rfq_pipeline.devtools.bench_backfill

## The container image (Dockerfile): needs a Docker engine; IMAGE and IMAGE_TAG name it (CI passes the commit).
IMAGE ?= rfq-pipeline
IMAGE_TAG ?= dev
DOCKER ?= docker
image:
	@if ! command -v $(DOCKER) >/dev/null 2>&1; then \
		echo "make image: no '$(DOCKER)' command on this machine, so no image was built. Build where a Docker engine" \
		     "runs (a workstation or CI): $(DOCKER) build -t $(IMAGE):$(IMAGE_TAG) ." >&2; exit 1; \
	elif ! $(DOCKER) info >/dev/null 2>&1; then \
		echo "make image: '$(DOCKER)' is installed but no Docker engine answers (docker info failed), so no image was" \
		     "built. Start the engine or build in CI: $(DOCKER) build -t $(IMAGE):$(IMAGE_TAG) ." >&2; exit 1; \
	fi
	$(DOCKER) build -t $(IMAGE):$(IMAGE_TAG) .

## Rewrite the run-queue blocks of helm/values.yaml from dagster.yaml (the test suite fails while they differ).
helm-values: install
	$(BIN)/python -m rfq_pipeline.devtools.helm_values

## Re-freeze constraints.txt (the image's exact versions) from the virtualenv, after a dependency change.
constraints: install-dev
	{ sed -n '/^#/p' constraints.txt; $(BIN)/python -m pip freeze --all --exclude-editable \
		| sed -E 's/\+[A-Za-z0-9.]+$$//' | grep -v -i '^rfq-pipeline==' | LC_ALL=C sort -f; } > constraints.txt.new
	mv constraints.txt.new constraints.txt
