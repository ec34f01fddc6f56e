"""Claim checks in the Pulumi program: the task role may put objects under the claim-check
prefix only (and have S3 use the named KMS key), the stack's own claim-check bucket expires
its objects and outlives `pulumi destroy`, a named bucket is left as it is."""

from __future__ import annotations

import json
from typing import Any

from infra.stack_config import ConfigurationError
from tests.support.pulumi_program import (
    ACCOUNT_ID,
    MINIMAL_CONFIG,
    Deployment,
    Registration,
    deploy,
    run_program,
)

KMS_KEY = f"arn:aws:kms:us-east-1:{ACCOUNT_ID}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
BUCKET_TYPES = {
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketPolicy:BucketPolicy",
}


def large_records_policy(deployment: Deployment) -> dict[str, Any]:
    return deployment.role_policy("-task-large-records")


def claim_check_bucket(deployment: Deployment) -> list[Registration]:
    """The resources of the stack's claim-check bucket."""
    return [
        r for r in deployment.resources if "-large-records" in r.name and r.type in BUCKET_TYPES
    ]


def test_without_large_records_the_task_role_gets_no_claim_check_permission() -> None:
    deployment = deploy(MINIMAL_CONFIG)
    assert deployment.error is None
    policies = deployment.of_type("aws:iam/rolePolicy:RolePolicy")
    assert not [p for p in policies if p.name.endswith("-task-large-records")]
    assert claim_check_bucket(deployment) == []
    assert "LARGE_RECORDS" not in deployment.environment()


def test_a_named_location_is_writable_only_under_its_prefix_and_its_bucket_untouched() -> None:
    deployment = deploy({**MINIMAL_CONFIG, "largeRecords": "s3://shared-bucket/bridge/claims"})
    assert large_records_policy(deployment) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "StoreLargeRecords",
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": "arn:aws:s3:::shared-bucket/bridge/claims/*",
            }
        ],
    }
    assert deployment.environment()["LARGE_RECORDS"] == "s3://shared-bucket/bridge/claims"
    assert claim_check_bucket(deployment) == []  # its lifecycle stays its owner's


def test_a_customer_key_lets_s3_generate_data_keys_with_that_key_only() -> None:
    deployment = deploy(
        {
            **MINIMAL_CONFIG,
            "largeRecords": "s3://shared-bucket/claims/",
            "largeRecordsKmsKeyArn": KMS_KEY,
        }
    )
    statements = large_records_policy(deployment)["Statement"]
    assert statements[1] == {
        "Sid": "EncryptLargeRecords",
        "Effect": "Allow",
        "Action": "kms:GenerateDataKey",
        "Resource": KMS_KEY,
        "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}},
    }
    assert len(statements) == 2
    assert deployment.environment()["LARGE_RECORDS_KMS_KEY_ARN"] == KMS_KEY


def test_the_stacks_bucket_is_private_encrypted_expiring_and_kept_on_destroy() -> None:
    deployment = deploy(
        {**MINIMAL_CONFIG, "largeRecordsBucket": True, "largeRecordsRetentionDays": 3}
    )
    resources = claim_check_bucket(deployment)
    assert {r.type for r in resources} == BUCKET_TYPES
    assert len(resources) == len(BUCKET_TYPES)
    assert all(r.retain_on_delete for r in resources)
    by_type = {r.type: r.inputs for r in resources}
    bucket = by_type["aws:s3/bucket:Bucket"]
    assert bucket["forceDestroy"] is False
    name = next(r.name for r in resources if r.type == "aws:s3/bucket:Bucket") + "-0123abc"
    assert deployment.environment()["LARGE_RECORDS"] == f"s3://{name}/large-records/"
    assert large_records_policy(deployment)["Statement"] == [
        {
            "Sid": "StoreLargeRecords",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": f"arn:aws:s3:::{name}/large-records/*",
        }
    ]
    (rule,) = by_type["aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"]["rules"]
    assert rule["filter"] == {"prefix": "large-records/"}
    assert rule["expiration"] == {"days": 3}
    assert rule["status"] == "Enabled"
    (encryption,) = by_type[
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    ]["rules"]
    assert encryption["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    access = by_type["aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"]
    assert all(
        access[flag]
        for flag in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
    )
    policy = json.loads(by_type["aws:s3/bucketPolicy:BucketPolicy"]["policy"])
    assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_force_destroy_lets_destroy_delete_the_claim_check_bucket() -> None:
    deployment = deploy(
        {**MINIMAL_CONFIG, "largeRecordsBucket": True, "largeRecordsForceDestroy": True}
    )
    resources = claim_check_bucket(deployment)
    assert resources
    assert not any(r.retain_on_delete for r in resources)
    bucket = next(r for r in resources if r.type == "aws:s3/bucket:Bucket")
    assert bucket.inputs["forceDestroy"] is True


def test_the_stacks_bucket_uses_the_customer_key_when_one_is_named() -> None:
    deployment = deploy(
        {**MINIMAL_CONFIG, "largeRecordsBucket": True, "largeRecordsKmsKeyArn": KMS_KEY}
    )
    (encryption,) = next(
        r
        for r in claim_check_bucket(deployment)
        if r.type.endswith("BucketServerSideEncryptionConfiguration")
    ).inputs["rules"]
    assert encryption["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": KMS_KEY,
    }
    assert large_records_policy(deployment)["Statement"][1]["Resource"] == KMS_KEY


def test_a_stack_bucket_and_a_named_location_together_are_refused() -> None:
    deployment = run_program(
        {**MINIMAL_CONFIG, "largeRecordsBucket": True, "largeRecords": "s3://shared/claims/"}
    )
    assert isinstance(deployment.error, ConfigurationError), deployment.error
    assert "kafka-to-lambda:largeRecordsBucket" in str(deployment.error)
    assert "leave largeRecords empty" in str(deployment.error)
    assert deployment.resources == []


def test_a_location_that_is_not_s3_is_refused_with_the_key_and_the_fix() -> None:
    deployment = run_program({**MINIMAL_CONFIG, "largeRecords": "kafka://big"})
    assert isinstance(deployment.error, ConfigurationError), deployment.error
    message = str(deployment.error)
    assert message.startswith("kafka-to-lambda:largeRecords is 'kafka://big': ")
    assert "is not s3://bucket/prefix" in message
    assert "pulumi config set largeRecords s3://<bucket>/<prefix>/" in message
