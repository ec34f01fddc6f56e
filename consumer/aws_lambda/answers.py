"""What Lambda's answer to an Invoke means, in the classes the retry policy acts on.

An answer is read from its status, two headers and its body, the way botocore's rest-json
parser reads them (the error code from `x-amzn-ErrorType`, else the body's `code`/`__type`,
else the status; an empty or HTML 5xx body is a generic error named by its status), so an
error is classified exactly as it was when the bridge invoked through botocore.
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from enum import Enum
from typing import Any

# Lambda error codes a retry can outlive; any other 4xx means the request itself is wrong.
_RETRYABLE_CODES = frozenset(
    {
        "ServiceException",
        "ResourceNotReadyException",
        "ResourceConflictException",
        "EC2ThrottledException",
        "EC2UnexpectedException",
        "ENILimitReachedException",
        "SubnetIPAddressLimitReachedException",
        "SnapStartNotReadyException",
        "SnapStartTimeoutException",
        "RecursiveInvocationException",
    }
)
_THROTTLE_CODES = frozenset({"TooManyRequestsException", "ThrottlingException"})
MAX_ERROR_MESSAGE_CHARS = 500


class Outcome(Enum):
    DELIVERED = "delivered"  # the function returned; `failed_item_ids` may name some records
    FUNCTION_ERROR = "function_error"  # the function raised or timed out
    THROTTLED = "throttled"  # 429: back off and lower the concurrency
    RETRYABLE = "retryable"  # 5xx, network, read timeout: back off and retry
    FATAL = "fatal"  # missing function, access denied, invalid request: stop


@dataclass(frozen=True)
class InvokeResult:
    outcome: Outcome
    latency_s: float
    error_type: str | None = None
    error_message: str | None = None
    # Partial batch response: the itemIdentifiers the function reported failed; None = all ok.
    failed_item_ids: frozenset[str] | None = None
    # The function's answer (DELIVERED) or error (FUNCTION_ERROR) as it came, and Lambda's id
    # of the request (`x-amzn-RequestId`): what RESPONSE_TOPIC and ERROR_TOPIC carry.
    body: bytes | None = None
    request_id: str | None = None


def parse_batch_item_failures(body: bytes) -> frozenset[str] | None:
    """`{"batchItemFailures": [{"itemIdentifier": "<offset>"}]}` → the identifiers.

    A body without the key means every record succeeded. A malformed entry means the
    function's answer cannot be trusted record by record: the whole batch is retried,
    which is what Lambda does for SQS and streams in that case (reported as "*").
    """
    if b"batchItemFailures" not in body:  # cheap test before parsing a large response
        return None
    try:
        answer = json.loads(body)
    except ValueError:
        return None
    if not isinstance(answer, dict) or "batchItemFailures" not in answer:
        return None
    failures = answer["batchItemFailures"]
    if not isinstance(failures, list):
        return frozenset({"*"})
    ids = set()
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str | int) or str(identifier).strip() == "":
            return frozenset({"*"})
        ids.add(str(identifier))
    return frozenset(ids)


def function_error(body: bytes) -> tuple[str, str]:
    """The error type and message of a function that raised (its answer's body)."""
    try:
        answer = json.loads(body)
        return (
            str(answer.get("errorType", "Unknown")),
            str(answer.get("errorMessage", ""))[:MAX_ERROR_MESSAGE_CHARS],
        )
    except (ValueError, AttributeError):
        return "Unknown", body[:MAX_ERROR_MESSAGE_CHARS].decode(errors="replace")


def service_error(status: int, error_type_header: str | None, body: bytes) -> tuple[str, str]:
    """The error code and message of a refused Invoke (status ≥ 300), as botocore names them."""
    stripped = body.strip()
    if status >= 500 and (not stripped or stripped.startswith(b"<html>")):
        return str(status), http.client.responses.get(status, "")
    parsed = _json_object(body)
    message = parsed.get("message", parsed.get("Message", ""))
    code: Any = parsed.get("__type", str(status))
    if error_type_header is not None:
        code = error_type_header
    elif "code" in parsed or "Code" in parsed:
        code = parsed.get("code", parsed.get("Code", ""))
    if isinstance(code, str):
        # "ResourceNotFoundException:http://internal.amazon.com/…" or "aws.lambda#Code"
        code = code.split(":", 1)[0].rsplit("#", 1)[-1]
    return str(code), str(message)[:MAX_ERROR_MESSAGE_CHARS]


def classify(code: str, status: int) -> Outcome:
    if code in _THROTTLE_CODES or status == 429:
        return Outcome.THROTTLED
    if code in _RETRYABLE_CODES or status >= 500:
        return Outcome.RETRYABLE
    return Outcome.FATAL


def _json_object(body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    text = body.decode("utf-8", errors="replace")
    try:
        parsed = json.loads(text)
    except ValueError:
        return {"message": text}  # botocore keeps an unparsable body as the message
    return parsed if isinstance(parsed, dict) else {}
