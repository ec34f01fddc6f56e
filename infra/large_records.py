"""Claim checks for records too large for an invocation: the bucket the stack owns for them,
and the task role's permission to store them.

With `largeRecordsBucket: true` the stack creates the bucket: private, encrypted, TLS-only,
its objects expiring `largeRecordsRetentionDays` after they are written (S3 lifecycle, the
stack's own rule on the stack's own bucket). A bucket named in `largeRecords` keeps the
lifecycle its owner gave it: the stack changes nothing on it. The created bucket outlives
`pulumi destroy` unless `largeRecordsForceDestroy` is true, like the dead-letter bucket: a
function may still hold claim checks that point into it.

The task role may put objects under the prefix only; with `largeRecordsKmsKeyArn`, it may
also have S3 generate data keys with that key (SSE-KMS). Reading the objects is the
function's, and its role's permission is the user's to grant (docs/large-records.md).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_aws as aws

from consumer.settings.large_records import LargeRecordsLocation
from infra.dead_letters import tls_only_policy

if TYPE_CHECKING:  # a type only: looked up at run time, it loads every S3 module
    from pulumi_aws.s3 import (
        BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgsDict as DefaultEncryption,  # noqa: E501
    )


class LargeRecordsBucket:
    """The stack's claim-check bucket: encrypted, private, TLS-only, expiring."""

    def __init__(
        self,
        name: str,
        *,
        prefix: str,
        retention_days: int,
        kms_key_arn: str | None,
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
        encryption: DefaultEncryption = (
            {"sse_algorithm": "AES256"}
            if kms_key_arn is None
            else {"sse_algorithm": "aws:kms", "kms_master_key_id": kms_key_arn}
        )
        rule: aws.s3.BucketServerSideEncryptionConfigurationRuleArgsDict = {
            "apply_server_side_encryption_by_default": encryption,
            "bucket_key_enabled": kms_key_arn is not None,
        }
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=self.bucket.id,
            rules=[rule],
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
        # No versioning: objects are content-addressed, so an overwrite writes the same bytes.
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=self.bucket.id,
            rules=[
                {
                    "id": "expire-large-records",
                    "status": "Enabled",
                    "filter": {"prefix": prefix},
                    "expiration": {"days": retention_days},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 1},
                }
            ],
            opts=options,
        )
        self.location: pulumi.Output[LargeRecordsLocation] = self.bucket.bucket.apply(
            lambda bucket: LargeRecordsLocation(bucket, prefix)
        )


def large_record_statements(
    location: LargeRecordsLocation, kms_key_arn: str | None, *, partition: str, region: str
) -> list[dict[str, Any]]:
    """The task role's statements for storing claim checks under `location`."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "StoreLargeRecords",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": f"arn:{partition}:s3:::{location.bucket}/{location.prefix}*",
        }
    ]
    if kms_key_arn is not None:
        statements.append(
            {
                # SSE-KMS: S3 asks KMS for a data key on the writer's behalf.
                "Sid": "EncryptLargeRecords",
                "Effect": "Allow",
                "Action": "kms:GenerateDataKey",
                "Resource": kms_key_arn,
                "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
            }
        )
    return statements
