"""Lambda's refusals are named and classified as botocore's own parser names them.

The reference is botocore's rest-json parser with Lambda's Invoke model: every answer below
must come out with the code and message it gives, and the code decides the outcome.
"""

from __future__ import annotations

import botocore.session
import pytest
from botocore.awsrequest import HeadersDict
from botocore.parsers import create_parser

from consumer.aws_lambda.answers import Outcome, classify, function_error, service_error

_INVOKE = botocore.session.get_session().get_service_model("lambda").operation_model("Invoke")
_ERROR_TYPE = ":http://internal.amazon.com/coral/com.amazonaws.lambda/"

# (status, x-amzn-ErrorType or None, body, the outcome the bridge acts on)
ANSWERS = [
    (404, "ResourceNotFoundException" + _ERROR_TYPE, b'{"Type":"User","message":"no"}', "fatal"),
    (403, "AccessDeniedException", b'{"Message":"not allowed"}', "fatal"),
    (
        429,
        "TooManyRequestsException" + _ERROR_TYPE,
        b'{"Reason":"Rate","message":"x"}',
        "throttled",
    ),
    (429, None, b"", "throttled"),
    (400, "ThrottlingException", b"{}", "throttled"),
    (413, "RequestTooLargeException", b'{"message":"Request must be smaller"}', "fatal"),
    (500, "ServiceException", b'{"message":"internal"}', "retryable"),
    (502, "EC2UnexpectedException", b'{"message":"eni"}', "retryable"),
    (409, "ResourceConflictException", b'{"message":"updating"}', "retryable"),
    (400, "InvalidRequestContentException", b'{"message":"bad json"}', "fatal"),
    (500, None, b"", "retryable"),
    (502, None, b"<html><body>Bad Gateway</body></html>", "retryable"),
    (503, None, b"  \n", "retryable"),
    (504, None, b"upstream timed out", "retryable"),
    (400, None, b'{"__type":"aws.lambda#InvalidParameterValueException","message":"m"}', "fatal"),
    (400, None, b'{"code":"ResourceNotReadyException","message":"m"}', "retryable"),
    (400, None, b'{"Code":"SnapStartNotReadyException"}', "retryable"),
    (400, None, b"not json at all", "fatal"),
    (400, None, b"[1, 2]", "fatal"),
    (401, None, b"", "fatal"),
    (503, None, '{"message":"caf\u00e9"}'.encode(), "retryable"),
]


def botocore_error(status: int, error_type: str | None, body: bytes) -> tuple[str, str]:
    headers = HeadersDict({"x-amzn-ErrorType": error_type} if error_type else {})
    parsed = create_parser("rest-json").parse(
        {"status_code": status, "headers": headers, "body": body}, _INVOKE.output_shape
    )
    return parsed["Error"]["Code"], parsed["Error"]["Message"]


@pytest.mark.parametrize(("status", "error_type", "body", "outcome"), ANSWERS)
def test_refusals_are_named_as_botocore_names_them(
    status: int, error_type: str | None, body: bytes, outcome: str
) -> None:
    if body == b"[1, 2]":  # botocore fails on a JSON array; the bridge names it by its status
        assert service_error(status, error_type, body) == ("400", "")
    else:
        assert service_error(status, error_type, body) == botocore_error(status, error_type, body)
    code, _ = service_error(status, error_type, body)
    assert classify(code, status) is Outcome(outcome)


def test_a_long_message_is_cut() -> None:
    code, message = service_error(
        400, "InvalidRequestContentException", b'{"message":"%s"}' % (b"m" * 5000)
    )
    assert code == "InvalidRequestContentException"
    assert message == "m" * 500


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"errorType":"KeyError","errorMessage":"\'variant_id\'"}', ("KeyError", "'variant_id'")),
        (
            b'{"errorMessage":"Task timed out after 3.00 seconds"}',
            ("Unknown", "Task timed out after 3.00 seconds"),
        ),
        (b"Unhandled", ("Unknown", "Unhandled")),
        (b'"just a string"', ("Unknown", '"just a string"')),
    ],
)
def test_a_function_error_names_the_function_s_error(
    body: bytes, expected: tuple[str, str]
) -> None:
    assert function_error(body) == expected
