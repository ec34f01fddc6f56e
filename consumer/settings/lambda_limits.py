"""Lambda's Invoke payload quotas, in bytes: the numbers real Lambda enforces and reports.

The one place these numbers live: the bridge sizes its batches by them, and the local Lambda
(consumer/local, left out of the production image) enforces them like the real service.
"""

from __future__ import annotations

# RequestResponse request: "Request must be smaller than 6291456 bytes for the InvokeFunction
# operation" is real Lambda's 413 message, so 6 MB means 6 MiB.
LAMBDA_REQUEST_RESPONSE_MAX_BYTES = 6 * 1024 * 1024

# Event (asynchronous) request: 256 KB until 2025, now 1 MB ("For asynchronous invocations, the
# maximum payload size is 1 MB": the Invoke API reference and botocore's lambda model).
LAMBDA_EVENT_MAX_BYTES = 1024 * 1024

# Function response: real Lambda reports "exceeded maximum allowed payload size (6291556 bytes)",
# 100 bytes above the request quota.
LAMBDA_RESPONSE_MAX_BYTES = 6_291_556
