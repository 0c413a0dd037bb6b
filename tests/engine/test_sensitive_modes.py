"""`--sensitive-reads allow|approve|refuse` on both tools, both protocol generations, and in
`classify`: the user decides whether the read tool may hand out secrets and tokens."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import boto3
import pytest
from mcp import Client

from aws_mcp_server.decision import classify_main, decide
from aws_mcp_server.engine import Engine
from aws_mcp_server.errors import ConfigError
from aws_mcp_server.server import build_server
from aws_mcp_server.settings import Settings, load
from tests.conftest import DEFAULT_KEY, AwsFiles, Moto
from tests.mcp_helpers import text_of

pytestmark = pytest.mark.anyio

READ = "execute_aws_read_command"
WRITE = "execute_aws_write_command"


@pytest.fixture
def secret(moto_server: Moto, aws_env: AwsFiles) -> str:
    name = f"sensitive-{uuid.uuid4().hex[:8]}"
    boto3.client(
        "secretsmanager",
        endpoint_url=moto_server.url,
        region_name="us-east-1",
        aws_access_key_id=DEFAULT_KEY[0],
        aws_secret_access_key=DEFAULT_KEY[1],
    ).create_secret(Name=name, SecretString="THE-SECRET-VALUE")
    return name


async def _call(settings: Settings, mode: str, tool: str, command: str) -> tuple[bool, str]:
    server = build_server(settings, Engine(settings))
    async with Client(server, mode=mode) as client:  # type: ignore[arg-type]
        result = await client.call_tool(tool, {"command": command})
    return bool(result.is_error), text_of(result)


@pytest.mark.parametrize("mode", ["legacy", "auto"])
@pytest.mark.parametrize(
    ("sensitive_reads", "tool", "runs"),
    [
        ("allow", READ, True),
        ("allow", WRITE, True),
        ("approve", READ, False),
        ("approve", WRITE, True),
        ("refuse", READ, False),
        ("refuse", WRITE, False),
    ],
)
async def test_sensitive_reads_mode_decides_which_tool_runs_them(
    moto_server: Moto,
    aws_env: AwsFiles,
    tmp_path: Path,
    secret: str,
    mode: str,
    sensitive_reads: str,
    tool: str,
    runs: bool,
) -> None:
    settings = Settings(
        endpoint_url=moto_server.url, workdir=tmp_path, sensitive_reads=sensitive_reads
    )
    is_error, text = await _call(
        settings, mode, tool, f"secretsmanager get-secret-value --secret-id {secret}"
    )
    if runs:
        assert not is_error, text
        assert "THE-SECRET-VALUE" in text
        assert "[sensitive" in text
        return
    assert is_error
    assert "THE-SECRET-VALUE" not in text
    if sensitive_reads == "approve":
        assert "execute_aws_write_command" in text
        assert "--sensitive-reads approve" in text
    else:
        assert "mode:sensitive-refused" in text


@pytest.mark.parametrize("sensitive_reads", ["approve", "refuse"])
async def test_plain_reads_are_untouched_by_the_mode(
    moto_server: Moto, aws_env: AwsFiles, tmp_path: Path, sensitive_reads: str
) -> None:
    settings = Settings(
        endpoint_url=moto_server.url, workdir=tmp_path, sensitive_reads=sensitive_reads
    )
    is_error, text = await _call(settings, "auto", READ, "secretsmanager list-secrets")
    assert not is_error, text


@pytest.mark.parametrize(
    ("sensitive_reads", "verdict", "tools"),
    [
        ("allow", "read", [READ, WRITE]),
        ("approve", "read", [WRITE]),
        ("refuse", "reject", []),
    ],
)
def test_classify_shows_the_effect(
    sensitive_reads: str,
    verdict: str,
    tools: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_MCP_WORKDIR", str(tmp_path))
    monkeypatch.setenv("AWS_MCP_SENSITIVE_READS", sensitive_reads.upper())
    out = io.StringIO()
    assert classify_main(["secretsmanager get-secret-value --secret-id s"], io.StringIO(), out) == 0
    line = json.loads(out.getvalue())
    assert (line["verdict"], line["tools"], line["sensitive"]) == (
        verdict,
        tools,
        verdict != "reject",
    )


def test_a_write_always_runs_only_on_the_write_tool(tmp_path: Path) -> None:
    decision = decide("s3 mb s3://b", Settings(workdir=tmp_path))
    assert decision.tools == (WRITE,)
    assert decision.approval


def test_an_unknown_mode_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="sensitive reads"):
        load(environ={"AWS_MCP_SENSITIVE_READS": "sometimes"})
