"""The MCP tools: execute_aws_read_command, execute_aws_write_command, list_aws_profiles.

    server = build_server(settings)          # an MCPServer; transports live in cli.py / http.py

Every call: check the profile, decide (tokenize -> resolve -> guards -> classify), refuse what the
tool may not run with the rule and the fix, optionally ask the user to confirm a write, run it
through the engine with progress and cancellation, and return the CLI's own output. A refused or
failed command is `isError` with text a model can act on; nothing here raises past the SDK.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Annotated, Any

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from aws_mcp_server import __version__, profiles
from aws_mcp_server.decision import Decision, decide
from aws_mcp_server.engine import Engine, RunResult
from aws_mcp_server.errors import AwsMcpError
from aws_mcp_server.settings import Settings

log = logging.getLogger("aws_mcp_server")

MAX_COMMAND_CHARS = 10_000
MAX_NAME_CHARS = 128
PROGRESS_EVERY = 1.0

READ_DESCRIPTION = """Run a read-only AWS CLI command and return its output.
`command` is what follows `aws`, e.g. `s3api list-buckets` or `ec2 describe-instances --filters Name=instance-state-name,Values=running`.
Only commands classified read run here (describe/list/get, `s3 ls`, `s3 cp s3://b/k -`, `wait`, `help`); anything that changes state is refused — use execute_aws_write_command for those.
There is no shell: no pipes, `&&`, redirects or `$VAR`. Narrow output with `--query` (JMESPath), `--max-items`, filters and `--output text|json|table`.
Append `help` to any command for its documentation (`ec2 describe-instances help`).
`profile` and `region` are optional; see list_aws_profiles."""

WRITE_DESCRIPTION = """Run an AWS CLI command that may change resources (create, update, delete, start, stop, tag, put, s3 cp/sync/rm) — or any read.
`command` is what follows `aws`, e.g. `s3 mb s3://my-bucket` or `ec2 stop-instances --instance-ids i-123`.
Prefer execute_aws_read_command for reads. Commands are validated before anything is sent; `--dry-run` still counts as a write.
No shell: no pipes, `&&`, redirects or `$VAR`. Local files are read and written only inside the server's workdir.
`profile` and `region` are optional; see list_aws_profiles."""

PROFILES_DESCRIPTION = (
    "List the AWS profiles from the user's config and credentials files: name, region, kind "
    "(static-keys, sso, assume-role, web-identity, credential-process) and which is the default. "
    "Never returns secrets."
)


CommandArg = Annotated[
    str,
    Field(description="The AWS CLI command without the leading `aws`, e.g. `s3api list-buckets`."),
]
ProfileArg = Annotated[
    str | None,
    Field(description="An AWS profile from list_aws_profiles. Default: the default profile."),
]
RegionArg = Annotated[
    str | None, Field(description="An AWS region such as eu-west-1. Default: the profile's region.")
]


class Confirmation(BaseModel):
    confirm: bool = Field(description="Run this command?")


@dataclass
class _Audit:
    path: Any
    lock: threading.Lock

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":"), default=str)
        with self.lock, open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")


def instructions(settings: Settings, *, sandbox_endpoint: str | None = None) -> str:
    parts = [
        "Runs AWS CLI commands (without the leading `aws`) in-process. Use execute_aws_read_command "
        "for anything that only reads, execute_aws_write_command for changes, list_aws_profiles to "
        "see which accounts/regions are configured. Every command is validated and classified "
        "before it runs; refusals say which rule fired and how to proceed."
    ]
    if settings.sandbox:
        parts.append(
            "SANDBOX MODE: every command goes to a local, in-memory AWS emulator"
            + (f" at {sandbox_endpoint}" if sandbox_endpoint else "")
            + " with fake credentials. Nothing reaches a real AWS account; data vanishes on exit."
        )
    if settings.read_only:
        parts.append("READ-ONLY MODE: the write tool is not available.")
    elif settings.confirm_writes:
        parts.append(
            "Writes are confirmed with the user through elicitation. Clients that cannot elicit "
            "must gate execute_aws_write_command themselves (it is annotated destructive)."
        )
    else:
        parts.append(
            "execute_aws_write_command is annotated destructive: clients should ask the user "
            "before each call."
        )
    return "\n\n".join(parts)


def _check_text(name: str, value: str | None, limit: int) -> None:
    if value is None:
        return
    if len(value) > limit:
        raise ToolError(f"`{name}` is {len(value)} characters long; the limit is {limit}.")
    if any(ord(ch) < 32 for ch in value) and name != "command":
        raise ToolError(f"`{name}` contains control characters.")


def _format(result: RunResult, decision: Decision, cap: int) -> str:
    text = result.text
    notes: list[str] = []
    if result.truncated:
        notes.append(
            f"[output truncated: showing {len(result.stdout):,} of {result.stdout_size:,} bytes. "
            "Narrow it with --query (JMESPath), --max-items, filters (--filters, --prefix) or "
            "--output text.]"
        )
    if decision.sensitive:
        notes.append("[sensitive: this output contains secrets or credentials-derived values.]")
    if result.status != "ok":
        error = result.stderr.strip() or f"The command failed with exit code {result.exit_code}."
        body = f"{error}\n\n{text}" if text.strip() else error
    else:
        body = text
        stderr = result.stderr.strip()
        if stderr:
            notes.append(f"[stderr]\n{stderr}")
    if not body.strip() and not notes:
        body = "(the command succeeded and printed nothing)"
    return "\n".join([body.rstrip("\n"), *notes]).strip("\n") + "\n"


class Tools:
    """The tool bodies, over one Settings and one Engine."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.audit = (
            _Audit(settings.audit_log, threading.Lock()) if settings.audit_log is not None else None
        )

    def _audit(self, **record: Any) -> None:
        if self.audit is None:
            return
        record = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **record}
        try:
            self.audit.write(record)
        except OSError as exc:
            log.error("could not write the audit log %s: %s", self.settings.audit_log, exc)

    async def execute(
        self, tool: str, command: str, profile: str | None, region: str | None, ctx: Context | None
    ) -> CallToolResult:
        started = time.perf_counter()
        _check_text("command", command, MAX_COMMAND_CHARS)
        _check_text("profile", profile, MAX_NAME_CHARS)
        _check_text("region", region, MAX_NAME_CHARS)
        profile = profile or None
        region = region or None
        # Resolution, the guards and classification always run. The unsigned dry run that also
        # checks values against the model (14 ms) is skipped where the run itself does that check
        # before anything is sent: botocore validates every request in-process before sending it,
        # so an invalid value still never reaches AWS. It is kept where a human will be asked.
        confirm = tool == "execute_aws_write_command" and self.settings.confirm_writes
        # The tool's own region wins over a --region in the command (the plan puts it last).
        decision = decide(command, self.settings, validate=confirm, region=region)
        use_profile: str | None = None
        use_region: str | None = None
        if decision.plan is None or not decision.plan.is_help:
            # Help needs no profile, and works whatever state the config files are in.
            try:
                use_profile, use_region = profiles.resolve(
                    profile, region, allowlist=self.settings.profile_allowlist
                )
            except AwsMcpError as err:
                self._audit(
                    tool=tool, profile=profile, region=region, verdict="reject", rule=err.rule
                )
                raise ToolError(str(err)) from None
        base = {
            "tool": tool,
            "profile": use_profile,
            "region": use_region,
            "service": decision.service,
            "operation": decision.operation,
            "verdict": decision.verdict,
            "rule": decision.rule,
        }
        if decision.verdict == "reject":
            self._audit(**base)
            raise ToolError(_refusal(decision))
        if tool == "execute_aws_read_command" and decision.verdict != "read":
            self._audit(**base, refused="not-a-read")
            raise ToolError(
                f"Refused: this command is classified write ({decision.rule}: {decision.reason}). "
                "The read tool runs only reads; use execute_aws_write_command to run it."
            )
        if tool == "execute_aws_read_command" and decision.approval:
            self._audit(**base, refused="needs-approval")
            raise ToolError(
                f"Refused: this read returns secrets or credentials-derived values "
                f"({decision.reason}), and the server asks the user to approve those "
                "(--sensitive-reads approve). Use execute_aws_write_command to run it."
            )
        if confirm and decision.approval:
            await self._confirm(decision, use_profile, use_region, ctx)
        try:
            result = await self._run(decision, use_profile, use_region, ctx)
        except BaseException:
            # The client cancelled the request (or the server is shutting down): the engine was
            # told to stop the call; record that it did not complete.
            self._audit(
                **base,
                status="cancelled",
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
            )
            raise
        self._audit(
            **base,
            exit_code=result.exit_code,
            status=result.status,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
            output_bytes=result.stdout_size,
        )
        return CallToolResult(
            content=[
                TextContent(type="text", text=_format(result, decision, self.settings.output_cap))
            ],
            is_error=result.status != "ok",
        )

    async def _confirm(
        self, decision: Decision, profile: str | None, region: str | None, ctx: Context | None
    ) -> None:
        capabilities = ctx.client_capabilities if ctx is not None else None
        if ctx is None or capabilities is None or capabilities.elicitation is None:
            log.info(
                "client cannot elicit: running %r on the strength of the tool annotation",
                decision.command,
            )
            return
        message = (
            f"Run this AWS command?\n\n  aws {decision.command.strip()}\n\n"
            f"profile: {profile or '(default)'}    region: {region or '(profile default)'}\n"
            f"why it is a write: {decision.reason}"
        )
        answer = await ctx.elicit(message, Confirmation)
        if (
            answer.action != "accept"
            or not getattr(answer, "data", None)
            or not answer.data.confirm
        ):
            raise ToolError(
                f"The user did not approve the command ({answer.action}); nothing was run."
            )

    async def _run(
        self, decision: Decision, profile: str | None, region: str | None, ctx: Context | None
    ) -> RunResult:
        assert decision.plan is not None  # only a reject has no plan, and rejects never run
        call = self.engine.start(decision.plan, profile=profile, region=region)
        done = anyio.Event()

        async def progress() -> None:
            if ctx is None:
                return
            ticks = 0
            while not done.is_set():
                with anyio.move_on_after(PROGRESS_EVERY):
                    await done.wait()
                if done.is_set():
                    return
                ticks += 1
                elapsed = time.perf_counter() - call.started
                requests = call.ctx.requests
                try:
                    await ctx.report_progress(
                        ticks,
                        None,
                        f"running for {elapsed:.0f} s, {requests} AWS request(s) so far",
                    )
                except Exception:  # a client that went away does not stop the command
                    return

        try:
            async with anyio.create_task_group() as group:
                group.start_soon(progress)
                await call.wait_async()
                done.set()
        except BaseException:
            call.ctx.token.cancel("cancelled")
            raise
        return call.result()


