# Two entry points for a fresh machine (Python >= 3.11, Java 17 and Maven for the tests):
#   make local   run the bridge end to end on this machine
#   make test    install what the tests need, then lint, type-check and run the suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALL := $(PYTHON) requirements/install.py $(VENV)

.PHONY: test lint local environment local-environment bench-environment kafka-jars \
	schema-registry bench bench-charts generated image image-check

test: lint kafka-jars schema-registry image
	$(BIN)/pytest

lint: environment
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Rewrites what is generated from the settings declarations (consumer/settings/,
# infra/settings.py): Pulumi.yaml's config block, and the tables of docs/settings.md and
# docs/deploying.md.
generated: environment
	$(BIN)/python -m tests.support.project_config
	$(BIN)/python -m tests.support.settings_table
	$(BIN)/python -m tests.support.stack_config_table

# The Apache Kafka broker jars, from Maven Central once, then from .cache/kafka offline.
kafka-jars: environment
	$(BIN)/python -m tests.support.kafka_dist

# The tests' schema registry (Apicurio Registry, Confluent API), built by Maven from
# tests/support/apicurio/ once into .cache/apicurio-registry-2.4.2, then started offline.
schema-registry: environment
	$(BIN)/python -m tests.support.schema_registry_server

# The bridge's image, built with podman from the Dockerfile for tests/image/
# (docs/development.md, "The image check"). As root, once per machine: podman, runc and
# mmdebstrap from apt-get, and a stand-in for the python base (Docker Hub is out of reach);
# podman's storage keeps the base and the build's layers. Where podman cannot run (not
# root, no apt-get) it says so, and the image checks skip with that reason.
image: environment
	$(BIN)/python -m tests.support.container_image

# The image built, then run as the ECS task runs it against the embedded broker and the
# local Lambda, and checked; with the Dockerfile's checks as text.
image-check: image
	$(BIN)/pytest tests/image tests/test_container_image.py

# Benchmarks, never run by CI: the real broker, the local Lambda, the bridge, Benthos (built once
# into .cache/benthos if Go is here) and two baselines, one table (docs/benchmarks.md); then the
# charts of the results just written: a complete run's into docs/benchmarks/ (to commit with its
# JSON), a partial run's beside its *-partial.tmp file.
# Arguments: make bench BENCH_ARGS="--quick --scenario S1".
bench: kafka-jars bench-environment
	$(BIN)/python -m benchmarks $(BENCH_ARGS)
	$(BIN)/python -m benchmarks.charts --newest

# The charts of docs/benchmarks.md drawn again from the latest complete results, running nothing.
bench-charts: bench-environment
	$(BIN)/python -m benchmarks.charts

# matplotlib for the charts (requirements/bench.txt): in neither the image nor the tests.
bench-environment: environment
	@$(INSTALL) requirements/bench.txt

# The bridge end to end on this machine (python -m consumer.local --help for the options):
# the embedded broker (Tansu), a local Lambda running examples/failing_handler.py, 2000 sample
# records of which one is poison for it (it ends in ./dead-letters), until all are done.
local: local-environment
	$(BIN)/python -m consumer.local --handler examples/failing_handler.py:handler \
		--produce 2000 --poison 1 --until-drained

# $(VENV) with one pinned set in it, by requirements/install.py: everything the tests, lint
# and the Pulumi program need (dev.txt, about a minute and a half the first time), or only
# the bridge's libraries and the embedded broker (local.txt, for make local). Asked each
# time: it returns at once when the set is in, shows pip's progress when it installs, and
# makes $(VENV) again when an earlier install was interrupted (Ctrl-C) before it ended.
environment:
	@$(INSTALL) requirements/dev.txt

local-environment:
	@$(INSTALL) requirements/local.txt
