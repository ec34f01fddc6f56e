"""Settings: defaults, validation messages that name the variable, and the table of
docs/settings.md."""

from __future__ import annotations

import inspect

import pytest
from aiokafka import AIOKafkaConsumer

from consumer.errors import ConfigurationError
from consumer.settings.declarations import declarations
from consumer.settings.kafka_arguments import KAFKA_ARGUMENT_TYPES, OWNED_KAFKA_ARGUMENTS
from consumer.settings.lambda_limits import (
    LAMBDA_EVENT_MAX_BYTES,
    LAMBDA_REQUEST_RESPONSE_MAX_BYTES,
)
from consumer.settings.model import BridgeSettings, load_settings
from consumer.settings.ordering import Ordering
from consumer.settings.payload_format import PayloadFormat
from tests.support.settings_table import settings_table, table_in_page

REQUIRED = {
    "KAFKA_BOOTSTRAP_SERVERS": "b:9092",
    "KAFKA_TOPIC": "t",
    "KAFKA_GROUP_ID": "g",
    "LAMBDA_FUNCTION_NAME": "f",
}


def settings_error(**env: str) -> str:
    with pytest.raises(ConfigurationError) as failure:
        load_settings({**REQUIRED, **env})
    return str(failure.value)


def test_defaults_are_the_documented_ones() -> None:
    settings = load_settings(REQUIRED)
    assert settings.payload_format is PayloadFormat.NATIVE
    assert settings.ordering is Ordering.key
    assert settings.kafka_topic == ["t"]
    assert settings.effective_batch_max_bytes == LAMBDA_REQUEST_RESPONSE_MAX_BYTES


def test_several_topics_and_event_invocations_get_the_event_limit() -> None:
    settings = load_settings({**REQUIRED, "KAFKA_TOPIC": "a, b", "LAMBDA_INVOCATION_TYPE": "Event"})
    assert settings.kafka_topic == ["a", "b"]
    assert settings.effective_batch_max_bytes == LAMBDA_EVENT_MAX_BYTES


def test_every_missing_required_setting_is_named_at_once() -> None:
    with pytest.raises(ConfigurationError) as failure:
        load_settings({})
    for name in REQUIRED.keys() - {"KAFKA_TOPIC"}:  # the topics may be a pattern instead
        assert f"{name} is required" in str(failure.value)


def test_topics_are_required_as_names_or_as_a_pattern_and_not_both() -> None:
    without_topics = {k: v for k, v in REQUIRED.items() if k != "KAFKA_TOPIC"}
    with pytest.raises(ConfigurationError, match="KAFKA_TOPIC is required"):
        load_settings(without_topics)
    by_pattern = load_settings({**without_topics, "KAFKA_TOPIC_PATTERN": "orders-.*"})
    assert by_pattern.kafka_topic is None
    assert by_pattern.topics_description == "/orders-.*/"
    with pytest.raises(ConfigurationError, match="exclude each other"):
        load_settings({**REQUIRED, "KAFKA_TOPIC_PATTERN": "orders-.*"})


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"BATCH_SIZE": "0"}, "BATCH_SIZE: Input should be greater than or equal to 1"),
        ({"BATCH_SIZE": "ten"}, "BATCH_SIZE: Input should be a valid integer"),
        ({"ORDERING": "random"}, "ORDERING: Input should be 'key', 'partition' or 'none'"),
        ({"KAFKA_PROPERTIES": "{"}, "KAFKA_PROPERTIES: not JSON"),
        ({"KAFKA_PROPERTIES": "[1]"}, "KAFKA_PROPERTIES: must be a JSON object"),
        ({"KAFKA_PROPERTIES": '{"fetch_min_bytes": "1"}'}, "'fetch_min_bytes' must be a int"),
        ({"KAFKA_PROPERTIES": '{"check_crcs": 1}'}, "'check_crcs' must be a bool"),
        ({"KAFKA_PROPERTIES": '{"enable_auto_commit": true}'}, "set nothing: the bridge commits"),
        ({"KAFKA_STARTING_POSITION": "2026-01-01T00:00:00"}, "needs a time zone"),
        ({"KAFKA_SSL_CA_FILE": "/no/such.pem"}, "KAFKA_SSL_CA_FILE: no file at /no/such.pem"),
        ({"BATCH_MAX_BYTES": str(7 * 1024 * 1024)}, "over Lambda's 6291456-byte limit"),
        ({"LAMBDA_READ_TIMEOUT_SECONDS": "2000"}, "LAMBDA_READ_TIMEOUT_SECONDS"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL: use DEBUG, INFO, WARNING or ERROR"),
        (
            {"KAFKA_BOOTSTRAP_SERVERS": "nohost"},
            "KAFKA_BOOTSTRAP_SERVERS: 'nohost' is not host:port",
        ),
        ({"KAFKA_BOOTSTRAP_SERVERS": "a:1,b:99999"}, "'b:99999' is not host:port"),
        ({"KAFKA_GROUP_ID": " "}, "KAFKA_GROUP_ID: must not be empty"),
        ({"LAMBDA_FUNCTION_NAME": ""}, "LAMBDA_FUNCTION_NAME: must not be empty"),
        ({"RETRY_BACKOFF_MAX_MS": "5"}, "RETRY_BACKOFF_MAX_MS must be at least"),
        ({"FUNCTION_ERROR_BACKOFF_MAX_MS": "5"}, "FUNCTION_ERROR_BACKOFF_MAX_MS must be at"),
        ({"RETRY_FUNCTION_ERRORS_FOR_SECONDS": "-1"}, "RETRY_FUNCTION_ERRORS_FOR_SECONDS"),
        ({"REVOKE_TIMEOUT_MS": "-1"}, "REVOKE_TIMEOUT_MS"),
        ({"CLOCK_SKEW_MARGIN_MS": "61000"}, "CLOCK_SKEW_MARGIN_MS"),
    ],
)
def test_an_invalid_value_is_reported_with_its_variable(env: dict[str, str], expected: str) -> None:
    assert expected in settings_error(**env)


