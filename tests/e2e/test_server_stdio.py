"""The MCP server end to end: the official client over stdio, the real engine, moto behind it."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import Client

from aws_mcp_server.engine import Engine
from aws_mcp_server.settings import Settings
from tests.conftest import AwsFiles, Moto, run, stopped_instance
from tests.mcp_helpers import stdio_params, text_of

pytestmark = pytest.mark.anyio


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "workdir"
    path.mkdir()
    return path


@pytest.fixture
def direct(aws_env: AwsFiles, moto_server: Moto, workdir: Path) -> Engine:
    """An engine beside the server, to look at moto's state without going through the tools."""
    return Engine(Settings(endpoint_url=moto_server.url, workdir=workdir))


def buckets(engine: Engine) -> list[str]:
    result = run(engine, ["s3api", "list-buckets", "--query", "Buckets[].Name"])
    assert result.ok, result.stderr
    return list(json.loads(result.text) or [])


async def test_tools_are_listed_with_true_annotations(
    aws_files: AwsFiles, moto_server: Moto, workdir: Path
) -> None:
    async with Client(stdio_params(aws_files, moto_server, workdir), mode="legacy") as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) == {
        "execute_aws_read_command",
        "execute_aws_write_command",
        "list_aws_profiles",
    }
    read, write = tools["execute_aws_read_command"], tools["execute_aws_write_command"]
    assert read.annotations is not None and read.annotations.read_only_hint is True
    assert read.annotations.destructive_hint is False
    assert write.annotations is not None and write.annotations.destructive_hint is True
    assert write.annotations.read_only_hint is False
    assert set(read.input_schema["properties"]) == {"command", "profile", "region"}
    assert read.input_schema["required"] == ["command"]
    for tool in tools.values():
        # Descriptions are read by the model on every turn: keep each under ~250 tokens.
        assert tool.description and len(tool.description) / 4 < 250


async def test_read_tool_runs_reads_and_refuses_writes(
    aws_files: AwsFiles, moto_server: Moto, workdir: Path, direct: Engine
) -> None:
    bucket = unique("refused")
    async with Client(stdio_params(aws_files, moto_server, workdir), mode="legacy") as client:
        listed = await client.call_tool(
            "execute_aws_read_command", {"command": "s3api list-buckets"}
        )
        assert not listed.is_error, text_of(listed)
        assert "Buckets" in json.loads(text_of(listed)), text_of(listed)
        refused = await client.call_tool(
            "execute_aws_read_command", {"command": f"s3 mb s3://{bucket}"}
        )
    assert refused.is_error
    assert "execute_aws_write_command" in text_of(refused)
    assert bucket not in buckets(direct)


async def test_write_tool_writes_and_a_leading_aws_is_tolerated(
    aws_files: AwsFiles, moto_server: Moto, workdir: Path, direct: Engine
) -> None:
    bucket = unique("made")
    async with Client(stdio_params(aws_files, moto_server, workdir), mode="legacy") as client:
        made = await client.call_tool(
            "execute_aws_write_command", {"command": f"aws s3 mb s3://{bucket}"}
        )
        assert not made.is_error, text_of(made)
        seen = await client.call_tool("execute_aws_read_command", {"command": "s3 ls"})
    assert bucket in text_of(seen)
    assert bucket in buckets(direct)


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("s3 ls | grep prod", "Refused (parse"),
        ("s3api list-buckets; rm -rf /", "Refused (parse"),
        ("s3api list-bucket", "list-buckets"),
        ("configure list", "Refused"),
        ("", "Refused"),
    ],
)
async def test_rejects_say_which_rule_and_what_to_do(
    aws_files: AwsFiles, moto_server: Moto, workdir: Path, command: str, expected: str
) -> None:
    async with Client(stdio_params(aws_files, moto_server, workdir), mode="legacy") as client:
        for tool in ("execute_aws_read_command", "execute_aws_write_command"):
            result = await client.call_tool(tool, {"command": command})
            assert result.is_error
            assert expected in text_of(result)


async def test_failed_command_returns_the_cli_error(
    aws_files: AwsFiles, moto_server: Moto, workdir: Path
) -> None:
    async with Client(stdio_params(aws_files, moto_server, workdir), mode="legacy") as client:
        result = await client.call_tool(
            "execute_aws_read_command", {"command": f"s3api head-bucket --bucket {unique('none')}"}
        )
    assert result.is_error
    assert "Not Found" in text_of(result) or "404" in text_of(result)


async def test_unknown_profile_lists_the_known_ones(
    aws_files: AwsFiles, moto_server: Moto, workdir: Path
) -> None:
    async with Client(stdio_params(aws_files, moto_server, workdir), mode="legacy") as client:
        result = await client.call_tool(
            "execute_aws_read_command", {"command": "sts get-caller-identity", "profile": "nope"}
        )
    assert result.is_error
    text = text_of(result)
    assert "unknown profile 'nope'" in text
    assert "alt" in text and "default" in text


