# Two entry points for a fresh machine (Python >= 3.11, Java 17 and Maven for the tests):
#   make local   run the bridge end to end on this machine
#   make test    install what the tests need, then lint, type-check and run the suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
ON_PATH := $(VENV)/.project-on-path

.PHONY: test lint local kafka-jars schema-registry bench generated image image-check

test: lint kafka-jars schema-registry image $(ON_PATH)
	$(BIN)/pytest

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Rewrites what is generated from the settings declarations (consumer/settings/,
# infra/settings.py): Pulumi.yaml's config block, and the tables of docs/settings.md and
# docs/deploying.md.
generated: $(INSTALLED)
	$(BIN)/python -m tests.support.project_config
	$(BIN)/python -m tests.support.settings_table
	$(BIN)/python -m tests.support.stack_config_table

# The Apache Kafka broker jars, from Maven Central once, then from .cache/kafka offline.
kafka-jars: $(INSTALLED)
	$(BIN)/python -m tests.support.kafka_dist

# The tests' schema registry (Apicurio Registry, Confluent API), built by Maven from
# tests/support/apicurio/ once into .cache/apicurio-registry-2.4.2, then started offline.
schema-registry: $(INSTALLED)
	$(BIN)/python -m tests.support.schema_registry_server

# The bridge's image, built with podman from the Dockerfile for tests/image/
# (docs/development.md, "The image check"). As root, once per machine: podman, runc and
# mmdebstrap from apt-get, and a stand-in for the python base (Docker Hub is out of reach);
# podman's storage keeps the base and the build's layers. Where podman cannot run (not
# root, no apt-get) it says so, and the image checks skip with that reason.
image: $(INSTALLED)
	$(BIN)/python -m tests.support.container_image

# The image built, then run as the ECS task runs it against the embedded broker and the
# local Lambda, and checked; with the Dockerfile's checks as text.
image-check: image
	$(BIN)/pytest tests/image tests/test_container_image.py

BENCH_INSTALLED := $(VENV)/.bench-installed

# Benchmarks, never run by CI: the real broker, the local Lambda, the bridge, Benthos (built once
# into .cache/benthos if Go is here) and two baselines, one table (docs/benchmarks.md); then the
# charts of the results just written: a complete run's into docs/benchmarks/ (to commit with its
# JSON), a partial run's beside its *-partial.tmp file.
# Arguments: make bench BENCH_ARGS="--quick --scenario S1".
bench: kafka-jars $(BENCH_INSTALLED)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)
	$(BIN)/python -m benchmarks.charts --newest

# The charts of docs/benchmarks.md drawn again from the latest complete results, running nothing.
.PHONY: bench-charts
bench-charts: $(BENCH_INSTALLED)
	$(BIN)/python -m benchmarks.charts

# matplotlib for the charts (requirements/bench.txt): in neither the image nor the tests.
$(BENCH_INSTALLED): requirements/bench.txt $(INSTALLED)
	$(BIN)/pip install --no-deps --progress-bar on -r requirements/bench.txt
	touch $@

# The bridge end to end on this machine (python -m consumer.local --help for the options):
# the embedded broker (Tansu), a local Lambda running examples/failing_handler.py, 2000 sample
# records of which one is poison for it (it ends in ./dead-letters), until all are done.
local: $(ON_PATH)
	$(BIN)/python -m consumer.local --handler examples/failing_handler.py:handler \
		--produce 2000 --poison 1 --until-drained

# Once (about three minutes), and again only when the pins change: pip shows each package.
$(INSTALLED): requirements/dev.txt
	@echo "Installing the pinned libraries and tools of requirements/dev.txt into $(VENV)/:"
	@echo "the bridge's, the Pulumi program's and the tests' (once; again when the pins change)."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --no-deps --progress-bar on -r requirements/dev.txt
	touch $@

# The project on the environment's path (a .pth file), so `.venv/bin/python -m consumer.local`
# runs from any directory, a handler path then being relative to where it runs.
$(ON_PATH): $(INSTALLED)
	$(BIN)/python -c "import pathlib, sysconfig; pathlib.Path(sysconfig.get_paths()['purelib'], 'kafka-to-lambda.pth').write_text('$(CURDIR)\\n')"
	touch $@
