"""The container image: built from this repository and pushed to the stack's ECR
repository, or a prebuilt one named by the `image` setting (then nothing is built).

The task definition refers to the pushed image by digest, so a new task definition revision
(and a deployment) follows only when the image's content changed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final

import pulumi
import pulumi_aws as aws
import pulumi_docker as docker

from infra.fargate import IMAGE_PLATFORMS

BUILD_CONTEXT: Final = "."  # Pulumi runs the program from the project directory
DOCKERFILE: Final = "Dockerfile"
TAG: Final = "latest"

_ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
    r"(?P<repository>[a-z0-9][a-z0-9._/-]*?)(?::[\w.-]+)?(?:@sha256:[0-9a-f]{64})?$"
)


@dataclass(frozen=True)
class ContainerImage:
    ref: pulumi.Output[str]  # what the task definition runs
    repository_arn: pulumi.Output[str] | None  # the ECR repository ECS pulls from, if any


def ecr_repository_arn(image: str, partition: str) -> str | None:
    """The ECR repository of a prebuilt image reference; None when it is not in ECR."""
    match = _ECR_IMAGE.match(image)
    if match is None:
        return None
    return (
        f"arn:{partition}:ecr:{match['region']}:{match['account']}:repository/{match['repository']}"
    )


def lifecycle_policy(keep_images: int) -> dict[str, Any]:
    """Expire all but the newest `keep_images` images (tagged or not)."""
    return {
        "rules": [
            {
                "rulePriority": 1,
                "description": f"keep the last {keep_images} images",
                "selection": {
                    "tagStatus": "any",
                    "countType": "imageCountMoreThan",
                    "countNumber": keep_images,
                },
                "action": {"type": "expire"},
            }
        ]
    }


def prebuilt_image(image: str, partition: str) -> ContainerImage:
    repository_arn = ecr_repository_arn(image, partition)
    return ContainerImage(
        ref=pulumi.Output.from_input(image),
        repository_arn=None if repository_arn is None else pulumi.Output.from_input(repository_arn),
    )


def built_image(
    name: str,
    *,
    cpu_architecture: str,
    keep_images: int,
    tags: dict[str, str],
    parent: pulumi.Resource,
) -> ContainerImage:
    """An ECR repository (emptied by `pulumi destroy`) and the image built and pushed to it."""
    options = pulumi.ResourceOptions(parent=parent)
    repository = aws.ecr.Repository(
        name,
        force_delete=True,  # `pulumi destroy` removes it with its images, no manual step
        image_scanning_configuration={"scan_on_push": True},
        image_tag_mutability="MUTABLE",  # the tag moves; tasks run the digest
        tags=tags,
        opts=options,
    )
    aws.ecr.LifecyclePolicy(
        f"{name}-lifecycle",
        repository=repository.name,
        policy=json.dumps(lifecycle_policy(keep_images)),
        opts=options,
    )
    token = aws.ecr.get_authorization_token_output(registry_id=repository.registry_id)
    image = docker.Image(
        f"{name}-image",
        build={
            "context": BUILD_CONTEXT,
            "dockerfile": DOCKERFILE,
            "platform": IMAGE_PLATFORMS[cpu_architecture],
        },
        image_name=repository.repository_url.apply(lambda url: f"{url}:{TAG}"),
        registry={
            "server": repository.repository_url,
            "username": token.user_name,
            "password": pulumi.Output.secret(token.password),
        },
        opts=options,
    )
    return ContainerImage(ref=image.repo_digest, repository_arn=repository.arn)
