"""The records every contender reads: the same keys, values and partitions, made from their
index, so two topics loaded with the same `Workload` hold the same records.

Record i has key `k = i % keys` (`variant-<k>`) and lives in partition `k % partitions`, as a
key-hashing producer would put it: one key, one partition; its `kind` is one of ten, in turn
along the partition. Its value is a JSON object of exactly `record_bytes` bytes (JSON, so the
`legacy` payload of the baselines can carry it as text). With `keys` above the record count
every record has a key of its own, like the production topic, whose keys are variant ids.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from typing import Any

import fastavro

_VALUE_HEAD = b'{"variant":"%012d","seq":%d,"kind":"%s","pad":"'
_VALUE_TAIL = b'"}'
_CONFLUENT_MAGIC = b"\x00"
# Ten kinds, taken in turn along each partition: a pattern on one kind passes 10 % of every
# partition's records (S5, filtering).
KINDS = (
    "allele",
    "gene",
    "haplotype",
    "variant",
    "assertion",
    "evidence",
    "condition",
    "ruleset",
    "citation",
    "curation",
)


@dataclass(frozen=True)
class Workload:
    partitions: int
    record_bytes: int = 1024
    keys: int = 10_000_000

    def __post_init__(self) -> None:
        smallest = len(_VALUE_HEAD % (0, 0, b"assertion")) + len(_VALUE_TAIL)
        if self.record_bytes < smallest:
            raise ValueError(f"record_bytes must be at least {smallest}, got {self.record_bytes}")
        if self.partitions < 1 or self.keys < 1:
            raise ValueError("a workload needs at least one partition and one key")

    def key_index(self, index: int) -> int:
        return index % self.keys

    def partition(self, index: int) -> int:
        return self.key_index(index) % self.partitions

    def key(self, index: int) -> bytes:
        return b"variant-%d" % self.key_index(index)

    def kind(self, index: int) -> str:
        """The record's kind: the next of KINDS along its partition (while keys ≥ records)."""
        return KINDS[(index // self.partitions) % len(KINDS)]

    def locate(self, index: int) -> tuple[int, int]:
        """Record `index`'s partition and offset, for a contender that sends the bare value
        (whose `seq` is the index): loaded in index order, a partition holds every
        `partitions`-th record. Only while every record has a key of its own."""
        return self.partition(index), index // self.partitions

    def value(self, index: int) -> bytes:
        head = _VALUE_HEAD % (self.key_index(index), index, self.kind(index).encode())
        return head + b"x" * (self.record_bytes - len(head) - len(_VALUE_TAIL)) + _VALUE_TAIL

    def avro_value(self, index: int, schema_id: int) -> bytes:
        """The value as Confluent's Avro producer would write it with schema `schema_id` (the
        registry's id of AVRO_SCHEMA): the same fields, whose JSON is `value(index)`."""
        head = _VALUE_HEAD % (self.key_index(index), index, self.kind(index).encode())
        pad = self.record_bytes - len(head) - len(_VALUE_TAIL)
        body = io.BytesIO()
        body.write(_CONFLUENT_MAGIC + struct.pack(">I", schema_id))
        record = {
            "variant": f"{self.key_index(index):012d}",
            "seq": index,
            "kind": self.kind(index),
            "pad": "x" * pad,
        }
        fastavro.schemaless_writer(body, _PARSED_AVRO_SCHEMA, record)
        return body.getvalue()


# The Avro schema of the workload's values (S6): decoded to JSON, a value is `value(index)`.
AVRO_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "Curation",
    "namespace": "benchmarks",
    "fields": [
        {"name": "variant", "type": "string"},
        {"name": "seq", "type": "long"},
        {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": list(KINDS)}},
        {"name": "pad", "type": "string"},
    ],
}
_PARSED_AVRO_SCHEMA = fastavro.parse_schema(AVRO_SCHEMA)
