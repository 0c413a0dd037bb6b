"""Command line: `aws-mcp-server [options]` serves MCP; `classify` and `profiles` explain.

Thin on purpose: parse flags, build Settings, hand off to server / http / decision.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from aws_mcp_server import __version__
from aws_mcp_server.errors import AwsMcpError, ConfigError

log = logging.getLogger("aws_mcp_server")


def _csv(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aws-mcp-server",
        description="An MCP server that runs AWS CLI commands in-process, validated and "
        "classified read / write / reject before anything is sent.",
        epilog="Subcommands: `aws-mcp-server classify [COMMAND ...]` explains verdicts "
        "(reads stdin with no command); `aws-mcp-server profiles` lists AWS profiles.",
    )
    parser.add_argument("--version", action="version", version=f"aws-mcp-server {__version__}")
    serve = parser.add_argument_group("serving")
    serve.add_argument("--transport", choices=("stdio", "http"), help="default: stdio")
    serve.add_argument("--host", help="HTTP bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="HTTP port (default 8000)")
    serve.add_argument(
        "--stateless",
        action="store_true",
        default=None,
        help="HTTP without sessions, for several replicas behind a load balancer",
    )
    serve.add_argument(
        "--auth-token", help="require `Authorization: Bearer TOKEN` on HTTP (or AWS_MCP_AUTH_TOKEN)"
    )
    serve.add_argument(
        "--allow-remote",
        action="store_true",
        default=None,
        help="allow binding a non-loopback address without --auth-token",
    )
    aws = parser.add_argument_group("AWS")
    aws.add_argument(
        "--endpoint-url", help="send every call to this endpoint (or AWS_ENDPOINT_URL)"
    )
    aws.add_argument(
        "--endpoint-allowlist",
        type=_csv,
        help="comma-separated non-loopback endpoints a command may name",
    )
    aws.add_argument(
        "--sandbox",
        action="store_true",
        default=None,
        help="start an in-memory AWS emulator with fake credentials and use it for every call",
    )
    aws.add_argument(
        "--profiles",
        dest="profile_allowlist",
        type=_csv,
        help="comma-separated profiles the tools may use",
    )
    safety = parser.add_argument_group("safety and limits")
    safety.add_argument(
        "--read-only", action="store_true", default=None, help="do not offer the write tool"
    )
    safety.add_argument(
        "--confirm-writes",
        action="store_true",
        default=None,
        help="ask the user (MCP elicitation) before every write; a client that cannot be asked "
        "is refused, nothing runs unconfirmed",
    )
    safety.add_argument(
        "--request-state-keys",
        type=_csv,
        help="comma-separated secrets (>= 32 bytes each; or AWS_MCP_REQUEST_STATE_KEYS) that seal "
        "a pending confirmation; replicas behind one balancer must share them. The first seals, "
        "all unseal",
    )
    safety.add_argument(
        "--request-state-ttl",
        type=float,
        help="seconds a pending confirmation stays answerable (default 300)",
    )
    safety.add_argument(
        "--sensitive-reads",
        choices=("allow", "approve", "refuse"),
        help="reads that return secrets or tokens: allow (default) on either tool, approve (write "
        "tool only), refuse (never)",
    )
    safety.add_argument(
        "--allow-services", type=_csv, help="only these services (comma-separated CLI names)"
    )
    safety.add_argument("--deny-services", type=_csv, help="never these services")
    safety.add_argument("--allow-operations", type=_csv, help="only these service:operation pairs")
    safety.add_argument("--deny-operations", type=_csv, help="never these service:operation pairs")
    safety.add_argument(
        "--workdir", type=Path, help="the only directory local files may be read from or written to"
    )
    safety.add_argument("--timeout", type=float, help="seconds a command may run (default 120)")
    safety.add_argument(
        "--output-cap", type=int, help="bytes of output returned per call (default 100000)"
    )
    safety.add_argument("--max-concurrency", type=int, help="commands running at once (default 8)")
    safety.add_argument(
        "--json-indent",
        type=int,
        help="indent JSON output by this many spaces (default 0: compact; the AWS CLI uses 4)",
    )
    safety.add_argument(
        "--audit-log", type=Path, help="append one JSON line per tool call to this file"
    )
    parser.add_argument("--log-level", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    return parser


SERVE_FLAGS = (
    "transport",
    "host",
    "port",
    "stateless",
    "auth_token",
    "allow_remote",
    "endpoint_url",
    "endpoint_allowlist",
    "sandbox",
    "profile_allowlist",
    "read_only",
    "confirm_writes",
    "request_state_keys",
    "request_state_ttl",
    "sensitive_reads",
    "allow_services",
    "deny_services",
    "allow_operations",
    "deny_operations",
    "workdir",
    "timeout",
    "output_cap",
    "json_indent",
    "max_concurrency",
    "audit_log",
    "log_level",
)


def _configure_logging(level: str) -> None:
    # Always the real stderr: on stdio, stdout is the protocol channel.
    handler = logging.StreamHandler(sys.__stderr__)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("aws_mcp_server")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["classify"]:
        from aws_mcp_server.decision import classify_main

        return classify_main(args[1:], sys.stdin, sys.stdout)
    if args[:1] == ["profiles"]:
        from aws_mcp_server import profiles

        try:
            found = profiles.list_profiles()
        except AwsMcpError as err:
            print(f"aws-mcp-server: {err}", file=sys.stderr)
            return 1
        for profile in found:
            print(json.dumps(profile.as_dict()))
        hint = profiles.no_credentials_hint()
        if hint:
            print(f"aws-mcp-server: {hint}", file=sys.stderr)
        return 0
    namespace = _parser().parse_args(args)
    return serve({name: getattr(namespace, name) for name in SERVE_FLAGS})


def serve(flags: dict[str, object]) -> int:
    from aws_mcp_server.settings import load

    try:
        settings = load(flags)
    except ConfigError as err:
        print(f"aws-mcp-server: {err}", file=sys.stderr)
        return 2
    _configure_logging(settings.log_level)
    sandbox_endpoint = None
    try:
        if settings.sandbox:
            from aws_mcp_server.sandbox import start_sandbox

            sandbox_endpoint = start_sandbox()
            settings = settings.replace(endpoint_url=sandbox_endpoint)
            log.warning(
                "SANDBOX: every call goes to a local AWS emulator at %s (fake credentials)",
                sandbox_endpoint,
            )
        else:
            from aws_mcp_server import profiles

            hint = profiles.no_credentials_hint()
            if hint:
                log.warning("%s", hint)
        settings.workdir.mkdir(parents=True, exist_ok=True)
        settings = settings.replace(
            workdir=settings.workdir.resolve(),
            audit_log=settings.audit_log.resolve() if settings.audit_log else None,
        )
        # Relative paths in commands mean "in the workdir": classification rewrites them, and the
        # process works there too, so that awscli resolves any it opens itself the same way.
        os.chdir(settings.workdir)
        from aws_mcp_server.engine import Engine
        from aws_mcp_server.server import build_server

        engine = Engine(settings)
        server = build_server(settings, engine, sandbox_endpoint=sandbox_endpoint)
        threading.Thread(target=engine.warm_up, name="warm-up", daemon=True).start()
        if settings.transport == "http":
            from aws_mcp_server.http import run_http

            run_http(settings, server)
        else:
            import anyio

            from aws_mcp_server.adapter import capture

            capture.restore_real_streams()
            anyio.run(server.run_stdio_async)
    except AwsMcpError as err:
        print(f"aws-mcp-server: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0
