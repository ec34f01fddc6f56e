# Two entry points for a fresh machine (Python >= 3.11, Java 17 and Maven for the tests):
#   make local   run the bridge end to end on this machine
#   make test    install what the tests need, then lint, type-check and run the suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: test lint local kafka-jars

test: lint kafka-jars
	$(BIN)/pytest

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The Apache Kafka broker jars, from Maven Central once, then from .cache/kafka offline.
kafka-jars: $(INSTALLED)
	$(BIN)/python -m tests.support.kafka_dist

local: $(INSTALLED)
	@echo "The local mode (embedded broker, local Lambda, sample records) is not built yet." >&2
	@exit 1

$(INSTALLED): requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --no-deps -r requirements/dev.txt
	touch $@
