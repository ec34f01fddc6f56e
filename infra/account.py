"""Where the stack deploys: account, partition and region, looked up once."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi_aws as aws


@dataclass(frozen=True)
class Account:
    account_id: str
    partition: str
    region: str

    @classmethod
    def lookup(cls) -> Account:
        return cls(
            account_id=aws.get_caller_identity().account_id,
            partition=aws.get_partition().partition,
            region=aws.get_region().region,
        )

    def arn(self, service: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{self.region}:{self.account_id}:{resource}"
