"""One entry point from command text to a decision: `decide(text, settings) -> Decision`.

    text -tokenize-> argv -resolve-> Resolved -guards.check-> -run_plan-> RunPlan -validate->
         -classify-> -modes.check_verdict-> Decision

Guards run before validation on purpose: validation lets awscli load `file://` values (the
patched loader checks them again, on that path as on every other). `decide` never raises for bad input: every
failure is a reject with the rule that fired and what to do instead.

`classify_main` is `aws-mcp-server classify`: one JSON object per command, one line each.
"""

from __future__ import annotations

import json
import logging
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from aws_mcp_server import guards, loading
from aws_mcp_server.classify import classify
from aws_mcp_server.errors import AwsMcpError, ConfigError, ValidationError
from aws_mcp_server.guards import commands, endpoints, modes, paths, plan, tokens
from aws_mcp_server.model import Resolved, RunPlan, Verdict, VerdictKind, reject
from aws_mcp_server.settings import Settings

log = logging.getLogger(__name__)

READ_TOOL = "execute_aws_read_command"
WRITE_TOOL = "execute_aws_write_command"


@dataclass(frozen=True)
class Decision:
    """What to do with one command: the argv the engine runs, and the verdict with its rule."""

    command: str
    argv: tuple[str, ...]
    verdict: VerdictKind
    rule: str
    reason: str
    service: str | None = None
    operation: str | None = None
    sensitive: bool = False
    fix: str = ""
    resolved: Resolved | None = None
    plan: RunPlan | None = None
    """What the engine runs, for a command that is not rejected."""
    approval: bool = False
    """The user must approve it: a write, or a sensitive read under `--sensitive-reads approve`.
    Only the write tool runs it (clients gate that tool; `--confirm-writes` asks the user)."""

    @property
    def tools(self) -> tuple[str, ...]:
        """The tools that would run this command."""
        if self.verdict == "reject":
            return ()
        if self.approval:
            return (WRITE_TOOL,)
        return (READ_TOOL, WRITE_TOOL)

    @property
    def is_reject(self) -> bool:
        return self.verdict == "reject"

    def as_dict(self) -> dict[str, object]:
        """The `classify` output line: stable keys, `fix` only when there is one."""
        data: dict[str, object] = {
            "command": self.command,
            "verdict": self.verdict,
            "service": self.service,
            "operation": self.operation,
            "rule": self.rule,
            "reason": self.reason,
            "sensitive": self.sensitive,
            "tools": list(self.tools),
        }
        if self.fix:
            data["fix"] = self.fix
        return data


def _decision(
    text: str,
    argv: Sequence[str],
    verdict: Verdict,
    resolved: Resolved | None = None,
    settings: Settings | None = None,
    plan: RunPlan | None = None,
) -> Decision:
    approval = verdict.verdict == "write" or (
        verdict.verdict == "read"
        and verdict.sensitive
        and settings is not None
        and settings.sensitive_reads == "approve"
    )
    return Decision(
        command=text,
        argv=tuple(argv),
        verdict=verdict.verdict,
        rule=verdict.rule,
        reason=verdict.reason,
        service=verdict.service,
        operation=verdict.operation,
        sensitive=verdict.sensitive,
        fix=verdict.fix,
        resolved=resolved,
        plan=plan if verdict.verdict != "reject" else None,
        approval=approval,
    )


def _from_error(err: AwsMcpError, resolved: Resolved | None, default_rule: str) -> Verdict:
    service = resolved.service if resolved is not None and resolved.service else None
    operation = None
    if resolved is not None and len(resolved.command_path) > 1:
        operation = " ".join(resolved.command_path[1:])
    rule = err.rule or default_rule
    return reject(rule, err.message, service=service, operation=operation, fix=err.fix)


