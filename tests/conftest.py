"""Fixtures shared by the whole suite live in tests/support/; this file only registers them."""

pytest_plugins = [
    "tests.support.kafka_fixtures",
    "tests.support.lambda_fixtures",
    "tests.support.logging_fixtures",
    "tests.support.moto_fixtures",
    "tests.support.schema_registry_fixtures",
]