def test_kafka_properties_pass_through_with_their_types() -> None:
    settings = load_settings(
        {**REQUIRED, "KAFKA_PROPERTIES": '{"fetch_min_bytes": 100000, "client_rack": "use1"}'}
    )
    assert settings.kafka_properties == {"fetch_min_bytes": 100000, "client_rack": "use1"}


def test_a_timestamp_start_is_converted_to_epoch_milliseconds() -> None:
    settings = load_settings({**REQUIRED, "KAFKA_STARTING_POSITION": "2026-01-01T00:00:00Z"})
    assert settings.starting_timestamp_ms == 1_767_225_600_000


def test_the_password_never_appears_in_the_settings_repr_or_errors() -> None:
    secret = "hunter2-very-secret"
    settings = load_settings(
        {
            **REQUIRED,
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KAFKA_USERNAME": "u",
            "KAFKA_PASSWORD": secret,
        }
    )
    assert secret not in repr(settings)
    message = settings_error(
        KAFKA_SECURITY_PROTOCOL="SASL_SSL", KAFKA_PASSWORD=secret, BATCH_SIZE="0"
    )
    assert secret not in message


def test_the_settings_page_table_is_generated_from_the_settings_class() -> None:
    in_page = table_in_page()
    assert in_page is not None, "docs/settings.md has no settings:start/settings:end block"
    assert in_page == settings_table(), "run: python -m tests.support.settings_table"


@pytest.mark.parametrize(
    ("env", "field"),
    [
        ({"BATCH_SIZE": "0"}, "batch_size"),
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "kafka_username"),
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_USERNAME": "u"}, "kafka_password"),
        (
            {"ON_FAILURE": "stall", "DLQ": "file://d", "MAX_RECORD_AGE_SECONDS": "5"},
            "max_record_age_seconds",
        ),
        ({"RETRY_BACKOFF_MAX_MS": "5"}, "retry_backoff_max_ms"),
        ({"DLQ": "http://x"}, "dlq"),
    ],
)
def test_each_problem_names_the_setting_to_change(env: dict[str, str], field: str) -> None:
    with pytest.raises(ConfigurationError) as failure:
        load_settings({**REQUIRED, **env})
    assert [problem.field for problem in failure.value.problems] == [field]


def test_every_problem_is_reported_at_once_with_its_setting() -> None:
    with pytest.raises(ConfigurationError) as failure:
        load_settings({"BATCH_SIZE": "0", "ORDERING": "random"})
    fields = {problem.field for problem in failure.value.problems}
    required = {name.lower() for name in REQUIRED} - {"kafka_topic"}  # or a pattern: a rule's
    assert fields == {*required, "batch_size", "ordering"}


def test_the_kafka_properties_table_is_aiokafkas_consumer_signature() -> None:
    parameters = inspect.signature(AIOKafkaConsumer.__init__).parameters
    settable = {name for name in parameters if name != "self"} - set(OWNED_KAFKA_ARGUMENTS)
    assert set(KAFKA_ARGUMENT_TYPES) == settable
    for name, expected in KAFKA_ARGUMENT_TYPES.items():
        default = parameters[name].default
        assert default is None or type(default) is expected, name