def decide(
    text: str, settings: Settings, *, validate: bool = True, region: str | None = None
) -> Decision:
    """Read, write or reject for one command, with the rule that decided and, unless it is
    rejected, the plan the engine runs. Never raises.

    `region` is the tool's region parameter: it wins over a `--region` in the command.
    `validate=False` skips botocore's request validation (the one step that costs milliseconds
    rather than microseconds); use it only where the command is validated again before it runs.
    """
    # awscli loads in the background after the handshake; a decision waits for all of it.
    try:
        loading.wait()
    except loading.LoadError as err:
        return _decision(
            text, [], reject("internal:awscli", str(err), fix=loading.LOAD_FIX)
        )
    from aws_mcp_server.adapter import resolution, validation

    argv: list[str] = []
    resolved: Resolved | None = None
    try:
        argv = tokens.tokenize(text)
        try:
            resolved = resolution.resolve(argv)
        except ValidationError as err:
            blocked = commands.blocked_path(err.command_path)
            if blocked is None:
                raise
            return _decision(text, argv, blocked)
        guard = guards.check(resolved, settings)
        stated = resolved.global_options.get("region")
        for source, name in (("the region parameter", region), ("--region", stated)):
            if guard is None and isinstance(name, str) and not resolved.is_help:
                guard = endpoints.check_region(
                    name, source=source, emulator=settings.endpoint_url is not None
                )
        if guard is not None:
            return _decision(text, argv, guard, resolved)
        # What the engine runs: local paths made absolute inside the workdir, the server-wide
        # endpoint, the tool's region. Validation loads file:// values, so it runs this argv.
        run = plan.run_plan(resolved, paths.local_argv(resolved, settings), settings, region=region)
        if validate:
            validation.validate(resolved, argv=run.argv, workdir=settings.workdir)
        verdict = modes.check_verdict(classify(resolved), resolved, settings)
        return _decision(text, run.argv, verdict, resolved, settings, run)
    except AwsMcpError as err:
        default = "parse" if not argv else "validation"
        return _decision(text, argv, _from_error(err, resolved, default), resolved)
    except Exception as exc:  # a bug of ours must still answer reject, not crash the server
        log.exception("classification failed for %r", text)
        verdict = reject(
            "internal:bug",
            f"the command could not be classified: {type(exc).__name__}: {exc}".splitlines()[0],
            fix="This is a bug in aws-mcp-server; please report the command.",
        )
        return _decision(text, argv, verdict, resolved)


# --- aws-mcp-server classify -------------------------------------------------------------------

CLASSIFY_USAGE = """\
usage: aws-mcp-server classify [COMMAND ...]

Print how each command would be classified (read / write / reject), one JSON object per line:
command, verdict, service, operation, rule, reason, sensitive, tools (the tools that would run
it, under the server's settings) and, for a reject, fix.
Each argument is one command (quote it: 'ec2 describe-instances'); several arguments with no
spaces in any are taken as the words of one command. With no argument or `-`, commands are read
from standard input, one per line, and each line gets exactly one answer, in order.
Nothing is sent to AWS.
"""


def _commands_from_args(args: Sequence[str]) -> list[str]:
    if len(args) > 1 and not any(any(c.isspace() for c in a) for a in args):
        return [shlex.join(args)]
    return list(args)


def _emit(stdout: TextIO, decision: Decision) -> None:
    stdout.write(json.dumps(decision.as_dict(), ensure_ascii=False) + "\n")
    stdout.flush()


def classify_main(args: list[str], stdin: TextIO, stdout: TextIO) -> int:
    """`aws-mcp-server classify`: 0 when every command was answered (whatever the verdicts)."""
    if args in (["-h"], ["--help"]):
        stdout.write(CLASSIFY_USAGE)
        return 0
    try:
        from aws_mcp_server import settings as settings_module

        settings = settings_module.load()
    except ConfigError as err:
        stdout.write(json.dumps({"error": err.as_dict()}) + "\n")
        return 2
    if not args or args == ["-"]:
        for line in stdin:
            text = line[:-1] if line.endswith("\n") else line
            text = text[:-1] if text.endswith("\r") else text
            _emit(stdout, decide(text, settings))
        return 0
    for text in _commands_from_args(args):
        _emit(stdout, decide(text, settings))
    return 0
