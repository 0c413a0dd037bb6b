"""The MCP Inspector CLI (a second, independent client) against the server over stdio."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import AwsFiles, Moto
from tests.http_helpers import NODE_TOOLS_MISSING, find_node_tools
from tests.mcp_helpers import ROOT

_TOOLS = find_node_tools()
INSPECTOR = _TOOLS.inspector if _TOOLS is not None else None
pytestmark = pytest.mark.skipif(INSPECTOR is None, reason=NODE_TOOLS_MISSING)


def _inspect(aws: AwsFiles, moto: Moto, workdir: Path, *method: str) -> dict[str, object]:
    assert INSPECTOR is not None
    env_flags: list[str] = []
    for key, value in {
        **aws.environ,
        "PYTHONPATH": str(ROOT),
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        env_flags += ["-e", f"{key}={value}"]
    command = [
        *INSPECTOR,
        "--cli",
        *env_flags,
        sys.executable,
        "-m",
        "aws_mcp_server",
        "--endpoint-url",
        moto.url,
        "--workdir",
        str(workdir),
        *method,
    ]
    env = dict(os.environ)
    if _TOOLS is not None and _TOOLS.node_bin is not None:
        env["PATH"] = f"{_TOOLS.node_bin}{os.pathsep}{env.get('PATH', '')}"  # node >= 22
    proc = subprocess.run(command, capture_output=True, text=True, timeout=240, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return dict(json.loads(proc.stdout))


def test_inspector_lists_the_tools(aws_files: AwsFiles, moto_server: Moto, tmp_path: Path) -> None:
    listed = _inspect(aws_files, moto_server, tmp_path, "--method", "tools/list")
    names = {tool["name"] for tool in listed["tools"]}  # type: ignore[attr-defined]
    assert names == {"execute_aws_read_command", "execute_aws_write_command", "list_aws_profiles"}


def test_inspector_calls_a_tool(aws_files: AwsFiles, moto_server: Moto, tmp_path: Path) -> None:
    result = _inspect(
        aws_files,
        moto_server,
        tmp_path,
        "--method",
        "tools/call",
        "--tool-name",
        "execute_aws_read_command",
        "--tool-arg",
        "command=sts get-caller-identity",
        "--tool-arg",
        "profile=alt",
    )
    assert result["isError"] is False
    assert aws_files.alt_user_arn in result["content"][0]["text"]  # type: ignore[index]
