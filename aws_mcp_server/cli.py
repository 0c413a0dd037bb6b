"""Command line: `aws-mcp-server [options]` serves MCP; `classify`, `profiles` and `config` explain.

Thin on purpose: parse flags, build Settings, hand off to server / http / decision.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from aws_mcp_server import __version__
from aws_mcp_server.errors import AwsMcpError, ConfigError

log = logging.getLogger("aws_mcp_server")


def _parser() -> argparse.ArgumentParser:
    """The flags, generated from the settings' declarations (`settings.OPTIONS`): each names its
    environment variable."""
    from aws_mcp_server.settings import OPTIONS

    parser = argparse.ArgumentParser(
        prog="aws-mcp-server",
        description="An MCP server that runs AWS CLI commands in-process, validated and "
        "classified read / write / reject before anything is sent.",
        epilog="Subcommands: `aws-mcp-server classify [COMMAND ...]` explains verdicts "
        "(reads stdin with no command); `aws-mcp-server profiles` lists AWS profiles; "
        "`aws-mcp-server config CLIENT` prints the set-up for an MCP client. Every flag can be "
        "set by the environment variable shown with it; a flag wins over its variable.",
    )
    parser.add_argument("--version", action="version", version=f"aws-mcp-server {__version__}")
    groups: dict[str, Any] = {}
    for option in OPTIONS:
        group = groups.get(option.group)
        if group is None:
            group = groups[option.group] = parser.add_argument_group(option.group)
        text = f"{option.help} [{option.env}]"
        if option.kind == "bool":
            group.add_argument(
                option.flag, dest=option.field, action="store_true", default=None, help=text
            )
            continue
        kwargs: dict[str, Any] = {"dest": option.field, "help": text, "metavar": option.metavar}
        if option.choices:
            kwargs["choices"] = option.choices
            kwargs.pop("metavar")
        if option.kind in ("int", "float", "list", "path"):
            kwargs["type"] = functools.partial(option.parse, source=option.flag)
        group.add_argument(option.flag, **kwargs)
    return parser


def configure_logging(level: str) -> None:
    # Always the real stderr: on stdio, stdout is the protocol channel.
    handler = logging.StreamHandler(sys.__stderr__)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("aws_mcp_server")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def _exit_now(code: int) -> NoReturn:
    """End a one-shot command's process once its output is out, without the interpreter's
    teardown: freeing the ~100,000 objects awscli loaded took longer (about 0.1 s) than most
    commands' work."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    logging.shutdown()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["classify"]:
        from aws_mcp_server.decision import classify_main

        code = classify_main(args[1:], sys.stdin, sys.stdout)
        # As the process's entry point (not called by a test or an embedding program).
        if argv is None:
            _exit_now(code)
        return code
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
    if args[:1] == ["config"]:
        from aws_mcp_server.clients import config_main

        return config_main(args[1:], _check_options, sys.stdout, sys.stderr)
    from aws_mcp_server.settings import OPTIONS

    try:
        namespace = _parser().parse_args(args)
    except ConfigError as err:  # a flag value that does not parse (--port abc)
        print(f"aws-mcp-server: {err}", file=sys.stderr)
        return 2
    return serve({option.field: getattr(namespace, option.field) for option in OPTIONS})


class _Refusal(Exception):
    pass


def _check_options(options: list[str]) -> str | None:
    """An error line if the server would refuse these options at start-up, else None."""
    from aws_mcp_server.settings import OPTIONS, load

    parser = _parser()

    def refuse(message: str) -> NoReturn:
        raise _Refusal(message)

    parser.error = refuse  # type: ignore[method-assign]
    try:
        namespace = parser.parse_args(options)
        load({option.field: getattr(namespace, option.field) for option in OPTIONS}, {})
    except (ConfigError, _Refusal) as err:
        return str(err).splitlines()[0]
    return None


def _stdio_terminal_behaviour() -> None:
    """On stdio: a person at a terminal is told what this is, and Ctrl-C or SIGTERM ends the
    process at once, even with no input arriving (the transport's stdin read would otherwise
    hold it until Enter or end of file)."""
    if sys.stdin.isatty():
        print(
            "aws-mcp-server speaks MCP on stdin/stdout: start it from an MCP client "
            "(`aws-mcp-server config claude-desktop` prints the set-up; see docs/clients.md). "
            "Ctrl-C to quit.",
            file=sys.__stderr__,
            flush=True,
        )

    def stop(signum: int, frame: object) -> None:
        log.info("stopping on %s", signal.Signals(signum).name)
        logging.shutdown()
        # The calls in flight run on daemon threads and their audit lines are written as they
        # end; nothing else needs the interpreter's slow shutdown.
        os._exit(128 + signum)

    for name in ("SIGINT", "SIGTERM"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), stop)


def serve(flags: dict[str, object]) -> int:
    from aws_mcp_server import loading
    from aws_mcp_server.settings import check_startup, load

    loading.tune_allocator()
    try:
        settings = load(flags)
        # Say no now, in one line, rather than at the first call: an unusable workdir or audit
        # log, an unsafe HTTP bind.
        check_startup(settings)
        if settings.transport == "http":
            from aws_mcp_server.http import check_bind

            check_bind(settings)
    except ConfigError as err:
        print(f"aws-mcp-server: {err}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
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
        if settings.transport == "http" and settings.workers > 1:
            from aws_mcp_server.http import run_http_workers

            # Each worker process builds its own server; this one only supervises them.
            run_http_workers(settings)
            return 0
        from aws_mcp_server.server import build_server

        # No engine yet: awscli loads in the background once the first request is answered
        # (see `loading`), so the handshake does not wait for it.
        server = build_server(settings, sandbox_endpoint=sandbox_endpoint)
        if settings.transport == "http":
            from aws_mcp_server.http import run_http
            from aws_mcp_server.server import preload

            # No handshake to wait for on HTTP: load now, before the first request.
            preload(server)
            run_http(settings, server)
        else:
            import anyio

            capture = sys.modules.get("aws_mcp_server.adapter.capture")
            if capture is not None:  # --sandbox loaded the adapter (and its stream proxies)
                capture.restore_real_streams()
            _stdio_terminal_behaviour()
            anyio.run(server.run_stdio_async)
    except AwsMcpError as err:
        print(f"aws-mcp-server: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0
