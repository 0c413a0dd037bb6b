"""Command line: `aws-mcp-server [serve options]`, `aws-mcp-server classify ...`, `... profiles`.

Thin on purpose: parse flags, build Settings, hand off.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from aws_mcp_server import __version__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aws-mcp-server",
        description="An MCP server that runs AWS CLI commands in-process, safely.",
    )
    parser.add_argument("--version", action="version", version=f"aws-mcp-server {__version__}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["classify"]:
        from aws_mcp_server import capture, decision

        return decision.classify_main(args[1:], capture.real_stdin(), capture.real_stdout())
    parser = _parser()
    parser.parse_args(args)
    return 0
