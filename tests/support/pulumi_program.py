"""Runs the Pulumi program (`__main__.py`) under `pulumi.runtime.set_mocks`: no CLI, no cloud.

A fake AWS account answers the provider functions the program calls (caller identity,
region, default VPC, subnets, KMS key, ECR token); every resource registration is recorded
with its inputs — secrets still wrapped as secrets — and the options the engine would see
(retain on delete, protect, parent). Stack config is set the way the Pulumi CLI passes it:
strings, objects as JSON, secret keys listed.
"""

from __future__ import annotations

import asyncio
import json
import runpy
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import mocks
from pulumi.runtime.rpc import deserialize_properties, is_rpc_secret, unwrap_rpc_secret
from pulumi.runtime.settings import get_root_resource
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from infra.settings import StackSettings
from tests.support.stack_files import read_stack_file

REPO = Path(__file__).resolve().parents[2]
PROJECT = yaml.safe_load((REPO / "Pulumi.yaml").read_text())["name"]
ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"
DEFAULT_VPC_ID = "vpc-0default"
DEFAULT_VPC_SUBNETS = ("subnet-0default-b", "subnet-0default-a")
# A password no real resource input may carry in plaintext.
TEST_PASSWORD = "pw-7f3a9c-must-stay-secret"
SSM_KEY_ARN = f"arn:aws:kms:{DEFAULT_REGION}:{ACCOUNT_ID}:key/aws-ssm-managed-key"

# The keys only the operator holds: prod's file leaves them to `pulumi config set`.
OPERATOR_VALUES = {
    "bootstrapServers": "pkc-prod0.us-east1.gcp.confluent.cloud:9092",
    "groupId": "stanford_prod_group",
    "username": "PRODAPIKEY",
}
MINIMAL_CONFIG: dict[str, object] = {
    "bootstrapServers": "broker-1.example.com:9092,broker-2.example.com:9093",
    "topic": "records",
    "groupId": "bridge",
    "username": "bridge-user",
    "lambdaFunctionName": "handler",
}


def stack_file_config(stack: str) -> dict[str, object]:
    """The plain project keys of `Pulumi.<stack>.yaml`, without their namespace, typed as
    Pulumi.yaml declares them (its `secure:` secrets left out)."""
    return read_stack_file(stack).values


@dataclass
class Registration:
    type: str
    name: str
    inputs: dict[str, Any]
    retain_on_delete: bool = False
    protect: bool = False
    parent: str = ""
    ignore_changes: tuple[str, ...] = ()
    dependencies: tuple[str, ...] = ()  # URNs of what it depends on (depends_on, and inputs)


@dataclass
class Deployment:
    """What one run of the program declared, called and exported."""

    resources: list[Registration]
    calls: list[tuple[str, dict[str, Any]]]
    outputs: dict[str, tuple[Any, bool]]  # name → (value, is secret)
    error: BaseException | None

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_]

    def parameter(self, slug: str) -> Registration:
        """The SSM parameter of one secret, by its name's last part ("kafka-password")."""
        (found,) = [
            p
            for p in self.of_type("aws:ssm/parameter:Parameter")
            if p.inputs["name"].endswith(f"/{slug}")
        ]
        return found

    def one(self, type_: str) -> Registration:
        found = self.of_type(type_)
        assert len(found) == 1, f"{len(found)} resources of type {type_}"
        return found[0]

    def called(self, token: str) -> list[dict[str, Any]]:
        return [args for called, args in self.calls if called == token]

    def container(self) -> dict[str, Any]:
        definitions = json.loads(
            self.one("aws:ecs/taskDefinition:TaskDefinition").inputs["containerDefinitions"]
        )
        assert len(definitions) == 1
        container: dict[str, Any] = definitions[0]
        return container

    def environment(self) -> dict[str, str]:
        return {item["name"]: item["value"] for item in self.container()["environment"]}

    def role_policy(self, role_suffix: str) -> dict[str, Any]:
        (policy,) = [
            r for r in self.of_type("aws:iam/rolePolicy:RolePolicy") if r.name.endswith(role_suffix)
        ]
        document: dict[str, Any] = json.loads(policy.inputs["policy"])
        return document


