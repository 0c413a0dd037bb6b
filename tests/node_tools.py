"""Where the Node.js test tools are: the project-local install (.ci/node), PATH, or npx."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCAL_BIN = ROOT / ".ci" / "node" / "node_modules" / ".bin"


def inspector_command() -> list[str] | None:
    """The MCP Inspector CLI launcher, or None when there is no way to run it (no npx)."""
    local = LOCAL_BIN / "mcp-inspector"
    if local.exists():
        return [str(local)]
    on_path = shutil.which("mcp-inspector")
    if on_path:
        return [on_path]
    npx = shutil.which("npx")
    if npx:
        return [npx, "--yes", "@modelcontextprotocol/inspector"]
    return None
