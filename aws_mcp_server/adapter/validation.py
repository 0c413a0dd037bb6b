"""Offline validation: botocore builds and validates the request, and it is stopped unsent.

A fresh driver runs the command unsigned, with a handler first in line on `before-call` that
stops it. botocore has by then built the request from the arguments and validated it against the
model (required members, lengths, patterns, types), and awscli has parsed shorthand and JSON
values and loaded `file://` ones; nothing has been sent and no credentials have been looked up
(`--no-sign-request` skips the credential chain entirely). awscli's loaders run here as they do
in a run, so the same guard sits on them (`patches`): no file outside the workdir is opened, no
URL is fetched. Custom commands are never run here (`s3 cp` could create a local file):
resolution has already parsed their arguments, and that is all the validation they get.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import awscli.argparser
import awscli.clidriver

from aws_mcp_server import profiles
from aws_mcp_server.adapter import capture, driver, resolution
from aws_mcp_server.errors import ValidationError
from aws_mcp_server.model import Resolved

DEFAULT_REGION = resolution.DEFAULT_REGION


class _Stop(BaseException):
    """Raised on `before-call` once botocore has validated the request. Not an `Exception`, so
    that awscli's `main()` (which turns every Exception into rc 255) lets it through."""


def _stop(**kwargs: Any) -> None:
    raise _Stop()


def _usage_free(text: str) -> str:
    usage = awscli.argparser.USAGE
    text = text.replace(usage, "").replace(usage.lstrip("\r"), "")
    lines = [line.strip() for line in text.replace("\r", "").splitlines()]
    drop = ("usage:", "To see help text", "aws help", "aws <command>", "Note: AWS CLI version 2")
    kept = [line for line in lines if line and not line.startswith(drop)]
    return "\n".join(kept)


def validates_by_running(resolved: Resolved) -> bool:
    """True when `validate` lets botocore check the request (plain API operations only)."""
    if resolved.is_help or resolved.is_custom or resolved.operation_name is None:
        return False
    command = resolution.lookup(resolved.command_path)
    if not isinstance(command, awscli.clidriver.ServiceOperation):
        return False
    # An operation whose caller does more than call the API (start a session-manager plugin,
    # poll a waiter) is not run, even up to `before-call`.
    caller = getattr(command, "_operation_caller", None)
    return type(caller) is awscli.clidriver.CLIOperationCaller


def validate(
    resolved: Resolved,
    *,
    argv: Sequence[str] | None = None,
    workdir: str | os.PathLike[str] | None = None,
) -> None:
    """Let botocore build and validate the request for `resolved`, and stop before it is sent.

    Unsigned and with an explicit region, so no credential provider runs and no endpoint is
    contacted. Raises `ValidationError` with botocore's or awscli's message, or the runtime guard's
    `PolicyError` for a local file or URL it refused. Commands that are not
    plain API operations are not run at all (resolution already parsed their arguments).

    `argv` replaces `resolved.argv` when given: the guards' rewrite with local paths made
    absolute inside the workdir, so that `file://` values load from where the engine loads them.
    awscli's loaders run here as they do in a run, so the driver carries the same runtime guards:
    no file outside `workdir` is opened (none at all without one), no URL is fetched.
    """
    if not validates_by_running(resolved):
        return
    run = [*(resolved.argv if argv is None else argv), "--no-sign-request"]
    if not resolved.global_options.get("region"):
        run += ["--region", DEFAULT_REGION]
    if resolved.global_options.get("query") is not None:
        # Resolution compiled the query already; output is never formatted here, and the last
        # --query wins in argparse, so the identity expression keeps jmespath's warnings away.
        run += ["--query", "@"]
    cli = driver.new_driver()
    events = cli.session.get_component("event_emitter")
    events.register_first("before-call", _stop)
    ctx = capture.CallContext(workdir=workdir)
    capture.install()
    rc: object = None
    try:
        rc = capture.run_in(ctx, lambda: cli.main(run))
    except _Stop:
        return
    except SystemExit as exc:
        rc = exc.code
    refusals = ctx.refusals
    if refusals:
        # A local file outside the workdir or a URL: refused before it was opened or fetched.
        raise refusals[0]
    if rc in (0, None):
        return
    stderr = ctx.stderr.getvalue().decode("utf-8", "replace")
    if "Unable to parse config file" in stderr:
        problem = profiles.files_problem()
        if problem is not None:
            raise problem
    text = _usage_free(stderr)
    message = text or f"awscli refused the command (exit {rc})"
    first, _, more = message.partition("\n")
    if first.startswith("Parameter validation failed") and more:
        first, more = (
            f"parameter validation failed: {more.splitlines()[0]}",
            "\n".join(more.splitlines()[1:]),
        )
    raise ValidationError(
        first,
        rule="validation:parameters",
        fix=(more + "\n" if more else "") + resolution.USAGE_HINT.format(path=resolved.command_name),
    )


