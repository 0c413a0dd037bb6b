"""`aws-mcp-server config CLIENT [OPTIONS]`: the set-up snippet for an MCP client.

Desktop apps (Claude Desktop, VS Code, Cursor) start servers with a minimal PATH, so a bare
`"command": "aws-mcp-server"` fails with "No such file or directory" after a virtualenv install.
The snippet names the absolute path of the executable that is running now, and carries the
options given after the client name (`--sandbox`, `--read-only`, `--profiles a,b`...), which are
checked by the server's own parser first.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

CLIENTS = ("claude-desktop", "claude-code", "vscode", "cursor")

USAGE = f"""\
usage: aws-mcp-server config CLIENT [SERVER OPTIONS ...]

Print the set-up for an MCP client, with the absolute path of this aws-mcp-server, so that a
desktop app's minimal PATH does not matter. CLIENT is one of: {", ".join(CLIENTS)}.
Server options (e.g. --sandbox, --read-only, --profiles dev,prod) are passed on to the server.
The snippet goes to standard output, where to put it to standard error.
"""


def command_line() -> list[str]:
    """How to start this server: the `aws-mcp-server` next to the running interpreter when it
    exists (a virtualenv or pipx install), else the interpreter with `-m aws_mcp_server`."""
    started = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if started is not None and started.name in ("aws-mcp-server", "aws-mcp-server.exe"):
        return [str(started.resolve())]
    scripts = Path(sys.executable).parent
    for name in ("aws-mcp-server", "aws-mcp-server.exe"):
        if (scripts / name).exists():
            return [str((scripts / name).absolute())]
    return [str(Path(sys.executable).absolute()), "-m", "aws_mcp_server"]


def _json(data: object) -> str:
    return json.dumps(data, indent=2) + "\n"


def snippet(client: str, options: Sequence[str]) -> tuple[str, str]:
    """(snippet, where it goes) for one client."""
    command, *args = command_line()
    args = [*args, *options]
    if client == "claude-desktop":
        text = _json({"mcpServers": {"aws": {"command": command, "args": args}}})
        where = (
            "Add this to claude_desktop_config.json (Settings > Developer > Edit Config), "
            "then restart Claude Desktop."
        )
    elif client == "claude-code":
        text = shlex.join(["claude", "mcp", "add", "aws", "--", command, *args]) + "\n"
        where = "Run this in a terminal (add `--scope user` after `add` for every project)."
    elif client == "vscode":
        text = _json({"servers": {"aws": {"type": "stdio", "command": command, "args": args}}})
        where = "Put this in .vscode/mcp.json in your workspace (or your user mcp.json)."
    else:
        text = _json({"mcpServers": {"aws": {"command": command, "args": args}}})
        where = "Put this in ~/.cursor/mcp.json (or .cursor/mcp.json in a project)."
    return text, where


def config_main(
    args: list[str], check_options: Callable[[list[str]], str | None], out: object, err: object
) -> int:
    """The `config` subcommand. `check_options` returns an error line for options the server
    would refuse (None when they parse)."""
    write_out = getattr(out, "write")  # noqa: B009 (any text stream)
    write_err = getattr(err, "write")  # noqa: B009
    if not args or args[0] in ("-h", "--help"):
        write_out(USAGE)
        return 0 if args else 2
    client, options = args[0], args[1:]
    if client not in CLIENTS:
        write_err(
            f"aws-mcp-server: unknown client {client!r}; choose one of {', '.join(CLIENTS)}\n"
        )
        return 2
    problem = check_options(options)
    if problem is not None:
        write_err(f"aws-mcp-server: {problem}\n")
        return 2
    text, where = snippet(client, options)
    write_err(where + "\n")
    write_out(text)
    return 0
