"""Starting the real server as a subprocess and talking to it with the official MCP client."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from mcp.client.stdio import StdioServerParameters

from tests.conftest import AwsFiles, Moto

ROOT = Path(__file__).resolve().parent.parent


def server_env(aws: AwsFiles, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "AWS_EC2_METADATA_DISABLED": "true",
        **aws.environ,
    }
    env.update(extra or {})
    return env


def stdio_params(
    aws: AwsFiles,
    moto: Moto,
    workdir: Path,
    *flags: str,
    extra_env: Mapping[str, str] | None = None,
) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=[
            "-m",
            "aws_mcp_server",
            "--endpoint-url",
            moto.url,
            "--workdir",
            str(workdir),
            *flags,
        ],
        env=server_env(aws, extra_env),
        cwd=str(ROOT),
    )


def text_of(result: object) -> str:
    content = getattr(result, "content", [])
    return "".join(getattr(block, "text", "") for block in content)