class FakeAws(mocks.Mocks):
    """An AWS account as the provider would describe it, and a recorder of registrations."""

    def __init__(self, region: str, *, has_default_vpc: bool) -> None:
        self.region = region
        self.has_default_vpc = has_default_vpc
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        self.calls.append((args.token, dict(args.args)))
        token, region = args.token, self.region
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": ACCOUNT_ID,
                "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/deployer",
                "userId": "AIDEXAMPLE",
                "id": ACCOUNT_ID,
            }, []
        if token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}, []
        if token == "aws:index/getRegion:getRegion":
            return {"region": region, "name": region, "id": region}, []
        if token == "aws:ec2/getVpc:getVpc":
            if not self.has_default_vpc:
                return {}, [("", "no matching EC2 VPC found")]
            return {"id": DEFAULT_VPC_ID, "default": True, "cidrBlock": "172.31.0.0/16"}, []
        if token == "aws:ec2/getSubnets:getSubnets":
            (vpc_filter,) = args.args["filters"]
            (vpc_id,) = vpc_filter["values"]
            if vpc_id == DEFAULT_VPC_ID:
                return {"ids": list(DEFAULT_VPC_SUBNETS), "id": region}, []
            return {"ids": [f"{vpc_id}-subnet-1", f"{vpc_id}-subnet-2"], "id": region}, []
        if token == "aws:kms/getKey:getKey":
            key_id = args.args["keyId"]
            arn = (
                SSM_KEY_ARN.replace(DEFAULT_REGION, region)
                if key_id == "alias/aws/ssm"
                else key_id
                if key_id.startswith("arn:")
                else f"arn:aws:kms:{region}:{ACCOUNT_ID}:key/{key_id.removeprefix('alias/')}"
            )
            return {"arn": arn, "keyId": arn.rsplit("/", 1)[-1], "id": arn}, []
        if token == "aws:ecr/getAuthorizationToken:getAuthorizationToken":
            return {
                "userName": "AWS",
                "password": "ecr-registry-token",
                "authorizationToken": "QVdTOmVjci1yZWdpc3RyeS10b2tlbg==",
                "proxyEndpoint": f"https://{ACCOUNT_ID}.dkr.ecr.{region}.amazonaws.com",
                "expiresAt": "2030-01-01T00:00:00Z",
                "id": region,
            }, []
        raise AssertionError(f"the program called {token}, which the fake account lacks")

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = args.inputs
        physical = f"{args.name}-0123abc"  # what Pulumi's auto-naming would add
        region, account = self.region, ACCOUNT_ID
        state: dict[str, Any] = dict(inputs)
        typ = args.typ
        if typ == "aws:ecr/repository:Repository":
            name = inputs.get("name", physical)
            state |= {
                "name": name,
                "arn": f"arn:aws:ecr:{region}:{account}:repository/{name}",
                "registryId": account,
                "repositoryUrl": f"{account}.dkr.ecr.{region}.amazonaws.com/{name}",
            }
            return name, state
        if typ == "aws:ssm/parameter:Parameter":
            state["arn"] = f"arn:aws:ssm:{region}:{account}:parameter{inputs['name']}"
            state["version"] = 1
            return str(inputs["name"]), state
        if typ == "aws:cloudwatch/logGroup:LogGroup":
            state["arn"] = f"arn:aws:logs:{region}:{account}:log-group:{inputs['name']}"
            return str(inputs["name"]), state
        if typ == "aws:iam/role:Role":
            name = inputs.get("name", physical)
            state |= {"name": name, "arn": f"arn:aws:iam::{account}:role/{name}"}
            return name, state
        if typ == "aws:s3/bucket:Bucket":
            bucket = inputs.get("bucket", physical)
            state |= {"bucket": bucket, "arn": f"arn:aws:s3:::{bucket}"}
            return bucket, state
        if typ == "aws:ecs/cluster:Cluster":
            state |= {"name": physical, "arn": f"arn:aws:ecs:{region}:{account}:cluster/{physical}"}
            return physical, state
        if typ == "aws:ecs/taskDefinition:TaskDefinition":
            family = inputs["family"]
            state |= {
                "arn": f"arn:aws:ecs:{region}:{account}:task-definition/{family}:1",
                "revision": 1,
            }
            return family, state
        if typ == "aws:ecs/service:Service":
            state["name"] = physical
            return physical, state
        if typ == "aws:ec2/securityGroup:SecurityGroup":
            return "sg-0mock", state
        if typ == "docker:index/image:Image":
            repository = str(inputs["imageName"]).rsplit(":", 1)[0]
            state["repoDigest"] = f"{repository}@sha256:{'ab' * 32}"
            return str(inputs["imageName"]), state
        return physical, state


class RecordingMonitor(mocks.MockMonitor):
    """The mock monitor, also keeping what the resource options told the engine."""

    def __init__(self, fake: FakeAws) -> None:
        super().__init__(fake)
        self.registrations: list[Registration] = []

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.registrations.append(
                Registration(
                    type=request.type,
                    name=request.name,
                    inputs=deserialize_properties(request.object),
                    retain_on_delete=request.retainOnDelete,
                    protect=request.protect,
                    parent=request.parent,
                    ignore_changes=tuple(request.ignoreChanges),
                    dependencies=tuple(request.dependencies),
                )
            )
        return response


def _config_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def run_program(
    config: Mapping[str, object],
    *,
    stack: str = "test",
    region: str = DEFAULT_REGION,
    has_default_vpc: bool = True,
    password: str | None = TEST_PASSWORD,
    secrets: Mapping[str, str] | None = None,
    program: Callable[[], object] | None = None,
) -> Deployment:
    """Runs __main__.py (or `program`) with the project keys in `config`, and `secrets` (key →
    value) set as `pulumi config set --secret` would; never raises (see `.error`)."""
    values = {f"{PROJECT}:{key}": _config_text(value) for key, value in config.items()}
    all_secrets = {
        **({"kafkaPassword": password} if password is not None else {}),
        **(secrets or {}),
    }
    secret_keys = []
    for key, value in all_secrets.items():
        values[f"{PROJECT}:{key}"] = value
        secret_keys.append(f"{PROJECT}:{key}")
    fake = FakeAws(region, has_default_vpc=has_default_vpc)
    monitor = RecordingMonitor(fake)
    # Pulumi's runtime runs on the thread's current event loop; other tests (asyncio ones)
    # may have left none, so the program gets a loop of its own, and the previous one is put
    # back afterwards.
    previous = _current_event_loop()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        pulumi.runtime.reset_options(project=PROJECT, stack=stack)
        pulumi.runtime.set_all_config(values, secret_keys)
        pulumi.runtime.set_mocks(fake, project=PROJECT, stack=stack, preview=False, monitor=monitor)
        error = _run(
            program or (lambda: runpy.run_path(str(REPO / "__main__.py"), run_name="__program__"))
        )
        outputs = {} if error is not None else _stack_outputs()
    finally:
        pulumi.runtime.set_all_config({}, [])
        asyncio.set_event_loop(previous)
        loop.close()
    return Deployment(
        resources=monitor.registrations, calls=fake.calls, outputs=outputs, error=error
    )


def _current_event_loop() -> asyncio.AbstractEventLoop | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        return None


def _run(program: Callable[[], object]) -> BaseException | None:
    with warnings.catch_warnings():
        # Loading pulumi_aws's modules loads its deprecated ones, which warn about themselves.
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"pulumi_aws\.")
        try:
            _sync_await(run_pulumi_func(program))
        except Exception as failure:  # the test judges it
            return failure
    return None


def _stack_outputs() -> dict[str, tuple[Any, bool]]:
    root = get_root_resource()
    assert root is not None
    return {
        name: (_sync_await(output.future()), _sync_await(output.is_secret()))
        for name, output in root.outputs.items()
    }


def deploy(config: Mapping[str, object], **options: Any) -> Deployment:
    """Runs the program and fails the test if it failed."""
    deployment = run_program(config, **options)
    if deployment.error is not None:
        raise deployment.error
    return deployment


def deploy_stack_file(stack: str, text: str | None = None) -> Deployment:
    """The program with `Pulumi.<stack>.yaml` as it is (or `text`, a version of it), plus the
    operator's values it lacks; its encrypted secrets are set with stand-in values."""
    config, options = stack_file_arguments(stack, text)
    return deploy(config, **options)


def stack_file_arguments(
    stack: str, text: str | None = None
) -> tuple[dict[str, object], dict[str, Any]]:
    """`run_program`'s config and options for a stack file."""
    found = read_stack_file(stack, text)
    secrets = {key: f"decrypted {key}" for key in found.secure if key != "kafkaPassword"}
    options: dict[str, Any] = {"stack": stack, "region": found.region, "secrets": secrets}
    return {**OPERATOR_VALUES, **found.values}, options


def load_stack_settings(config: Mapping[str, object], **options: Any) -> StackSettings:
    """The program's StackSettings for `config`, read as in a run of the program."""
    loaded: list[StackSettings] = []
    deployment = run_program(
        config, **options, program=lambda: loaded.append(StackSettings.from_config())
    )
    if deployment.error is not None:
        raise deployment.error
    return loaded[0]


def plaintext_strings(value: Any) -> Iterator[str]:
    """Every string in `value` outside a Pulumi secret (JSON text is searched as text)."""
    if is_rpc_secret(value):
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key)
            yield from plaintext_strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from plaintext_strings(item)


def secret_values(value: Any) -> Iterator[Any]:
    """Every value in `value` that Pulumi carries as a secret."""
    if is_rpc_secret(value):
        yield unwrap_rpc_secret(value)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from secret_values(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from secret_values(item)
