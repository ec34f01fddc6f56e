"""Benthos' configuration for one run, made from the bridge's own settings so that both read
the same topic in the same group, invoke the same function, and are bounded alike.

- `kafka_franz` `batching.count`: `BATCH_SIZE` (a batch holds one partition's records);
  `batching.period`: 100 ms, the longest a partial batch waits;
  `checkpoint_limit`: `MAX_BUFFERED_RECORDS_PER_PARTITION`; `commit_period`: `COMMIT_INTERVAL_MS`.
- `pipeline.threads`: the invocations the bridge has in flight at most, `MAX_IN_FLIGHT_TOTAL`
  or `MAX_IN_FLIGHT_PER_PARTITION` times the partitions if fewer (a thread invokes one batch
  at a time).
- `aws_lambda` `retries`, `timeout`: `MAX_RETRIES`, `LAMBDA_READ_TIMEOUT_SECONDS`; `region`,
  `endpoint` and static `credentials` from the same variables as the bridge's SDK client.

The payload is the bridge's `legacy` one (consumer/payloads/encoders.py `LegacyEncoder`): a mapping
makes each record that object, `archive: json_array` makes the batch one array, and
`aws_lambda` sends it. An invoke that fails after its retries (or a function error) flags the
batch, `reject_errored` nacks it and `kafka_franz` replays it: nothing failed is committed.

Where v4.27 cannot say what the bridge says: a record's time is whole seconds
(`kafka_timestamp_unix`), so `timestamp` is those times 1000; a null key arrives as an empty
one, so an empty key is sent as null; a null header value is sent as empty.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import yaml

from consumer.settings.model import BridgeSettings, load_settings

BATCH_PERIOD = "100ms"

# The legacy record object (LegacyEncoder), keys in the same alphabetical order (Benthos
# writes object keys sorted). Kafka headers are the metadata not named kafka_*.
LEGACY_RECORD = """\
let headers = @.key_values().filter(kv -> !kv.key.has_prefix("kafka_")).sort_by(kv -> kv.key)
root.headers = $headers.map_each(kv -> {kv.key: kv.value.string().encode("base64")})
root.key = if @kafka_key == "" { null } else { @kafka_key }
root.offset = @kafka_offset
root.partition = @kafka_partition
root.timestamp = @kafka_timestamp_unix * 1000
root.topic = @kafka_topic
root.value = if @kafka_tombstone_message { null } else { content().string() }
"""

# aws_lambda flags a batch it could not invoke; one the function failed it only marks.
FUNCTION_ERROR = (
    "root = if @lambda_function_error != null "
    '{ throw("the function failed: " + content().string()) } else { content() }'
)


def pipeline_config(environment: Mapping[str, str], partitions: int) -> dict[str, Any]:
    """The configuration, from the contender's environment (the bridge's variables, as the
    harness gives every contender) and the topic's partition count."""
    settings = load_settings(environment)
    in_flight = min(settings.max_in_flight_total, partitions * settings.max_in_flight_per_partition)
    return {
        **_QUIET,
        "input": {
            "kafka_franz": {
                **_the_topic(settings),
                # Records fetched and not yet delivered, as the bridge's buffer bound counts
                # them. At the limit v4.27 resumes a partition only after its next poll, which
                # waits up to 1 s if every partition is paused: S2 measures that wait.
                "checkpoint_limit": settings.max_buffered_records_per_partition,
                "commit_period": f"{settings.commit_interval_ms}ms",
                "start_from_oldest": True,
                "batching": {"count": settings.batch_size, "period": BATCH_PERIOD},
            }
        },
        "pipeline": {
            "threads": in_flight,
            "processors": [
                {"mapping": LEGACY_RECORD},
                {"archive": {"format": "json_array"}},
                {
                    "aws_lambda": {
                        **_the_function(settings, environment),
                        "retries": settings.max_retries,
                        "timeout": f"{math.ceil(settings.lambda_read_timeout_seconds)}s",
                    }
                },
                {"mutation": FUNCTION_ERROR},
            ],
        },
        "output": {"reject_errored": {"drop": {}}},
    }


def defaults_config(environment: Mapping[str, str]) -> dict[str, Any]:
    """Benthos as its own documentation starts a user off: `kafka_franz` with the brokers,
    the topic and the group, the `aws_lambda` processor naming the function, and `drop` as
    the output. Everything else is Benthos' default: no batching (one record per invocation,
    the record's value as the payload), `pipeline.threads` one per CPU, a checkpoint limit of
    1024 and a commit every 5 s, and no `reject_errored`, so a failed invoke is committed
    like a delivered one. Set apart from the defaults only where this machine needs it: the
    local Lambda's endpoint, region and dummy credentials, its HTTP server off (nothing asks
    it) and its log at WARN, as the like-for-like row has them."""
    settings = load_settings(environment)
    return {
        **_QUIET,
        "input": {"kafka_franz": _the_topic(settings)},
        "pipeline": {"processors": [{"aws_lambda": _the_function(settings, environment)}]},
        "output": {"drop": {}},
    }


# Its HTTP server (metrics, ping) off: nothing here asks it; its log at WARN.
_QUIET = {"http": {"enabled": False}, "logger": {"level": "WARN", "format": "logfmt"}}


def _the_topic(settings: BridgeSettings) -> dict[str, Any]:
    """`kafka_franz`'s brokers, topics and group: the bridge's."""
    return {
        "seed_brokers": [settings.kafka_bootstrap_servers],
        "topics": list(settings.kafka_topic or []),
        "consumer_group": settings.kafka_group_id,
    }


def _the_function(settings: BridgeSettings, environment: Mapping[str, str]) -> dict[str, Any]:
    """`aws_lambda`'s function, region, endpoint and static credentials: the bridge's."""
    return {
        "function": settings.lambda_function_name,
        "region": settings.aws_region or "",
        "endpoint": settings.lambda_endpoint_url or "",
        "credentials": {
            "id": environment.get("AWS_ACCESS_KEY_ID", ""),
            "secret": environment.get("AWS_SECRET_ACCESS_KEY", ""),
        },
    }


def pipeline_yaml(config: Mapping[str, Any]) -> str:
    """The configuration as YAML, the mappings as literal blocks (readable as written)."""
    return yaml.dump(dict(config), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=200)


class _Dumper(yaml.SafeDumper):
    pass


def _text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _text)
