"""Record batches as bytes, for records no Kafka client library writes: a header name that is
not UTF-8 (aiokafka and confluent-kafka both encode names from text), produced with a raw
ProduceRequest so the broker stores exactly these bytes."""

from __future__ import annotations

import struct
from collections.abc import Sequence

from aiokafka import codec
from aiokafka.client import AIOKafkaClient
from aiokafka.protocol.produce import ProduceRequest
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.util import calc_crc32c
from aiokafka.structs import TopicPartition

CRC_AT = 17  # the batch's CRC, over everything from its attributes on
ATTRIBUTES_AT = 21
RECORDS_AT = 61
# A header name whose first byte `not_utf8_name` makes 0xff: one byte, so every length holds.
MARKER = "\x7fname"
NOT_UTF8_MARKER = b"\xffname"

Row = tuple[bytes | None, bytes | None, Sequence[tuple[str, bytes | None]]]


def batch(rows: Sequence[Row], compression: int = 0, base_offset: int = 0) -> bytes:
    """A v2 batch of `rows` (key, value, headers), as aiokafka's builder writes it."""
    builder = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=compression,
        is_transactional=0,
        producer_id=-1,
        producer_epoch=-1,
        base_sequence=-1,
        batch_size=1 << 20,
    )
    for delta, (key, value, headers) in enumerate(rows):
        builder.append(
            delta, timestamp=1_700_000_000_000 + delta, key=key, value=value, headers=headers
        )
    data = bytearray(builder.build())
    struct.pack_into(">q", data, 0, base_offset)
    return bytes(data)


def not_utf8_name(data: bytes) -> bytes:
    """The uncompressed batch with MARKER's first byte made 0xff, its CRC made right again."""
    corrupted = bytearray(data)
    corrupted[corrupted.index(MARKER.encode())] = 0xFF
    return _with_crc(corrupted)


def gzipped(data: bytes) -> bytes:
    """An uncompressed v2 batch as the same batch with its records gzipped."""
    header = bytearray(data[:RECORDS_AT])
    body = codec.gzip_encode(data[RECORDS_AT:])
    (attributes,) = struct.unpack_from(">h", header, ATTRIBUTES_AT)
    struct.pack_into(">h", header, ATTRIBUTES_AT, attributes | 1)  # gzip
    struct.pack_into(">i", header, 8, len(header) + len(body) - 12)
    return _with_crc(bytearray(header + body))


def _with_crc(data: bytearray) -> bytes:
    struct.pack_into(">I", data, CRC_AT, calc_crc32c(bytes(data[ATTRIBUTES_AT:])))
    return bytes(data)


async def produce_batch(bootstrap: str, topic: str, partition: int, data: bytes) -> None:
    """Sends the batch as it is to the partition's leader (acks=all)."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap)
    await client.bootstrap()
    try:
        client.add_topic(topic)
        await client.force_metadata_update()
        leader = client.cluster.leader_for_partition(TopicPartition(topic, partition))
        request = ProduceRequest(
            transactional_id=None,
            required_acks=-1,
            timeout=30_000,
            topics=[(topic, [(partition, data)])],
        )
        response = await client.send(leader, request)
        ((_, ((_, error_code, *_),)),) = response.topics
        assert error_code == 0, f"the broker refused the batch: error {error_code}"
    finally:
        await client.close()
