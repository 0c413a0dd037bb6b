"""The guards: what never runs, whatever the tool and whatever the classifier says. Pure.

No awscli import and no I/O beyond resolving paths (`os.path.realpath`) and reading the package's
own data. Every guard returns a reject `Verdict` (stable `rule`, one-line `reason`, a `fix`) or
None, and works on what resolution found (`Resolved`), never on a word search of argv.

    tokens      text -> argv, refusing shell syntax (`parse:*`)
    commands    blocked commands (by the command object), refused global options
    paths       the workdir: the one containment test, local paths, their rewrite by index
    urls        parameter values awscli would fetch (`url:fetch`)
    endpoints   where signed requests may go; region names
    modes       read-only, allow/deny lists (services a customization calls included), sensitive
    plan        the run plan the engine executes
    facts       the generated awscli facts the guards read

    decision.decide(text):
        argv = tokens.tokenize(text)
        resolved = adapter.resolution.resolve(argv)
        guards.check(resolved, settings)                  # commands, options, paths, URLs
        plan = plan.run_plan(resolved, paths.local_argv(resolved, settings), settings)
        verdict = modes.check_verdict(classify(resolved), resolved, settings)
"""

from __future__ import annotations

from aws_mcp_server.guards import commands, endpoints, paths, urls
from aws_mcp_server.model import Resolved, Verdict
from aws_mcp_server.settings import Settings


def check(resolved: Resolved, settings: Settings) -> Verdict | None:
    """Every guard that needs the resolved command: blocked commands, global options, local
    paths, URL values, endpoint options. Help runs nothing: only its global options matter."""
    if resolved.is_help:
        return commands.check_globals(resolved, settings)
    verdict = commands.blocked(resolved) or commands.check_globals(resolved, settings)
    if verdict is not None:
        return verdict
    path = resolved.command_path
    for value in resolved.values:
        if value.scope != "command":
            continue
        if endpoints.is_endpoint_option(path, value.option):
            verdict = endpoints.check_endpoint(value.text, settings, option=f"--{value.option}")
        elif urls.fetched(value):
            verdict = urls.refusal(value, resolved.service or None)
        if verdict is not None:
            return verdict
    return paths.check(resolved, settings)
