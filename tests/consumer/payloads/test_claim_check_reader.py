"""The reader functions use (examples/claim_checks.py): it returns the stored bytes only when
they are what the claim check says, and refuses anything else with ClaimCheckError, whatever
a record holds (references generated to be hostile)."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.claim_check_reader import claim_check_reader
from tests.support.moto_fixtures import MotoServer

reader = claim_check_reader()
PREFIX = "large/"
FLAG_NATIVE = {reader.CLAIM_CHECK_HEADER: [49]}
FLAG_LEGACY = {reader.CLAIM_CHECK_HEADER: "MQ=="}


@pytest.fixture
def bucket(moto_server: MotoServer) -> tuple[Any, str]:
    s3 = boto3.client("s3", **moto_server.client_kwargs())
    name = f"claims-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return s3, name


def stored(s3: Any, bucket: str, data: bytes) -> dict[str, Any]:
    """Stores `data` as the bridge would; returns its reference document."""
    digest = hashlib.sha256(data).hexdigest()
    s3.put_object(Bucket=bucket, Key=PREFIX + digest, Body=data)
    return reference(bucket, PREFIX + digest, len(data), digest)


def reference(bucket: str, key: str, size: Any, sha256: str) -> dict[str, Any]:
    return {
        reader.CLAIM_CHECK_FIELD: {
            "version": 1,
            "bucket": bucket,
            "key": key,
            "size": size,
            "sha256": sha256,
            "replaces": "value",
        }
    }


def native(document: Any, headers: list[Any] | None = None) -> dict[str, Any]:
    raw = document if isinstance(document, bytes) else json.dumps(document).encode()
    return {
        "topic": "t",
        "partition": 0,
        "offset": 1,
        "timestamp": 0,
        "timestampType": "CREATE_TIME",
        "value": base64.b64encode(raw).decode(),
        "headers": [FLAG_NATIVE] if headers is None else headers,
    }


def test_a_stored_value_is_read_back_in_each_format(bucket: tuple[Any, str]) -> None:
    s3, name = bucket
    data = bytes(range(256)) * 1000
    document = stored(s3, name, data)
    legacy = {"offset": 1, "value": json.dumps(document), "headers": [FLAG_LEGACY]}
    for record in (native(document), legacy, document):
        assert reader.value_of(record, s3, location=f"s3://{name}/{PREFIX}") == data


def test_a_record_of_its_own_value_is_returned_as_it_is() -> None:
    own = native(b"\x00\xffplain", headers=[])
    assert reader.value_of(own, object()) == b"\x00\xffplain"  # S3 is never asked
    assert reader.value_of({"offset": 1, "value": "text", "headers": []}) == b"text"
    assert reader.value_of({**own, "value": None}) is None


def test_an_object_changed_after_it_was_stored_is_refused(bucket: tuple[Any, str]) -> None:
    s3, name = bucket
    document = stored(s3, name, b"the record as written")
    key = document[reader.CLAIM_CHECK_FIELD]["key"]
    s3.put_object(Bucket=name, Key=key, Body=b"the record rewritten!")  # same size
    with pytest.raises(reader.ClaimCheckError, match="does not match the claim check's SHA-256"):
        reader.value_of(native(document), s3)


@pytest.mark.parametrize("size_change", [-1, 1])
def test_an_object_of_another_size_than_the_reference_says_is_refused(
    bucket: tuple[Any, str], size_change: int
) -> None:
    s3, name = bucket
    document = stored(s3, name, b"0123456789")
    document[reader.CLAIM_CHECK_FIELD]["size"] += size_change
    with pytest.raises(reader.ClaimCheckError, match="the claim check says"):
        reader.value_of(native(document), s3)


class NoS3:
    def get_object(self, **_: Any) -> None:
        raise AssertionError("S3 was asked for a claim check that should have been refused")


def test_a_claim_check_outside_the_location_is_refused_before_s3_is_asked() -> None:
    digest = "0" * 64
    document = reference("other-bucket", PREFIX + digest, 10, digest)
    with pytest.raises(reader.ClaimCheckError, match="outside s3://claims/large/"):
        reader.value_of(native(document), NoS3(), location="s3://claims/large/")
    document = reference("claims", "elsewhere/" + digest, 10, digest)
    with pytest.raises(reader.ClaimCheckError, match="outside"):
        reader.value_of(native(document), NoS3(), location="s3://claims/large/")


def test_a_claim_check_larger_than_max_bytes_is_refused_before_s3_is_asked() -> None:
    digest = "0" * 64
    document = reference("claims", PREFIX + digest, 10**12, digest)
    with pytest.raises(reader.ClaimCheckError, match="over max_bytes"):
        reader.value_of(native(document), NoS3())


def test_a_reference_nested_deeper_than_json_can_read_is_refused() -> None:
    with pytest.raises(reader.ClaimCheckError, match="not JSON"):
        reader.claim_check_of(native(b"[" * 2000 + b"]" * 2000))


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True)
    | st.text(max_size=80),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)
# Each field of a valid reference, or something hostile in its place.
hostile_references = st.fixed_dictionaries(
    {
        "version": st.one_of(st.just(1), json_values),
        "bucket": st.one_of(st.just("claims"), st.text(max_size=80), json_values),
        "key": st.one_of(st.just(PREFIX + "a" * 64), st.text(max_size=2000), json_values),
        "size": st.one_of(st.just(5), st.integers(), json_values),
        "sha256": st.one_of(st.just("a" * 64), st.text(max_size=80), json_values),
        "replaces": st.one_of(st.just("value"), json_values),
    }
).map(lambda fields: {reader.CLAIM_CHECK_FIELD: fields})


def only_refusals(record: Any) -> Any:
    """claim_check_of's answer, or None when it refused with ClaimCheckError (the only error
    a hostile record may raise)."""
    try:
        return reader.claim_check_of(record)
    except reader.ClaimCheckError:
        return None


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(document=st.one_of(hostile_references, json_values))
def test_a_hostile_reference_is_a_claim_check_error_or_a_well_formed_claim_check(
    document: Any,
) -> None:
    for record in (native(document), document if isinstance(document, dict) else {}):
        check = only_refusals(record)
        if check is not None:  # every field is what a reference allows
            assert isinstance(check.bucket, str)
            assert 3 <= len(check.bucket) <= 63
            assert check.key.endswith(check.sha256)
            assert type(check.size) is int
            assert check.size >= 0
            assert len(check.sha256) == 64


@settings(max_examples=300)
@given(value=st.binary(max_size=10_000), legacy_text=st.text(max_size=10_000))
def test_any_bytes_flagged_as_a_claim_check_are_a_claim_check_error(
    value: bytes, legacy_text: str
) -> None:
    with pytest.raises(reader.ClaimCheckError):
        reader.claim_check_of(native(value))
    with pytest.raises(reader.ClaimCheckError):
        reader.claim_check_of({"offset": 1, "value": legacy_text, "headers": [FLAG_LEGACY]})


@settings(max_examples=200)
@given(record=st.dictionaries(st.text(max_size=20), json_values, max_size=8))
def test_any_record_shape_is_read_or_refused_never_crashes(record: dict[str, Any]) -> None:
    only_refusals(record)
    only_refusals({**record, "headers": [FLAG_NATIVE]})
    only_refusals({**record, "headers": [FLAG_LEGACY]})