async def test_profiles_and_regions_switch_per_call_under_concurrency(
    aws_files: AwsFiles, moto_server: Moto, workdir: Path
) -> None:
    zone = "ec2 describe-availability-zones --query AvailabilityZones[0].RegionName --output text"
    who = "sts get-caller-identity --query Arn --output text"
    cases = [
        ({"command": who, "profile": "alt"}, aws_files.alt_user_arn),
        ({"command": zone, "profile": "alt"}, "eu-west-1"),
        # AWS_REGION beats the default profile's region, as in AWS CLI v2 and the SDKs; a named
        # profile's own region beats AWS_REGION.
        ({"command": zone}, "sa-east-1"),
        ({"command": zone, "profile": "alt", "region": "ap-south-1"}, "ap-south-1"),
        ({"command": zone, "profile": "third"}, "ap-southeast-2"),
    ] * 4
    got: list[tuple[str, str]] = []
    async with Client(
        stdio_params(aws_files, moto_server, workdir, extra_env={"AWS_REGION": "sa-east-1"}),
        mode="legacy",
    ) as client:

        async def one(arguments: dict[str, str], expected: str) -> None:
            result = await client.call_tool("execute_aws_read_command", arguments)
            assert not result.is_error, text_of(result)
            got.append((text_of(result).strip(), expected))

        async with anyio.create_task_group() as group:
            for arguments, expected in cases:
                group.start_soon(one, arguments, expected)
    assert len(got) == len(cases)
    assert [g for g, e in got if g != e] == []


async def test_list_profiles_shows_kinds_and_no_secrets(
    aws_files: AwsFiles, moto_server: Moto, workdir: Path
) -> None:
    async with Client(stdio_params(aws_files, moto_server, workdir), mode="legacy") as client:
        result = await client.call_tool("list_aws_profiles", {})
    assert not result.is_error
    text = text_of(result)
    data = result.structured_content or json.loads(text)
    found = {p["name"]: p for p in data["profiles"]}
    assert found["default"]["is_default"] is True and found["default"]["region"] == "us-east-1"
    assert found["alt"]["region"] == "eu-west-1" and found["alt"]["kind"] == "static-keys"
    assert found["sso-dev"]["kind"] == "sso"
    assert found["role"]["kind"] == "assume-role"
    assert found["proc"]["kind"] == "credential-process"
    credentials = aws_files.credentials.read_text()
    for line in credentials.splitlines():
        if "=" in line:
            secret = line.split("=", 1)[1].strip()
            assert secret not in text


async def test_read_only_mode_hides_the_write_tool(
    aws_files: AwsFiles, moto_server: Moto, workdir: Path
) -> None:
    async with Client(
        stdio_params(aws_files, moto_server, workdir, "--read-only"), mode="legacy"
    ) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert "execute_aws_write_command" not in names
        assert "READ-ONLY" in (client.instructions or "")
        called = await client.call_tool("execute_aws_write_command", {"command": "s3 mb s3://x"})
    assert called.is_error


