"""The Pulumi program: `pulumi up --stack staging|prod` deploys the bridge to ECS Fargate.

The infrastructure component is not written yet; until it is, this program stops before
declaring anything, so no half-built stack can be deployed by mistake.
"""

import pulumi

raise pulumi.RunError(
    "kafka-to-lambda: the infrastructure program is not implemented yet; nothing was deployed."
)
