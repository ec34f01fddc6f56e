"""Where the tasks run: the configured VPC and subnets, or the account's default VPC (as the
replaced deployment script did), and a security group with no ingress and egress only to the
ports the bridge uses: HTTPS (AWS APIs, and a schema registry on 443), the brokers' ports, and
a schema registry's own port if its URL names one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pulumi
import pulumi_aws as aws

from infra.settings import PROJECT, ConfigurationError, StackSettings

HTTPS_PORT: Final = 443  # Lambda, S3, SSM, ECR, CloudWatch Logs and Glue endpoints
ANYWHERE_IPV4: Final = "0.0.0.0/0"
ANYWHERE_IPV6: Final = "::/0"


class NoDefaultVpcError(ConfigurationError):
    """Neither vpcId is set nor does the account have a default VPC in the region."""


@dataclass(frozen=True)
class Network:
    vpc_id: str
    subnet_ids: tuple[str, ...]


def resolve_network(settings: StackSettings) -> Network:
    """The configured network; looks up what is not configured (the default VPC last)."""
    infra = settings.infra
    if infra.vpc_id and infra.subnet_ids:
        return Network(infra.vpc_id, tuple(infra.subnet_ids))
    vpc_id = infra.vpc_id or _default_vpc_id()
    subnets = aws.ec2.get_subnets(filters=[{"name": "vpc-id", "values": [vpc_id]}]).ids
    if not subnets:
        raise ConfigurationError(
            f"VPC {vpc_id} has no subnets; fix it with: "
            f"pulumi config set --path 'subnetIds[0]' <subnet-…> (and vpcId)"
        )
    return Network(vpc_id, tuple(sorted(subnets)))


def _default_vpc_id() -> str:
    try:
        return aws.ec2.get_vpc(default=True).id
    except Exception as lookup:  # the provider reports "no matching EC2 VPC found"
        raise NoDefaultVpcError(
            f"{PROJECT}: vpcId is not set and the account has no default VPC in this region "
            f"({lookup}); fix it with: pulumi config set vpcId <vpc-…> and "
            "pulumi config set --path 'subnetIds[0]' <subnet-…>"
        ) from None


def security_group(
    name: str,
    *,
    network: Network,
    kafka_ports: tuple[int, ...],
    registry_port: int | None,
    tags: dict[str, str],
    parent: pulumi.Resource,
) -> aws.ec2.SecurityGroup:
    """Nothing in; out only to HTTPS (AWS APIs), the brokers' ports and a schema registry's."""
    purposes: dict[int, list[str]] = {HTTPS_PORT: ["AWS APIs (HTTPS)"]}
    for port in kafka_ports:
        purposes.setdefault(port, []).append("Kafka brokers")
    if registry_port is not None:
        purposes.setdefault(registry_port, []).append("schema registry")
    return aws.ec2.SecurityGroup(
        name,
        description="kafka-to-lambda tasks: no ingress; egress to AWS APIs and Kafka",
        vpc_id=network.vpc_id,
        ingress=[],
        egress=[
            {
                "description": ", ".join(purposes[port]),
                "protocol": "tcp",
                "from_port": port,
                "to_port": port,
                "cidr_blocks": [ANYWHERE_IPV4],
                "ipv6_cidr_blocks": [ANYWHERE_IPV6],
            }
            for port in sorted(purposes)
        ],
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )
