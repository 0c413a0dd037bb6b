"""Every request goes to the configured endpoint (a catalogue run against moto, its requests
counted per host), the service lists hold while a command runs, the tool's region wins."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest

from aws_mcp_server.decision import decide
from aws_mcp_server.engine import Engine
from aws_mcp_server.settings import Settings
from tests.conftest import AwsFiles, Moto

ROOT = Path(__file__).resolve().parents[2]

# --- every request goes to the configured endpoint -------------------------------------------


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _catalogue(work: Path) -> list[tuple[str, str | None]]:
    """(command, profile): reads, writes, values named help, customizations that build their
    own clients, and a profile whose credentials come from STS (assume-role). Whether the
    emulator says yes is not the point (`head-bucket --bucket help` is a 404): where it went is."""
    bucket = unique("where")
    (work / "template.json").write_text(
        json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}})
    )
    (work / "up").mkdir(exist_ok=True)
    (work / "up" / "a.txt").write_text("a")
    return [
        (f"s3 mb s3://{bucket}", None),
        ("s3api list-buckets", None),
        (f"s3 sync up s3://{bucket}/up --exclude help", None),
        (f"s3 ls s3://{bucket} --recursive", None),
        (f"s3 rm s3://{bucket}/up/a.txt", None),
        ("s3api head-bucket --bucket help", None),
        ("dynamodb list-tables", None),
        ("sqs list-queues", None),
        ("sqs create-queue --queue-name help", None),
        ("rds describe-db-instances", None),
        ("sts get-caller-identity", "role"),
        ("emr create-default-roles", None),
        ("dlm create-default-role", None),
        (f"cloudtrail create-subscription --name {unique('trail')} --s3-new-bucket "
         f"{unique('trailb')}", None),
        (f"cloudformation deploy --template-file template.json --stack-name {unique('st')}",
         None),
        ("logs describe-log-groups --log-group-name-prefix help", None),
    ]


def test_every_request_of_a_catalogue_goes_to_the_configured_endpoint(
    moto_server: Moto, aws_env: AwsFiles, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    settings = Settings(endpoint_url=moto_server.url, workdir=work)
    engine = Engine(settings)
    expected = f"http://127.0.0.1:{moto_server.port}"
    cwd = os.getcwd()
    os.chdir(work)  # as the server does: the workdir is the working directory
    try:
        tally: dict[str, int] = {}
        catalogue = _catalogue(work)
        for text, profile in catalogue:
            planned = decide(text, settings, validate=False)
            assert planned.plan is not None, (text, planned.reason)
            result = engine.run(planned.plan, profile=profile, region="us-east-1")
            assert result.ok or "An error occurred" in result.stderr, (text, result.stderr)
            assert result.hosts, f"{text}: no request recorded"
            for host, count in result.hosts.items():
                tally[host] = tally.get(host, 0) + count
    finally:
        os.chdir(cwd)
    assert list(tally) == [expected], tally
    assert tally[expected] >= len(catalogue)


def test_a_client_of_a_denied_service_is_refused_while_the_command_runs(
    moto_server: Moto, aws_env: AwsFiles, tmp_path: Path
) -> None:
    """The run-time check, for a command that reaches the engine without the static one (an
    unchecked plan): the IAM client `emr create-default-roles` builds is refused."""
    from aws_mcp_server.model import RunPlan

    settings = Settings(endpoint_url=moto_server.url, workdir=tmp_path, deny_services=("iam",))
    plan = RunPlan(
        argv=("emr", "create-default-roles", "--endpoint-url", moto_server.url),
        endpoint_url=moto_server.url,
    )
    result = Engine(settings).run(plan)
    assert result.exit_code == 255
    assert "denies the iam service" in result.stderr
    assert not any("iam" in host for host in result.hosts)


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_the_tools_region_wins_over_region_in_the_command(
    moto_server: Moto, aws_env: AwsFiles, tmp_path: Path, mode: str
) -> None:
    from mcp import Client

    from aws_mcp_server.server import build_server
    from tests.mcp_helpers import text_of

    settings = Settings(endpoint_url=moto_server.url, workdir=tmp_path)
    command = (
        "ec2 describe-availability-zones --region eu-west-1 "
        "--query 'AvailabilityZones[0].RegionName' --output text"
    )
    async with Client(build_server(settings, Engine(settings)), mode=mode) as client:  # type: ignore[arg-type]
        given = await client.call_tool(
            "execute_aws_read_command", {"command": command, "region": "us-west-2"}
        )
        absent = await client.call_tool("execute_aws_read_command", {"command": command})
    assert text_of(given).strip() == "us-west-2"
    assert text_of(absent).strip() == "eu-west-1"
