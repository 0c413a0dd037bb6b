"""The run plan: what the engine runs for a decided command, from what resolution found. Pure."""

from __future__ import annotations

from collections.abc import Sequence

from aws_mcp_server.guards.modes import client_services
from aws_mcp_server.model import Resolved, RunPlan
from aws_mcp_server.settings import Settings


def run_plan(
    resolved: Resolved, argv: Sequence[str], settings: Settings, *, region: str | None = None
) -> RunPlan:
    """What the engine runs for a command that passed the guards, from what resolution found.

    `argv` is `local_argv(resolved, settings)`. Help runs nothing: it gets nothing added. Anything
    else gets the server-wide endpoint on its command line (awscli v1 replaces a configured
    endpoint for sqs, rds, emr, docdb, neptune and health unless `--endpoint-url` is there) unless
    it names its own; `--no-progress` when the command has that option (the progress meter is
    for a terminal); and the tool's `region` last, so that it wins over a `--region` in the
    command (argparse keeps the last).
    """
    run = list(argv)
    if resolved.is_help:
        return RunPlan(argv=tuple(run), is_help=True)
    endpoint = settings.endpoint_url
    if endpoint and resolved.global_options.get("endpoint_url") is None:
        run += ["--endpoint-url", endpoint]
    if "no-progress" in resolved.options:
        run.append("--no-progress")
    if region:
        run += ["--region", region]
    return RunPlan(
        argv=tuple(run),
        endpoint_url=endpoint,
        services=client_services(resolved),
    )
