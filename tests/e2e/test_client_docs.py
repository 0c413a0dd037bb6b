"""The client set-up snippets in the docs start a working server, exactly as written."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
from pathlib import Path

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from tests.mcp_helpers import ROOT, text_of

pytestmark = pytest.mark.anyio

DOC = ROOT / "docs" / "clients.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.S)


def snippets() -> dict[str, tuple[str, list[str]]]:
    found: dict[str, tuple[str, list[str]]] = {}
    for block in _blocks("json"):
        data = json.loads(block)
        if "mcpServers" in data:
            entry = data["mcpServers"]["aws"]
            found["claude-desktop"] = (entry["command"], entry["args"])
        if "servers" in data:
            entry = data["servers"]["aws"]
            assert entry["type"] == "stdio"
            found["vscode"] = (entry["command"], entry["args"])
    for block in _blocks("sh"):
        for line in block.splitlines():
            if line.startswith("claude mcp add"):
                words = shlex.split(line)
                rest = words[words.index("--") + 1 :]
                found["claude-code"] = (rest[0], rest[1:])
    return found


def test_the_docs_have_all_three_clients() -> None:
    assert set(snippets()) == {"claude-desktop", "claude-code", "vscode"}


@pytest.mark.parametrize("client", ["claude-desktop", "claude-code", "vscode"])
async def test_snippet_starts_the_server(client: str, tmp_path: Path) -> None:
    command, args = snippets()[client]
    executable = shutil.which(command)
    assert executable, f"{command!r} is not on PATH: install the package (see README)"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),  # the sandbox must not need (or touch) a real ~/.aws
        "AWS_MCP_WORKDIR": str(tmp_path / "workdir"),
    }
    params = StdioServerParameters(command=executable, args=args, env=env)
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