def test_a_stack_key_is_unique_and_an_optional_number_cannot_be_zero() -> None:
    exposed = [d for d in declarations(BridgeSettings) if d.stack_key]
    keys = [d.stack_key for d in exposed]
    assert len(keys) == len(set(keys))
    for declaration in exposed:
        if declaration.optional and declaration.stack_type == "integer":
            # 0 means "not set" on a stack, so it must not be a value the setting takes.
            with pytest.raises(ConfigurationError):
                load_settings({**REQUIRED, declaration.env: "0"})


@pytest.mark.parametrize(
    ("position", "timestamp", "start"),
    [
        ("TRIM_HORIZON", None, ("earliest", None)),
        ("LATEST", None, ("latest", None)),
        ("AT_TIMESTAMP", "1767225600", ("AT_TIMESTAMP", 1_767_225_600_000)),
        ("AT_TIMESTAMP", "2026-01-01T00:00:00Z", ("AT_TIMESTAMP", 1_767_225_600_000)),
    ],
)
def test_lambdas_starting_positions_mean_what_they_mean_there(
    position: str, timestamp: str | None, start: tuple[str, int | None]
) -> None:
    env = {**REQUIRED, "KAFKA_STARTING_POSITION": position}
    if timestamp is not None:
        env["KAFKA_STARTING_POSITION_TIMESTAMP"] = timestamp
    settings = load_settings(env)
    assert (settings.kafka_starting_position, settings.starting_timestamp_ms) == start


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"KAFKA_STARTING_POSITION": "AT_TIMESTAMP"}, "KAFKA_STARTING_POSITION_TIMESTAMP goes"),
        ({"KAFKA_STARTING_POSITION_TIMESTAMP": "1767225600"}, "goes with KAFKA_STARTING_POS"),
        ({"KAFKA_TOPIC_PATTERN": "(", "KAFKA_TOPIC": ""}, "not a regular expression"),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "OAUTHBEARER"},
            "KAFKA_OAUTH_TOKEN_URL is required with KAFKA_SASL_MECHANISM=OAUTHBEARER",
        ),
        (
            {
                "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                "KAFKA_SASL_MECHANISM": "OAUTHBEARER",
                "KAFKA_OAUTH_TOKEN_URL": "https://idp/token",
                "KAFKA_OAUTH_CLIENT_ID": "c",
            },
            "KAFKA_OAUTH_CLIENT_SECRET is required",
        ),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_MECHANISM": "AWS_MSK_IAM"},
            "AWS_MSK_IAM needs SASL_SSL",
        ),
        ({"KAFKA_OAUTH_EXTENSIONS": '{"n": 1}'}, "KAFKA_OAUTH_EXTENSIONS: must be a JSON object"),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CERTIFICATE": "-----BEGIN C-----\nx\n"},
            "KAFKA_SSL_CERTIFICATE: PEM text without its -----END line",
        ),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_KEY": "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"},
            "KAFKA_SSL_KEY: neither PEM text",
        ),
        (
            {
                "KAFKA_SECURITY_PROTOCOL": "SSL",
                "KAFKA_SSL_CERTIFICATE": "-----BEGIN C-----\nx\n-----END C-----\n",
            },
            "KAFKA_SSL_CERTIFICATE and KAFKA_SSL_KEY go together",
        ),
        (
            {
                "KAFKA_SSL_CERTIFICATE": "-----BEGIN C-----\nx\n-----END C-----\n",
                "KAFKA_SSL_KEY": "-----BEGIN K-----\ny\n-----END K-----\n",
            },
            "KAFKA_SECURITY_PROTOCOL=PLAINTEXT: a client certificate needs SSL or SASL_SSL",
        ),
    ],
)
def test_authentication_settings_that_cannot_work_are_named(
    env: dict[str, str], expected: str
) -> None:
    message = settings_error(**env)
    assert expected in message
    assert "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" not in message  # key material is never quoted


