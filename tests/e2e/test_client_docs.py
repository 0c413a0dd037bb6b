"""`aws-mcp-server config CLIENT` prints a snippet that a desktop app can launch as written, with
a minimal PATH; docs/clients.md leads with it and shows the same shapes."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from tests.mcp_helpers import ROOT, text_of

pytestmark = pytest.mark.anyio

DOC = ROOT / "docs" / "clients.md"
INSTALLED = Path(sys.executable).parent / "aws-mcp-server"
CLIENTS = ["claude-desktop", "claude-code", "vscode", "cursor"]
MINIMAL_PATH = "/usr/bin:/bin"


def _config(client: str, *options: str) -> tuple[str, str]:
    done = subprocess.run(
        [str(INSTALLED), "config", client, *options],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": MINIMAL_PATH, "HOME": "/nonexistent"},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout, done.stderr


def _launch(client: str, snippet: str) -> tuple[str, list[str]]:
    if client == "claude-code":
        words = shlex.split(snippet)
        rest = words[words.index("--") + 1 :]
        return rest[0], rest[1:]
    data = json.loads(snippet)
    entry = (data.get("mcpServers") or data["servers"])["aws"]
    if client == "vscode":
        assert entry["type"] == "stdio"
    return entry["command"], entry["args"]


@pytest.fixture(autouse=True)
def _installed() -> None:
    if not INSTALLED.exists():
        pytest.skip(f"the console script is not installed at {INSTALLED} (pip install -e .)")


@pytest.mark.parametrize("client", CLIENTS)
async def test_the_printed_snippet_starts_the_server_with_a_minimal_path(
    client: str, tmp_path: Path
) -> None:
    snippet, where = _config(client, "--sandbox")
    assert where.strip()
    command, args = _launch(client, snippet)
    assert Path(command).is_absolute() and args[-1] == "--sandbox"
    env = {
        "PATH": MINIMAL_PATH,
        "HOME": str(tmp_path),  # the sandbox must not need (or touch) a real ~/.aws
        "AWS_MCP_WORKDIR": str(tmp_path / "workdir"),
    }
    params = StdioServerParameters(command=command, args=args, env=env, cwd=str(tmp_path))
    async with Client(params, mode="legacy") as session:
        names = {tool.name for tool in (await session.list_tools()).tools}
        made = await session.call_tool(
            "execute_aws_write_command", {"command": "s3 mb s3://docs-check"}
        )
        listed = await session.call_tool("execute_aws_read_command", {"command": "s3 ls"})
        assert "SANDBOX" in (session.instructions or "")
    assert {"execute_aws_read_command", "execute_aws_write_command", "list_aws_profiles"} <= names
    assert not made.is_error, text_of(made)
    assert "docs-check" in text_of(listed)
    assert not (tmp_path / ".aws").exists()


def test_options_after_the_client_are_carried_and_checked() -> None:
    snippet, _ = _config("claude-desktop", "--read-only", "--profiles", "dev,prod")
    assert json.loads(snippet)["mcpServers"]["aws"]["args"] == [
        "--read-only",
        "--profiles",
        "dev,prod",
    ]
    refused = subprocess.run(
        [str(INSTALLED), "config", "vscode", "--timeout", "soon"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2 and "--timeout" in refused.stderr
    assert refused.stdout == ""


def test_the_docs_lead_with_config_and_show_the_shapes_it_prints() -> None:
    text = DOC.read_text()
    first_block = re.search(r"```sh\n(.*?)```", text, flags=re.S)
    assert first_block is not None
    assert all(f"aws-mcp-server config {c}" in first_block.group(1) for c in CLIENTS)
    for client in ("claude-desktop", "vscode"):
        snippet, _ = _config(client, "--sandbox")
        generated = json.loads(snippet)
        key = "mcpServers" if client == "claude-desktop" else "servers"
        documented = [
            json.loads(block)
            for block in re.findall(r"```json\n(.*?)```", text, flags=re.S)
            if key in json.loads(block)
        ]
        assert documented, client
        entry = documented[0][key]["aws"]
        assert set(entry) == set(generated[key]["aws"])
        assert entry["args"] == ["--sandbox"]
