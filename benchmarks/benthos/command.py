"""The Benthos contender's command line: its configuration for the run written beside the
run's log, and the binary built from this module (build.py) run on it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from benchmarks.benthos.build import binary_path
from benchmarks.benthos.pipeline import defaults_config, pipeline_config, pipeline_yaml
from benchmarks.scenarios import Scenario


def benthos_command(scenario: Scenario, environment: Mapping[str, str], files: Path) -> list[str]:
    config = files.with_name(files.name + ".benthos.yaml")
    config.write_text(pipeline_yaml(pipeline_config(environment, scenario.workload.partitions)))
    return [str(binary_path()), "-c", str(config)]


def benthos_defaults_command(
    scenario: Scenario, environment: Mapping[str, str], files: Path
) -> list[str]:
    """Benthos with its defaults (pipeline.py `defaults_config`), as a user first runs it."""
    config = files.with_name(files.name + ".benthos.yaml")
    config.write_text(pipeline_yaml(defaults_config(environment)))
    return [str(binary_path()), "-c", str(config)]