def test_password_mechanisms_need_the_password_and_token_mechanisms_do_not() -> None:
    assert "needs KAFKA_USERNAME and KAFKA_PASSWORD" in settings_error(
        KAFKA_SECURITY_PROTOCOL="SASL_SSL", KAFKA_SASL_MECHANISM="SCRAM-SHA-512"
    )
    iam = load_settings(
        {**REQUIRED, "KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "AWS_MSK_IAM"}
    )
    assert iam.kafka_password is None


SR = "https://psrc-1.eu-west-1.aws.confluent.cloud"
GLUE = "arn:aws:glue:eu-west-1:123456789012:registry/curation"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"SCHEMA_REGISTRY_URL": SR, "GLUE_SCHEMA_REGISTRY_ARN": GLUE},
            "GLUE_SCHEMA_REGISTRY_ARN and SCHEMA_REGISTRY_URL exclude each other",
        ),
        ({"SCHEMA_REGISTRY_URL": "psrc-1.confluent.cloud"}, "is not an http:// or https:// URL"),
        (
            {"SCHEMA_REGISTRY_URL": "https://key:s3cr3t-in-url@psrc-1.confluent.cloud"},
            "without credentials in it (they go in SCHEMA_REGISTRY_KEY",
        ),
        ({"GLUE_SCHEMA_REGISTRY_ARN": "curation"}, "is not a Glue registry ARN"),
        ({"SCHEMA_REGISTRY_URL": "https://sr:99999"}, "a port no connection can use"),
        ({"SCHEMA_REGISTRY_URL": "https://sr:0/api"}, "a port no connection can use"),
        ({"SCHEMA_REGISTRY_URL": "https://sr:abc"}, "a port no connection can use"),
        ({"SCHEMA_REGISTRY_URL": SR, "SCHEMA_REGISTRY_KEY": "k"}, "go together (basic auth)"),
        ({"SCHEMA_REGISTRY_URL": SR, "SCHEMA_REGISTRY_SECRET": "s"}, "go together (basic auth)"),
        (
            {"GLUE_SCHEMA_REGISTRY_ARN": GLUE, "SCHEMA_REGISTRY_KEY": "k"},
            "are for a registry at SCHEMA_REGISTRY_URL",
        ),
        ({"SCHEMA_DECODE": "both"}, "SCHEMA_DECODE needs a registry"),
        ({"SCHEMA_RECORD_FORMAT": "JSON"}, "SCHEMA_RECORD_FORMAT needs a registry"),
        ({"SCHEMA_REGISTRY_URL": SR, "SCHEMA_DECODE": "all"}, "'value', 'key' or 'both'"),
        ({"SCHEMA_REGISTRY_URL": SR, "SCHEMA_RECORD_FORMAT": "AVRO"}, "'SOURCE' or 'JSON'"),
    ],
)
def test_schema_registry_settings_that_cannot_work_are_named(
    env: dict[str, str], expected: str
) -> None:
    message = settings_error(**env)
    assert expected in message
    assert "s3cr3t-in-url" not in message


def test_a_registry_with_its_defaults_decodes_values_and_sends_their_source_bytes() -> None:
    settings = load_settings({**REQUIRED, "SCHEMA_REGISTRY_URL": SR})
    assert settings.decodes_schemas
    assert settings.schema_decode.includes_value
    assert not settings.schema_decode.includes_key
    assert settings.schema_record_format == "SOURCE"
    assert not load_settings({**REQUIRED, "SCHEMA_DECODE": "value"}).decodes_schemas


OAUTH = {
    "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "KAFKA_SASL_MECHANISM": "OAUTHBEARER",
    "KAFKA_OAUTH_CLIENT_ID": "client",
    "KAFKA_OAUTH_CLIENT_SECRET": "the-client-secret-31",
}
REGISTRY = {"SCHEMA_REGISTRY_KEY": "K", "SCHEMA_REGISTRY_SECRET": "the-registry-secret-9"}


@pytest.mark.parametrize(
    ("env", "field", "why"),
    [
        (
            {**OAUTH, "KAFKA_OAUTH_TOKEN_URL": "http://idp.example.com/token"},
            "kafka_oauth_token_url",
            "is not https://",
        ),
        (
            {**OAUTH, "KAFKA_OAUTH_TOKEN_URL": "https://client:s3cr3t-in-url@idp.example/token"},
            "kafka_oauth_token_url",
            "has credentials in it",
        ),
        (
            {**REGISTRY, "SCHEMA_REGISTRY_URL": "http://registry.example.com"},
            "schema_registry_url",
            "is not https://",
        ),
    ],
)
def test_a_url_that_would_carry_a_secret_in_clear_is_refused(
    env: dict[str, str], field: str, why: str
) -> None:
    with pytest.raises(ConfigurationError) as failure:
        load_settings({**REQUIRED, **env})
    ((problem),) = failure.value.problems
    assert problem.field == field
    assert why in str(failure.value)
    for secret in ("s3cr3t-in-url", "the-client-secret-31", "the-registry-secret-9"):
        assert secret not in str(failure.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://idp.example.com/token",
        "http://127.0.0.1:8080/token",
        "http://localhost/t",
        "http://[::1]:9/token",
    ],
)
def test_https_or_a_loopback_http_url_may_carry_the_secret(url: str) -> None:
    settings = load_settings({**REQUIRED, **OAUTH, "KAFKA_OAUTH_TOKEN_URL": url})
    assert settings.kafka_oauth_token_url == url
    registry = url.removesuffix("/token").removesuffix("/t")
    assert load_settings({**REQUIRED, **REGISTRY, "SCHEMA_REGISTRY_URL": registry})


def test_a_registry_without_a_secret_may_be_plain_http() -> None:
    assert load_settings({**REQUIRED, "SCHEMA_REGISTRY_URL": "http://registry.internal:8081"})
