"""Where dead letters go: an S3 prefix, a Kafka topic, or an SQS queue or SNS topic (with an
S3 prefix for the letters too large for a message), and the bucket the stack owns.

The bucket outlives `pulumi destroy` unless `dlqForceDestroy` is true: destroying failed
records silently would be data loss. Its settings resources (public access block,
encryption, TLS-only policy, versioning, lifecycle) are retained with it, so a kept bucket
stays private. It keeps versions, so an overwritten or deleted letter (redrive moves letters
aside) can be had back until its old version expires with the letters' own retention.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def object_arn_pattern(self, partition: str) -> str:
        """The objects the bridge may write: everything under the prefix, nothing else."""
        return f"arn:{partition}:s3:::{self.bucket}/{self.prefix}*"


@dataclass(frozen=True)
class KafkaTopic:
    topic: str

    @property
    def uri(self) -> str:
        return f"kafka://{self.topic}"


@dataclass(frozen=True)
class MessageDestination:
    """An SQS queue or SNS topic; `overflow` None until the component gives it its bucket."""

    service: str  # "sqs" or "sns"
    arn: str
    given: str  # the DLQ value as the stack gives it (an SQS queue may be named by URL)
    overflow: S3Location | None

    @property
    def uri(self) -> str:
        return self.given

    def with_overflow(self, overflow: S3Location) -> MessageDestination:
        return MessageDestination(self.service, self.arn, self.given, overflow)


DeadLetterTarget = S3Location | KafkaTopic | MessageDestination


def normalize_prefix(prefix: str) -> str:
    """A key prefix as the bridge uses it: a "directory", ending in "/" unless empty."""
    return prefix if not prefix or prefix.endswith("/") else prefix + "/"


class DeadLetterBucket:
    """The stack's dead-letter bucket: encrypted, private, expiring after the retention."""

    def __init__(
        self,
        name: str,
        *,
        prefix: str,
        retention_days: int,
        force_destroy: bool,
        tags: dict[str, str],
        parent: pulumi.Resource,
    ) -> None:
        # Retained on destroy unless told otherwise; force_destroy then empties it first.
        options = pulumi.ResourceOptions(parent=parent, retain_on_delete=not force_destroy)
        self.bucket = aws.s3.Bucket(name, force_destroy=force_destroy, tags=tags, opts=options)
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=options,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=self.bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
            opts=options,
        )
        aws.s3.BucketPolicy(
            f"{name}-tls-only",
            bucket=self.bucket.id,
            policy=self.bucket.arn.apply(lambda arn: json.dumps(tls_only_policy(arn))),
            # S3 aborts a policy written while the bucket's public access block is changing.
            opts=pulumi.ResourceOptions.merge(
                options, pulumi.ResourceOptions(depends_on=[public_access])
            ),
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=self.bucket.id,
            versioning_configuration={"status": "Enabled"},
            opts=options,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=self.bucket.id,
            rules=[
                {
                    "id": "expire-dead-letters",
                    "status": "Enabled",
                    "filter": {"prefix": prefix},
                    "expiration": {"days": retention_days},
                    "noncurrent_version_expiration": {"noncurrent_days": retention_days},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 1},
                },
                {  # a delete marker with no versions left behind it
                    "id": "remove-expired-delete-markers",
                    "status": "Enabled",
                    "filter": {"prefix": prefix},
                    "expiration": {"expired_object_delete_marker": True},
                },
            ],
            # S3 refuses version rules on a bucket whose versioning is not set yet.
            opts=pulumi.ResourceOptions.merge(
                options, pulumi.ResourceOptions(depends_on=[versioning])
            ),
        )
        self.location: pulumi.Output[S3Location] = self.bucket.bucket.apply(
            lambda bucket: S3Location(bucket, prefix)
        )


def tls_only_policy(bucket_arn: str) -> dict[str, object]:
    """Denies every request to the bucket that does not come over TLS (AWS's
    s3-bucket-ssl-requests-only rule)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyRequestsWithoutTls",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
