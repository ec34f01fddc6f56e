"""An SQS queue or SNS topic as `DLQ` names it: by ARN, or (SQS) by queue URL.

Forms taken:
- `arn:<partition>:sqs:<region>:<account>:<queue>`,
  `arn:<partition>:sns:<region>:<account>:<topic>`;
- `https://sqs.<region>.amazonaws.com/<account>/<queue>` (and `.amazonaws.com.cn`, and the
  older `https://<region>.queue.amazonaws.com/...`);
- any other `https://<host>/<account>/<queue>`, or `http://` on a loopback address: a queue
  behind a custom endpoint (tests, local stand-ins). Its region is the SDK's own.

A name ending in `.fifo` is a FIFO queue or topic: the dead letters then carry a message
group (the source topic-partition) and a deduplication id (topic/partition/offset).

Only the standard library here: the Pulumi program imports the settings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from consumer.settings.urls import is_loopback

AwsService = Literal["sqs", "sns"]

_NAME = r"[A-Za-z0-9_-]{1,80}(?:\.fifo)?"  # SQS and SNS both: 80 characters, `.fifo` beside
_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):(?P<service>sqs|sns):(?P<region>[a-z]{2}(?:-[a-z]+)+-\d):"
    rf"(?P<account>\d{{12}}):(?P<name>{_NAME})$"
)
_AWS_QUEUE_HOST = re.compile(
    r"^(?:sqs\.(?P<region>[a-z]{2}(?:-[a-z]+)+-\d)|(?P<old>[a-z]{2}(?:-[a-z]+)+-\d)\.queue)"
    r"\.amazonaws\.com(?P<cn>\.cn)?$"
)
_QUEUE_PATH = re.compile(rf"^/(?P<account>\d{{12}})/(?P<name>{_NAME})$")


@dataclass(frozen=True)
class AwsDestination:
    """A queue or topic. `region` empty: the SDK's region (a queue URL of a custom endpoint)."""

    service: AwsService
    partition: str
    region: str
    account: str
    name: str
    queue_url: str | None = None  # SQS: the URL given, or None when named by ARN
    custom_endpoint: bool = False  # the URL is not AWS's: the SDK is aimed at its host

    @property
    def arn(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.name}"

    @property
    def fifo(self) -> bool:
        return self.name.endswith(".fifo")

    @property
    def url(self) -> str:
        """SQS: the queue's URL, as given or as AWS forms it from the ARN."""
        if self.queue_url is not None:
            return self.queue_url
        domain = "amazonaws.com.cn" if self.partition == "aws-cn" else "amazonaws.com"
        return f"https://sqs.{self.region}.{domain}/{self.account}/{self.name}"

    @property
    def endpoint_url(self) -> str | None:
        """The API endpoint a custom queue URL names (scheme and host), else None (AWS's)."""
        if not self.custom_endpoint or self.queue_url is None:
            return None
        parts = urlsplit(self.queue_url)
        return f"{parts.scheme}://{parts.netloc}"


def parse_aws_destination(location: str) -> AwsDestination | None:
    """The queue or topic `location` names; None if it names neither (another scheme);
    ValueError if it is meant as one but is malformed, with the forms to use."""
    if location.startswith("arn:"):
        match = _ARN.match(location)
        if match is None:
            raise ValueError(
                f"{location!r} is not an SQS queue or SNS topic ARN: write "
                "arn:aws:sqs:<region>:<account>:<queue> or arn:aws:sns:<region>:<account>:<topic>"
            )
        service: AwsService = "sqs" if match["service"] == "sqs" else "sns"
        return AwsDestination(
            service, match["partition"], match["region"], match["account"], match["name"]
        )
    parts = urlsplit(location)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return None
    path = _QUEUE_PATH.match(parts.path)
    host = _AWS_QUEUE_HOST.match(parts.hostname)
    if path is None or parts.query or parts.fragment or "@" in parts.netloc:
        if host is None and path is None:
            return None  # not meant as a queue: the caller lists every form
        raise ValueError(
            f"{location!r} is not an SQS queue URL: write "
            "https://sqs.<region>.amazonaws.com/<account>/<queue>"
        )
    if host is not None and parts.scheme == "https":
        partition = "aws-cn" if host["cn"] else "aws"
        region = host["region"] or host["old"]
        return AwsDestination(
            "sqs", partition, region, path["account"], path["name"], queue_url=location
        )
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError(
            f"{location!r}: dead letters would travel in clear; use https:// (http:// is taken "
            "only for a loopback address)"
        )
    return AwsDestination(
        "sqs", "aws", "", path["account"], path["name"], queue_url=location, custom_endpoint=True
    )
