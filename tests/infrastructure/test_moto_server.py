"""The moto server fixture answers the real AWS clients for S3, SSM, IAM and ECR."""

from __future__ import annotations

import json
import uuid

import aioboto3
import pytest
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError

from tests.support.moto_fixtures import MotoServer


async def test_s3_objects_and_ssm_secure_strings_round_trip(moto_server: MotoServer) -> None:
    session = aioboto3.Session()
    bucket, name = f"dlq-{uuid.uuid4().hex[:12]}", f"/k2l/{uuid.uuid4().hex[:8]}/password"
    async with session.client("s3", **moto_server.client_kwargs()) as s3:
        await s3.create_bucket(Bucket=bucket)
        await s3.put_object(Bucket=bucket, Key="a/b.json", Body=b'{"offset": 7}')
        got = await s3.get_object(Bucket=bucket, Key="a/b.json")
        assert json.loads(await got["Body"].read()) == {"offset": 7}
    async with session.client("ssm", **moto_server.client_kwargs()) as ssm:
        await ssm.put_parameter(Name=name, Value="s3cr3t", Type="SecureString")
        hidden = await ssm.get_parameter(Name=name)
        shown = await ssm.get_parameter(Name=name, WithDecryption=True)
    assert hidden["Parameter"]["Value"] != "s3cr3t"
    assert shown["Parameter"]["Value"] == "s3cr3t"


async def test_iam_roles_and_ecr_repositories_are_served(moto_server: MotoServer) -> None:
    session = aioboto3.Session()
    role = f"task-{uuid.uuid4().hex[:8]}"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    async with session.client("iam", **moto_server.client_kwargs()) as iam:
        await iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
        assert (await iam.get_role(RoleName=role))["Role"]["RoleName"] == role
    async with session.client("ecr", **moto_server.client_kwargs()) as ecr:
        created = await ecr.create_repository(repositoryName=role)
        assert created["repository"]["repositoryUri"].endswith(f"/{role}")


async def test_a_stopped_server_refuses_and_a_restarted_one_keeps_its_state(
    own_moto_server: MotoServer,
) -> None:
    session = aioboto3.Session()
    bucket = f"outage-{uuid.uuid4().hex[:12]}"
    async with session.client("s3", **own_moto_server.client_kwargs()) as s3:
        await s3.create_bucket(Bucket=bucket)
    own_moto_server.stop()
    no_retries = Config(retries={"total_max_attempts": 1})
    async with session.client("s3", config=no_retries, **own_moto_server.client_kwargs()) as s3:
        with pytest.raises(EndpointConnectionError):
            await s3.head_bucket(Bucket=bucket)
    own_moto_server.start()
    async with session.client("s3", **own_moto_server.client_kwargs()) as s3:
        await s3.head_bucket(Bucket=bucket)  # raises if the bucket were gone