@pytest.mark.parametrize("mode", ["legacy", None])
async def test_progress_is_reported_and_timeout_is_clear(
    aws_files: AwsFiles, moto_server: Moto, workdir: Path, direct: Engine, mode: str | None
) -> None:
    """On both protocol generations: the client asked for progress (a progress token), so it
    gets it; a call that asks for none is waited for without the reporting task."""
    instance = stopped_instance(direct)
    updates: list[tuple[float, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        updates.append((progress, message))

    generation: dict[str, Any] = {"mode": mode} if mode else {}
    async with Client(
        stdio_params(aws_files, moto_server, workdir, "--timeout", "3"), **generation
    ) as client:
        started = time.perf_counter()
        result = await client.call_tool(
            "execute_aws_read_command",
            {"command": f"ec2 wait instance-running --instance-ids {instance}"},
            progress_callback=on_progress,
        )
        elapsed = time.perf_counter() - started
    assert result.is_error
    assert "timed out after 3 s" in text_of(result)
    assert elapsed < 3 + 2
    assert len(updates) >= 2
    assert updates[0][1] is not None and "running for" in updates[0][1]


async def test_cancelled_request_stops_the_command(
    aws_files: AwsFiles, moto_server: Moto, workdir: Path, direct: Engine, tmp_path: Path
) -> None:
    instance = stopped_instance(direct)
    audit = tmp_path / "audit.jsonl"
    params = stdio_params(aws_files, moto_server, workdir, "--audit-log", str(audit))
    async with Client(params, mode="legacy") as client:
        with anyio.move_on_after(1.0):
            await client.call_tool(
                "execute_aws_read_command",
                {"command": f"ec2 wait instance-running --instance-ids {instance}"},
            )
        # The server is still responsive, and records the call as cancelled.
        quick = await client.call_tool(
            "execute_aws_read_command", {"command": "s3api list-buckets"}
        )
        assert not quick.is_error
        deadline = time.monotonic() + 5
        records: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            records = (
                [json.loads(line) for line in audit.read_text().splitlines()]
                if audit.exists()
                else []
            )
            if any(r.get("status") == "cancelled" for r in records):
                break
            await anyio.sleep(0.1)
    cancelled = [r for r in records if r.get("status") == "cancelled"]
    assert (
        cancelled
        and cancelled[0]["operation"] in ("wait instance-running", "instance-running", None)
    ) or cancelled
    assert all("secret" not in json.dumps(r) for r in records)


def _confirmer(action: str, confirm: bool = True) -> Any:
    asked: list[str] = []

    async def callback(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(getattr(params, "message", ""))
        if action == "accept":
            return types.ElicitResult(action="accept", content={"confirm": confirm})
        return types.ElicitResult(action=action)  # type: ignore[arg-type]

    callback.asked = asked  # type: ignore[attr-defined]
    return callback


@pytest.mark.parametrize(
    ("action", "confirm", "created"),
    [
        ("accept", True, True),
        ("accept", False, False),
        ("decline", True, False),
        ("cancel", True, False),
    ],
)
async def test_elicitation_confirms_writes(
    aws_files: AwsFiles,
    moto_server: Moto,
    workdir: Path,
    direct: Engine,
    action: str,
    confirm: bool,
    created: bool,
) -> None:
    bucket = unique("elicit")
    callback = _confirmer(action, confirm)
    params = stdio_params(aws_files, moto_server, workdir, "--confirm-writes")
    async with Client(params, mode="legacy", elicitation_callback=callback) as client:
        result = await client.call_tool(
            "execute_aws_write_command", {"command": f"s3 mb s3://{bucket}", "profile": "alt"}
        )
        read = await client.call_tool("execute_aws_write_command", {"command": "s3 ls"})
    assert result.is_error is (not created), text_of(result)
    assert (bucket in buckets(direct)) is created
    assert len(callback.asked) == 1  # reads are never confirmed
    assert f"s3 mb s3://{bucket}" in callback.asked[0] and "alt" in callback.asked[0]
    assert not read.is_error


async def test_writes_are_refused_not_run_when_the_client_cannot_elicit(
    aws_files: AwsFiles, moto_server: Moto, workdir: Path, direct: Engine
) -> None:
    # Regression: this once ran the write "on the strength of the tool annotation".
    bucket = unique("noelicit")
    params = stdio_params(aws_files, moto_server, workdir, "--confirm-writes")
    async with Client(params, mode="legacy") as client:
        assert "nothing runs unconfirmed" in (client.instructions or "")
        result = await client.call_tool(
            "execute_aws_write_command", {"command": f"s3 mb s3://{bucket}"}
        )
    assert result.is_error
    assert "cannot be asked" in text_of(result) and "Nothing was run" in text_of(result)
    assert bucket not in buckets(direct)


async def test_output_over_the_cap_says_how_to_narrow_it(
    aws_files: AwsFiles, moto_server: Moto, workdir: Path
) -> None:
    params = stdio_params(aws_files, moto_server, workdir, "--output-cap", "2000")
    async with Client(params, mode="legacy") as client:
        result = await client.call_tool(
            "execute_aws_read_command", {"command": "ec2 describe-regions"}
        )
    text = text_of(result)
    assert not result.is_error
    assert "output truncated" in text and "--query 'Regions[]." in text
    # DescribeRegions has no paginator: the note offers its own filters, not --max-items.
    assert "--region-names" in text and "--filters" in text and "--max-items" not in text
    assert len(text) < 2800


async def test_modern_protocol_generation_works_too(
    aws_files: AwsFiles, moto_server: Moto, workdir: Path
) -> None:
    async with Client(stdio_params(aws_files, moto_server, workdir)) as client:
        result = await client.call_tool(
            "execute_aws_read_command", {"command": "s3api list-buckets"}
        )
        version = client.protocol_version
    assert not result.is_error, text_of(result)
    assert version


async def test_audit_log_records_every_call_without_output_or_secrets(
    aws_files: AwsFiles, moto_server: Moto, workdir: Path, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    bucket = unique("audited")
    params = stdio_params(aws_files, moto_server, workdir, "--audit-log", str(audit))
    async with Client(params, mode="legacy") as client:
        await client.call_tool("execute_aws_write_command", {"command": f"s3 mb s3://{bucket}"})
        await client.call_tool(
            "execute_aws_read_command", {"command": "s3api list-buckets", "profile": "alt"}
        )
        await client.call_tool("execute_aws_read_command", {"command": f"s3 rb s3://{bucket}"})
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [r["tool"] for r in records] == [
        "execute_aws_write_command",
        "execute_aws_read_command",
        "execute_aws_read_command",
    ]
    made, listed, refused = records
    assert made["verdict"] == "write" and made["exit_code"] == 0 and made["status"] == "ok"
    assert made["service"] == "s3" and made["operation"] == "mb"
    assert listed["profile"] == "alt" and listed["region"] == "eu-west-1"
    assert listed["verdict"] == "read" and listed["output_bytes"] > 0
    assert isinstance(listed["duration_ms"], float)
    assert refused["refused"] == "not-a-read" and "exit_code" not in refused
    assert all("time" in r and "rule" in r for r in records)
    text = audit.read_text()
    assert "Buckets" not in text  # never output
    for line in aws_files.credentials.read_text().splitlines():
        if "secret" in line:
            assert line.split("=", 1)[1].strip() not in text