def _refusal(decision: Decision) -> str:
    text = f"Refused ({decision.rule}): {decision.reason}"
    if decision.fix:
        text += f"\n{decision.fix}"
    return text


def build_server(
    settings: Settings, engine: Engine | None = None, *, sandbox_endpoint: str | None = None
) -> MCPServer:
    engine = engine or Engine(settings)
    tools = Tools(settings, engine)
    server: MCPServer = MCPServer(
        "aws-mcp-server",
        version=__version__,
        instructions=instructions(settings, sandbox_endpoint=sandbox_endpoint),
        log_level=settings.log_level,  # type: ignore[arg-type]
    )

    @server.tool(
        name="execute_aws_read_command",
        description=READ_DESCRIPTION,
        annotations=ToolAnnotations(
            title="Run a read-only AWS CLI command",
            read_only_hint=True,
            destructive_hint=False,
            idempotent_hint=True,
            open_world_hint=True,
        ),
    )
    async def execute_aws_read_command(
        command: CommandArg,
        profile: ProfileArg = None,
        region: RegionArg = None,
        ctx: Context | None = None,
    ) -> CallToolResult:
        return await tools.execute("execute_aws_read_command", command, profile, region, ctx)

    if not settings.read_only:

        @server.tool(
            name="execute_aws_write_command",
            description=WRITE_DESCRIPTION,
            annotations=ToolAnnotations(
                title="Run an AWS CLI command that may change resources",
                read_only_hint=False,
                destructive_hint=True,
                idempotent_hint=False,
                open_world_hint=True,
            ),
        )
        async def execute_aws_write_command(
            command: CommandArg,
            profile: ProfileArg = None,
            region: RegionArg = None,
            ctx: Context | None = None,
        ) -> CallToolResult:
            return await tools.execute("execute_aws_write_command", command, profile, region, ctx)

    @server.tool(
        name="list_aws_profiles",
        description=PROFILES_DESCRIPTION,
        annotations=ToolAnnotations(
            title="List AWS profiles",
            read_only_hint=True,
            destructive_hint=False,
            idempotent_hint=True,
            open_world_hint=False,
        ),
    )
    def list_aws_profiles() -> dict[str, Any]:
        try:
            found = profiles.list_profiles()
        except AwsMcpError as err:  # a file the AWS CLI cannot read either: say where
            raise ToolError(str(err)) from None
        if settings.profile_allowlist:
            found = [p for p in found if p.name in settings.profile_allowlist]
        return {
            "profiles": [p.as_dict() for p in found],
            "config_file": str(profiles.config_path()),
            "credentials_file": str(profiles.credentials_path()),
        }

    if settings.confirm_writes and not settings.read_only:
        log.info(
            "writes are confirmed by elicitation where the client supports it; "
            "otherwise the destructive annotation on execute_aws_write_command is the gate"
        )
    return server
