"""The MCP tools: execute_aws_read_command, execute_aws_write_command, list_aws_profiles.

    server = build_server(settings)          # an MCPServer; transports live in cli.py / http.py

Every call: check the profile, decide (tokenize -> resolve -> guards -> classify), refuse what the
tool may not run with the rule and the fix, optionally ask the user to confirm a write, run it
through the engine with progress and cancellation, and return the CLI's own output. A refused or
failed command is `isError` with text a model can act on; nothing here raises past the SDK.
"""

from __future__ import annotations

import contextlib
import difflib
import errno
import functools
import hashlib
import json
import logging
import os
import re
import shlex
import threading
import time
import unicodedata
import weakref
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import anyio
import anyio.to_thread
from mcp.server import MCPServer
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.elicitation import (
    AcceptedElicitation,
    CancelledElicitation,
    DeclinedElicitation,
    ElicitationResult,
)
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.mcpserver.resolve import Elicit, Resolve
from mcp.server.request_state import RequestStateBoundary, RequestStateSecurity
from mcp.shared.exceptions import MCPError
from mcp_types import (
    INVALID_PARAMS,
    MISSING_REQUIRED_CLIENT_CAPABILITY,
    CallToolResult,
    ClientCapabilities,
    ElicitationCapability,
    FormElicitationCapability,
    MissingRequiredClientCapabilityErrorData,
    TextContent,
    ToolAnnotations,
)
from mcp_types.version import is_version_at_least
from pydantic import BaseModel, Field
from pydantic import ValidationError as PydanticValidationError

from aws_mcp_server import __version__, loading, narrowing, profiles
from aws_mcp_server.decision import Decision, decide
from aws_mcp_server.errors import AwsMcpError, EngineError
from aws_mcp_server.guards import endpoints
from aws_mcp_server.settings import Settings

if TYPE_CHECKING:
    # The engine imports awscli; the handshake needs none of it (see `loading`).
    from aws_mcp_server.engine import Engine, RunResult

log = logging.getLogger("aws_mcp_server")

MAX_COMMAND_CHARS = 10_000
MAX_NAME_CHARS = 128
PROGRESS_EVERY = 1.0

READ_DESCRIPTION = """Run a read-only AWS CLI command and return its output.
Only reads run here (describe/list/get, `s3 ls`, `s3 cp s3://b/k -`, `wait`, `help`); use execute_aws_write_command for anything that changes state.
No shell: no pipes, `&&`, redirects or `$VAR`.
Output over {cap:,} bytes is cut, so ask for less: `--query` keeps the fields you need (`--query 'Reservations[].Instances[].InstanceId'`), filters select fewer items (`--filters Name=instance-state-name,Values=running`, `--prefix`), `--max-items 50` pages (pass the NextToken it prints as `--starting-token`).
Append `help` for a command's options: `ec2 describe-instances help`."""

WRITE_DESCRIPTION = """Run an AWS CLI command that may change resources (create, update, delete, start, stop, tag, put, `s3 cp/sync/rm`), or any read; prefer execute_aws_read_command for reads.
`--dry-run` still counts as a write.
No shell: no pipes, `&&`, redirects or `$VAR`. Local paths are relative to the server's workdir and must stay inside it."""

PROFILES_DESCRIPTION = (
    "List the AWS profiles configured for this server (name, region, kind such as sso or "
    "assume-role, and which is the default), to pass as `profile`. Never returns secrets."
)


CommandArg = Annotated[
    str, Field(description="The AWS CLI command without the leading `aws`, e.g. `s3 ls`.")
]
ProfileArg = Annotated[
    str | None, Field(description="A profile from list_aws_profiles; default: the default profile.")
]
RegionArg = Annotated[
    str | None, Field(description="A region such as `eu-west-1`; default: the profile's region.")
]


class Confirmation(BaseModel):
    """The one question `--confirm-writes` asks: run this command, yes or no."""

    confirm: bool = Field(description="Run this command?")


_INPUT_REQUIRED_VERSION = "2026-07-28"
"""The first protocol revision that asks within the call (InputRequiredResult and a retry) rather
than with a server-to-client `elicitation/create` request."""

_STATE_CLOCK_SKEW = 60.0
"""Seconds a sealed request state may appear to come from the future (the SDK's own allowance);
a spent state is remembered this much longer than its TTL."""


@dataclass
class _Call:
    """One `tools/call` as the audit log sees it: filled in as the call goes, written once."""

    fields: dict[str, Any]
    sealed: str | None = None
    """Digest of the sealed `requestState` this request carried (2026-07-28 rounds), if any."""
    asked: bool = False
    """The user is to be asked in this round: the question was handed to the SDK."""


_CALL: ContextVar[_Call | None] = ContextVar("aws_mcp_server_call", default=None)


def _note(**fields: Any) -> None:
    call = _CALL.get()
    if call is not None:
        call.fields.update(fields)


class _Refused(Exception):
    """A call refused before anything ran: the text for the client and the audit fields."""

    def __init__(self, text: str, **fields: Any) -> None:
        super().__init__(text)
        self.text = text
        self.fields = fields


@dataclass(frozen=True)
class Prepared:
    """A command checked, decided and tied to the profile and region it runs with."""

    decision: Decision
    profile: str | None
    region: str | None
    """The region the engine's session gets (the tool's, or the profile's)."""
    runs_in: str | None
    """The region the command runs in: as `region`, unless the command names its own."""


@dataclass(frozen=True)
class Gate:
    """What the write tool does with one call, settled before anyone is asked.

    Exactly one of: `refusal` (it cannot run; nobody is asked), `unanswerable` (the user must
    confirm and this client cannot be asked), `question` (ask it; run `prepared` on a yes), or
    none of them (run `prepared` as it is).
    """

    prepared: Prepared | None
    refusal: _Refused | None = None
    question: str | None = None
    unanswerable: str | None = None
    input_required: bool = False
    """The question goes through the 2026-07-28 InputRequiredResult rounds."""


class _SpentStates:
    """Digests of sealed confirmation states whose answer this process acted on.

    The SDK binds a sealed state to the tool, its arguments and an expiry, but the same state and
    answer sent twice within the TTL would run twice. Each state is remembered here for as long as
    any replica could still accept it, and refused the second time. Only this process's memory
    (another replica has not seen it, see docs/http.md), unless `directory` is given: then the
    worker processes of one server (`--workers`) share their claims there, one file per digest.
    """

    def __init__(self, lifetime: float, directory: Path | None = None) -> None:
        self.lifetime = lifetime
        self.directory = directory
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def claim(self, digest: str) -> bool:
        """True the first time `digest` is claimed within its lifetime, False after."""
        if self.directory is not None:
            return self._claim_shared(self.directory, digest)
        now = time.monotonic()
        with self._lock:
            for old in [d for d, until in self._until.items() if until <= now]:
                del self._until[old]
            if digest in self._until:
                return False
            self._until[digest] = now + self.lifetime
            return True

    def _claim_shared(self, directory: Path, digest: str) -> bool:
        # Creating a file with O_EXCL succeeds in exactly one process; claims older than their
        # lifetime are dropped first, as in memory.
        now = time.time()
        with self._lock, os.scandir(directory) as entries:
            for entry in entries:
                with contextlib.suppress(OSError):
                    if entry.stat().st_mtime + self.lifetime <= now:
                        os.unlink(entry.path)
        try:
            os.close(os.open(directory / digest, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            return False
        return True


@dataclass
class _Audit:
    """The `--audit-log` file: one JSON line per tool call, written whole or not at all."""

    path: Any
    lock: threading.Lock

    RESERVE = 16 * 1024
    """Free bytes a call needs on the log's disk before it may run: room for a typical line (one
    that still does not fit is not written at all, and the result says so)."""

    def problem(self) -> str | None:
        """Why a line cannot be written now (permissions, a directory, a full disk), or None."""
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as exc:
            return exc.strerror or str(exc)
        try:
            if hasattr(os, "fstatvfs"):
                stats = os.fstatvfs(fd)
                if stats.f_bavail * stats.f_frsize < self.RESERVE:
                    return "the disk it is on is full"
        finally:
            os.close(fd)
        return None

    def write(self, record: dict[str, Any]) -> None:
        """Append one line; raises OSError, leaving the file as it was, if it does not fit."""
        data = (json.dumps(record, separators=(",", ":"), default=str) + "\n").encode("utf-8")
        with self.lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                size = os.fstat(fd).st_size
                try:
                    written = os.write(fd, data)
                    if written != len(data):
                        raise OSError(errno.ENOSPC, "the line did not fit on the disk")
                except OSError:
                    # No half line: the next record must start on a line of its own.
                    os.ftruncate(fd, size)
                    raise
            finally:
                os.close(fd)


def _with_note(result: HandlerResult, note: str) -> HandlerResult:
    """A tools/call result with one more text block."""
    block = TextContent(type="text", text=note)
    if isinstance(result, CallToolResult):
        return result.model_copy(update={"content": [*result.content, block]})
    if isinstance(result, Mapping) and isinstance(result.get("content"), list):
        return {**result, "content": [*result["content"], block.model_dump(mode="json")]}
    return result


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
            "Every write is confirmed with the user through elicitation before it runs. A client "
            "that cannot ask the user (no elicitation support, or no channel to ask on) gets a "
            "refusal that says so: nothing runs unconfirmed."
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
        raise _Refused(
            f"Refused (input:too-long): `{name}` is {len(value)} characters long; the limit is "
            f"{limit}. Shorten it.",
            verdict="reject", rule="input:too-long", refused="input",
        )
    if any(ord(ch) < 32 for ch in value) and name != "command":
        raise _Refused(
            f"Refused (input:control-char): `{name}` contains control characters. Pass the plain name.",
            verdict="reject", rule="input:control-char", refused="input",
        )


def _uses_input_required(ctx: Context | None) -> bool:
    version = ctx.protocol_version if ctx is not None else None
    return version is not None and is_version_at_least(version, _INPUT_REQUIRED_VERSION)


def _can_elicit_form(capabilities: ClientCapabilities | None) -> bool:
    # The SDK's own reading: a bare `elicitation: {}` (before modes existed) means form; a client
    # that declared only URL mode cannot answer a form.
    elicitation = capabilities.elicitation if capabilities is not None else None
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)


def _visible(text: str) -> str:
    """`text` with control, format and line-separator characters shown as escapes.

    The command comes from the model: a newline or a bidi override in it could otherwise draw a
    fake "profile:" line, or reorder what the user reads, inside the question.
    """
    return "".join(
        f"\\u{ord(ch):04x}" if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch
        for ch in text
    )


def _question(prepared: Prepared) -> str:
    """The confirmation text: the same bytes for the same call on every round and every replica.

    The SDK accepts an answer only for the exact question it was given to, so nothing here may
    vary between rounds (no times, no counters): only the command, where it runs and why.
    """
    decision = prepared.decision
    typed = _visible(decision.command.strip())
    lines = ["Run this AWS command?", "", f"  aws {typed}", ""]
    runs_as = _visible(shlex.join(decision.argv))
    if runs_as not in (typed, typed.removeprefix("aws ").strip()):
        lines += [f"  runs as: aws {runs_as}", ""]
    lines.append(
        f"profile: {_visible(prepared.profile or '(default)')}    "
        f"region: {_visible(prepared.runs_in or '(the profile default)')}"
    )
    if decision.verdict == "write":
        lines.append(f"why you are asked: it changes AWS resources or local files ({decision.reason})")
    else:
        lines.append(
            f"why you are asked: it returns secrets or credentials-derived values "
            f"({decision.reason})"
        )
    return "\n".join(lines)


_UNANSWERABLE_FIX = (
    "To proceed: use a client that supports elicitation (form mode) on a connection that can "
    "carry the question (stdio, /mcp without --stateless, /sse-transport, or the 2026-07-28 "
    "protocol on any transport); or ask the operator to run the server without --confirm-writes."
)


def _unanswerable(why: str) -> str:
    return (
        "Refused: this server asks the user to confirm every write before it runs "
        f"(--confirm-writes), and {why}, so the user cannot be asked. Nothing was run.\n"
        + _UNANSWERABLE_FIX
    )


_INVALID_ANSWER = (
    "Nothing was run: the client accepted the confirmation but sent no usable answer (expected "
    '{"confirm": true} to run the command or {"confirm": false} to decline). Call the tool '
    "again to ask the user again."
)


_NOT_A_COMMAND = frozenset(
    {
        "validation:unknown-service",
        "validation:missing-service",
        "validation:missing-operation",
        "validation:missing-argument",
        "validation:missing-value",
        "validation:bad-choice",
        "validation:arguments",
        "validation:parameters",
        "validation:empty",
        "validation:query",
    }
)
"""Rejects that say words named in help as `aws ...` are a placeholder (`aws command help`), prose
or a command shown without its arguments, not a command this server refuses to run."""

_FULL_OUTPUT_LIMIT = 8 << 20
"""Output up to this size is kept whole for the truncation note (what comes after the cut: the
help sections left out, how many items a JSON list has); larger output gets a plainer note."""

_DRY_RUN_PASSED = re.compile(r"An error occurred \(DryRunOperation\)")
"""How awscli reports a `--dry-run` that AWS would have accepted: as an error, exit code 255."""

_ENGINE_TIMEOUT_LINE = "The command timed out after"
"""The engine's own line about a timeout in stderr; the result says it first, in its own words."""


def _dry_run_passed(result: RunResult, decision: Decision) -> bool:
    asked = decision.resolved is not None and decision.resolved.arguments.get("dry_run") is True
    return asked and result.status == "error" and bool(_DRY_RUN_PASSED.search(result.stderr))


def _truncation_note(
    result: RunResult,
    decision: Decision,
    shown_text: str,
    full: bytes | None,
    refuses: Callable[[str], bool],
) -> str:
    shown, total = len(result.stdout), result.stdout_size
    rest = full[shown:].decode("utf-8", "replace") if full is not None else ""
    resolved = decision.resolved
    path = resolved.command_path if resolved is not None else ()
    if decision.plan is not None and decision.plan.is_help:
        rest = narrowing.drop_refused_mentions(rest, refuses)
        return narrowing.help_note(shown_text, rest, shown, total, path)
    cut = narrowing.json_cut(result.text)
    items = None
    if cut is not None and cut.complete_items is not None and full is not None:
        items = narrowing.item_count(full.decode("utf-8", "replace"), cut.path)
    from aws_mcp_server.adapter.output_facts import operation_facts

    facts = operation_facts(tuple(path)) if resolved and not resolved.is_custom else None
    name = resolved.command_name if resolved is not None else "aws"
    queried = resolved is not None and resolved.global_options.get("query") is not None
    return narrowing.output_note(
        facts, shown, total, cut=cut, total_items=items, command_name=name, queried=queried
    )


def _format(
    result: RunResult,
    decision: Decision,
    settings: Settings,
    *,
    full: bytes | None = None,
    refuses: Callable[[str], bool] = lambda words: False,
) -> str:
    """The tool's text: what happened first when the call did not simply succeed, then the
    output, then notes (truncation and how to ask for less, sensitivity, stderr).

    `full` is everything the command printed when it was cut and is small enough to keep; help
    loses its advice to run commands that `refuses`.
    """
    text = result.text
    if decision.plan is not None and decision.plan.is_help:
        text = narrowing.drop_refused_mentions(text, refuses)
    notes: list[str] = []
    if result.truncated:
        notes.append(_truncation_note(result, decision, text, full, refuses))
    if decision.sensitive:
        notes.append("[sensitive: this output contains secrets or credentials-derived values.]")
    stderr = result.stderr.strip()
    if result.status == "timeout":
        stderr = "\n".join(
            line for line in stderr.splitlines() if not line.startswith(_ENGINE_TIMEOUT_LINE)
        )
        head = (
            f"The call timed out after {settings.timeout:g} s (the server's --timeout) and the "
            "command was stopped"
        )
        if text.strip():
            head += "; the output below is partial: what it printed before it was stopped."
        else:
            head += " before it printed anything."
        body = f"{head}\n\n{text}" if text.strip() else head
        if stderr:
            notes.append(f"[stderr]\n{stderr}")
    elif _dry_run_passed(result, decision):
        body = "\n\n".join(part for part in (stderr, text.strip()) if part)
        notes.append(
            "[dry run passed: the request would have succeeded and nothing was changed. Run it "
            "without --dry-run to make the change.]"
        )
    elif result.status != "ok":
        error = stderr or f"The command failed with exit code {result.exit_code}."
        body = f"{error}\n\n{text}" if text.strip() else error
    else:
        body = text
        if stderr:
            notes.append(f"[stderr]\n{stderr}")
    if not body.strip() and not notes:
        body = "(the command succeeded and printed nothing)"
    return "\n".join([body.rstrip("\n"), *notes]).strip("\n") + "\n"


class Tools:
    """The tool bodies, over one Settings and one Engine."""

    def __init__(
        self, settings: Settings, engine: Engine | None = None, claims: Path | None = None
    ) -> None:
        self.settings = settings
        self._engine = engine
        self._engine_lock = threading.Lock()
        self.calls = 0
        """`tools/call` requests in progress (counted on the event loop)."""
        self.audit = (
            _Audit(settings.audit_log, threading.Lock()) if settings.audit_log is not None else None
        )
        self.spent = _SpentStates(settings.request_state_ttl + _STATE_CLOCK_SKEW, claims)
        self._mentions: dict[str, bool] = {}

    @property
    def engine(self) -> Engine:
        """The engine, made on first use once awscli is loaded (blocks until it is: touch it
        from a worker thread first, as `prepare` does)."""
        engine = self._engine
        if engine is None:
            loading.wait()
            from aws_mcp_server.engine import Engine

            with self._engine_lock:
                if self._engine is None:
                    self._engine = Engine(self.settings)
                engine = self._engine
        return engine

    def idle(self) -> bool:
        """No tool call is in progress and no AWS command runs (abandoned ones included): the
        warm-up after loading runs only then, and the one gc.freeze only then."""
        return self.calls == 0 and (self._engine is None or self._engine.in_flight == 0)

    def write_audit(self, call: _Call, started: float) -> str | None:
        """Append the call's record; returns why it could not be written (logged, never raised
        into the call), or None."""
        if self.audit is None:
            return None
        record = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            **call.fields,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        }
        try:
            self.audit.write(record)
        except OSError as exc:
            log.error("could not write the audit log %s: %s", self.settings.audit_log, exc)
            return exc.strerror or str(exc)
        return None

    def audit_refusal(self) -> str | None:
        """The refusal for every call while the audit log cannot be written: a log the user
        asked for is a promise, so nothing runs unaudited."""
        if self.audit is None:
            return None
        problem = self.audit.problem()
        if problem is None:
            return None
        log.error("refusing calls: the audit log %s cannot be written: %s", self.audit.path, problem)
        rule = "audit:unwritable"
        return (
            f"Refused ({rule}): the audit log {self.audit.path} cannot be written "
            f"({problem}), and this server runs nothing it cannot audit; nothing was run.\n"
            "Ask the server's operator to free space or fix its permissions; calls run again as "
            "soon as it can be written."
        )

    def prepare(
        self, tool: str, command: str, profile: str | None, region: str | None, *, validate: bool
    ) -> Prepared:
        """Check the input, resolve the profile and decide; raises _Refused for a reject."""
        _check_text("command", command, MAX_COMMAND_CHARS)
        _check_text("profile", profile, MAX_NAME_CHARS)
        _check_text("region", region, MAX_NAME_CHARS)
        profile = profile or None
        region = region or None
        _note(profile=profile, region=region)
        # The tool's own region wins over a --region in the command (the plan puts it last).
        decision = decide(command, self.settings, validate=validate, region=region)
        if loading.loaded():
            self.engine  # noqa: B018  (made here, on a worker thread, not by the event loop)
        use_profile: str | None = None
        use_region: str | None = None
        if decision.plan is None or not decision.plan.is_help:
            # Help needs no profile, and works whatever state the config files are in.
            try:
                use_profile, use_region = profiles.resolve(
                    profile, region, allowlist=self.settings.profile_allowlist
                )
            except AwsMcpError as err:
                raise _Refused(
                    f"Refused ({err.rule}): {err}", verdict="reject", rule=err.rule,
                    refused="profile",
                ) from None
        stated = decision.resolved.global_options.get("region") if decision.resolved else None
        # Where it runs: the tool's region, else a --region in the command (awscli lets it
        # override the session's), else the profile's. The question shows this one.
        runs_in = region or (stated if isinstance(stated, str) else None) or use_region
        _note(
            profile=use_profile,
            region=runs_in,
            service=decision.service,
            operation=decision.operation,
            verdict=decision.verdict,
            rule=decision.rule,
        )
        if decision.verdict == "reject":
            raise _Refused(_refusal(decision), refused="reject")
        if runs_in and runs_in != region and runs_in != stated:
            # The profile's region (or AWS_REGION): the command's own were checked by decide.
            bad = endpoints.check_region(
                runs_in,
                source=f"the region of profile {use_profile or 'default'!r}",
                emulator=self.settings.endpoint_url is not None,
            )
            if bad is not None:
                raise _Refused(
                    f"Refused ({bad.rule}): {bad.reason}\n{bad.fix}",
                    verdict="reject",
                    rule=bad.rule,
                    refused="reject",
                )
        return Prepared(decision, use_profile, use_region, runs_in)

    async def aprepare(
        self, tool: str, command: str, profile: str | None, region: str | None, *, validate: bool
    ) -> Prepared:
        """`prepare` on a worker thread: resolving a command costs up to a few hundred ms on a
        service's first use (its model is parsed), and reading the profile files is I/O; the
        event loop keeps serving every other client meanwhile. The call's audit record travels
        with the thread (contextvars are copied)."""
        return await anyio.to_thread.run_sync(
            functools.partial(self.prepare, tool, command, profile, region, validate=validate)
        )

    async def read(
        self, command: str, profile: str | None, region: str | None, ctx: Context | None
    ) -> CallToolResult:
        try:
            # Resolution, the guards and classification always run. The unsigned dry run that
            # also checks values against the model (14 ms) is skipped: botocore validates every
            # request in-process before sending it, so an invalid value still never reaches AWS.
            prepared = await self.aprepare(
                "execute_aws_read_command", command, profile, region, validate=False
            )
            decision = prepared.decision
            if decision.verdict != "read":
                raise _Refused(
                    f"Refused: this command is classified write ({decision.rule}: "
                    f"{decision.reason}). The read tool runs only reads; use "
                    "execute_aws_write_command to run it.",
                    refused="not-a-read",
                )
            if decision.approval:
                raise _Refused(
                    f"Refused: this read returns secrets or credentials-derived values "
                    f"({decision.reason}), and the server asks the user to approve those "
                    "(--sensitive-reads approve). Use execute_aws_write_command to run it.",
                    refused="needs-approval",
                )
        except _Refused as refused:
            _note(outcome="refused", **refused.fields)
            raise ToolError(refused.text) from None
        return await self._execute(prepared, ctx)

    async def gate(
        self, command: str, profile: str | None, region: str | None, ctx: Context
    ) -> Gate:
        """Everything the write tool settles before asking: input, profile, decision, who asks.

        The command is validated here (botocore's dry run), so the user is never asked about a
        command that cannot run.
        """
        confirm = self.settings.confirm_writes
        try:
            prepared = await self.aprepare(
                "execute_aws_write_command", command, profile, region, validate=confirm
            )
        except _Refused as refused:
            return Gate(None, refusal=refused)
        if not (confirm and prepared.decision.approval):
            return Gate(prepared)
        question = _question(prepared)
        if _uses_input_required(ctx):
            # Asked within the call on any transport; a client without form elicitation is
            # refused with -32021 when the question is handed over (see _consent).
            return Gate(prepared, question=question, input_required=True)
        if not ctx.session.can_send_request:
            return Gate(
                prepared,
                unanswerable=_unanswerable(
                    "this connection has no channel to ask the user on (stateless HTTP, or "
                    "plain JSON-RPC on POST /, with a protocol before 2026-07-28)"
                ),
            )
        if not _can_elicit_form(ctx.client_capabilities):
            return Gate(
                prepared,
                unanswerable=_unanswerable(
                    "this client did not declare the elicitation capability (form mode)"
                ),
            )
        return Gate(prepared, question=question)

    async def write(
        self, gate: Gate, consent: ElicitationResult[Confirmation], ctx: Context | None
    ) -> CallToolResult:
        try:
            if gate.refusal is not None:
                raise gate.refusal
            prepared = gate.prepared
            assert prepared is not None
            if gate.unanswerable is not None:
                _note(outcome="unanswerable", refused="cannot-ask")
                raise ToolError(gate.unanswerable)
            if gate.question is not None:
                self._check_consent(gate, consent)
        except _Refused as refused:
            _note(outcome="refused", **refused.fields)
            raise ToolError(refused.text) from None
        return await self._execute(prepared, ctx, confirmed=gate.question is not None)

    def _check_consent(self, gate: Gate, consent: ElicitationResult[Confirmation]) -> None:
        """Return only when the user said yes to this question, once; raise ToolError otherwise."""
        if gate.input_required:
            # The answer came back with the sealed state of the round that asked. Act on that
            # state once: the same state and answer sent again would otherwise run again.
            call = _CALL.get()
            sealed = call.sealed if call is not None else None
            if sealed is None or not self.spent.claim(sealed):
                _note(outcome="replayed", refused="replayed")
                raise ToolError(
                    "Refused: this confirmation was already answered (the same request state "
                    "came back again); nothing was run this time. Call the tool again to ask "
                    "the user anew."
                )
        if isinstance(consent, DeclinedElicitation):
            _note(outcome="declined", answer="decline")
            raise ToolError("The user declined; nothing was run. Do not retry unless asked to.")
        if isinstance(consent, CancelledElicitation):
            _note(outcome="cancelled", answer="cancel")
            raise ToolError("The user cancelled; nothing was run. Do not retry unless asked to.")
        data: object = consent.data if isinstance(consent, AcceptedElicitation) else None
        if not isinstance(data, Confirmation):
            # The SDK hands over an accepted answer only once it matched the form; anything else
            # is a flow we do not understand, and it does not run.
            _note(outcome="invalid-answer")
            raise ToolError(_INVALID_ANSWER)
        if not data.confirm:
            _note(outcome="declined", answer="accept", confirm=False)
            raise ToolError(
                "The user declined (confirm: false); nothing was run. Do not retry unless asked to."
            )

    async def _execute(
        self, prepared: Prepared, ctx: Context | None, *, confirmed: bool = False
    ) -> CallToolResult:
        decision = prepared.decision
        if confirmed:
            _note(confirmed=True)
        try:
            result, full = await self._run(decision, prepared.profile, prepared.region, ctx)
        except EngineError as err:
            # Nothing ran: every slot is taken by calls in flight.
            _note(outcome="refused", refused="busy", rule=err.rule)
            raise ToolError(f"Not run: {err}") from None
        except BaseException:
            # The client cancelled the request (or the server is shutting down): the engine was
            # told to stop the call; record that it did not complete.
            _note(outcome="interrupted", status="cancelled")
            raise
        dry_run = _dry_run_passed(result, decision)
        _note(
            outcome="ran",
            exit_code=result.exit_code,
            status=result.status,
            output_bytes=result.stdout_size,
            **({"dry_run": "passed"} if dry_run else {}),
        )
        text = _format(result, decision, self.settings, full=full, refuses=self.refuses)
        return CallToolResult(
            content=[TextContent(type="text", text=text)],
            is_error=result.status != "ok" and not dry_run,
        )

    def refuses(self, words: str) -> bool:
        """True when `words` (a command named in help, without `aws`) is one this server
        refuses to run, rather than prose, a placeholder or a command shown without arguments."""
        known = self._mentions.get(words)
        if known is None:
            decision = decide(words, self.settings, validate=False)
            known = (
                decision.is_reject
                and decision.rule not in _NOT_A_COMMAND
                and not decision.rule.startswith("parse")
            )
            if len(self._mentions) < 4096:  # help names a few hundred commands at most
                self._mentions[words] = known
        return known

    async def _run(
        self, decision: Decision, profile: str | None, region: str | None, ctx: Context | None
    ) -> tuple[RunResult, bytes | None]:
        """The result, and all the command printed when that was cut and is small enough to
        keep (for the truncation note)."""
        assert decision.plan is not None  # only a reject has no plan, and rejects never run
        # Waiting for a free slot (--max-concurrency) happens on a worker thread: the event loop
        # keeps answering every other client (and /health) meanwhile.
        call = self.engine.try_start(decision.plan, profile=profile, region=region)
        if call is None:
            call = await anyio.to_thread.run_sync(
                functools.partial(self.engine.start, decision.plan, profile=profile, region=region)
            )
        if ctx is None or not _wants_progress(ctx):
            try:
                await call.wait_async()
            except BaseException:
                call.ctx.token.cancel("cancelled")
                raise
        else:
            await self._wait_reporting(call, ctx)
        result = call.result()
        full = None
        if result.truncated and result.stdout_size <= _FULL_OUTPUT_LIMIT:
            full = call.ctx.stdout.getvalue()
        return result, full

    async def _wait_reporting(self, call: Any, ctx: Context) -> None:
        """Wait for `call`, telling the client every PROGRESS_EVERY seconds how it goes."""
        done = anyio.Event()

        async def progress() -> None:
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


def _wants_progress(ctx: Context) -> bool:
    """The client asked for progress notifications on this request (a `progressToken` in its
    `_meta`); True when that cannot be told, so that a client that asked is never left out."""
    try:
        meta = ctx.request_context.meta
    except Exception:
        return True
    if not meta:
        return False
    return meta.get("progress_token") is not None or meta.get("progressToken") is not None


def _refusal(decision: Decision) -> str:
    text = f"Refused ({decision.rule}): {decision.reason}"
    if decision.fix:
        text += f"\n{decision.fix}"
    return text


# --- resolvers and the audit trail -------------------------------------------------------------

_TOOLS: weakref.WeakKeyDictionary[MCPServer, Tools] = weakref.WeakKeyDictionary()
"""The Tools behind each server. Resolvers are module-level functions (the SDK keys a question by
the resolver's module and name, which must be the same on every replica) and find them here."""


async def _gate(command: str, profile: str | None, region: str | None, ctx: Context) -> Gate:
    """Resolver: settle the write tool's call before anything is asked (runs on every round)."""
    return await _TOOLS[ctx.mcp_server].gate(command, profile, region, ctx)


async def _consent(
    gate: Annotated[Gate, Resolve(_gate)], ctx: Context
) -> Elicit[Confirmation] | None:
    """Resolver: the question, when there is one to ask; None when nobody needs to be asked."""
    if gate.question is None:
        return None
    call = _CALL.get()
    if call is not None:
        call.asked = True
    if gate.input_required and not _can_elicit_form(ctx.client_capabilities):
        _note(outcome="unanswerable", refused="client-capability")
        required = ClientCapabilities(
            elicitation=ElicitationCapability(form=FormElicitationCapability())
        )
        raise MCPError(
            code=MISSING_REQUIRED_CLIENT_CAPABILITY,
            message=(
                "This server asks the user to confirm every write (--confirm-writes), and this "
                "client did not declare form elicitation, so the user cannot be asked; nothing "
                "was run. Use a client that supports elicitation, or ask the operator to run the "
                "server without --confirm-writes."
            ),
            data=MissingRequiredClientCapabilityErrorData(
                required_capabilities=required
            ).model_dump(by_alias=True, mode="json", exclude_none=True),
        )
    return Elicit(gate.question, Confirmation)


def _digest(state: object) -> str | None:
    if not isinstance(state, str) or not state:
        return None
    return hashlib.sha256(state.encode("utf-8", "surrogatepass")).hexdigest()


def _clip(name: object) -> str:
    return str(name)[:MAX_NAME_CHARS] if name is not None else "(none)"


class _AuditTrail:
    """Server middleware: one audit line for every `tools/call`, whatever became of it.

    It sits outside the SDK's request-state boundary, so it sees the sealed `requestState` as the
    client sent it (the digest `_SpentStates` remembers) and the errors the boundary raises for a
    tampered or expired one. The tool bodies add what they learn through `_note`; the line is
    written here, once, before the result goes back.
    """

    def __init__(self, tools: Tools) -> None:
        self.tools = tools

    async def __call__(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        if ctx.method != "tools/call" or ctx.request_id is None:
            return await call_next(ctx)
        params: Mapping[str, Any] = ctx.params or {}
        call = _Call(
            fields={"tool": _clip(params.get("name")), "protocol": ctx.protocol_version},
            sealed=_digest(params.get("requestState")),
        )
        started = time.perf_counter()
        refusal = self.tools.audit_refusal()
        if refusal is not None:
            return CallToolResult(content=[TextContent(type="text", text=refusal)], is_error=True)
        token = _CALL.set(call)
        try:
            result = await call_next(ctx)
        except MCPError as err:
            code = err.error.code
            if "outcome" not in call.fields:
                if code == MISSING_REQUIRED_CLIENT_CAPABILITY:
                    call.fields.update(outcome="unanswerable", refused="client-capability")
                elif code == INVALID_PARAMS and (params.get("requestState") is not None):
                    call.fields.update(outcome="refused", refused="request-state")
                else:
                    call.fields.update(outcome="error")
            call.fields["error_code"] = code
            self.tools.write_audit(call, started)
            raise
        except Exception:
            call.fields.setdefault("outcome", "error")
            self.tools.write_audit(call, started)
            raise
        except BaseException:
            call.fields.setdefault("outcome", "interrupted")
            self.tools.write_audit(call, started)
            raise
        finally:
            _CALL.reset(token)
        result = self._settle(call, result)
        failed = self.tools.write_audit(call, started)
        if failed is not None:
            # It ran (or was answered) but its line is missing: the client is told, never left
            # to believe the call was recorded.
            result = _with_note(
                result,
                f"[audit: this call's line could not be written to {self.tools.settings.audit_log} "
                f"({failed})]",
            )
        return result

    def _settle(self, call: _Call, result: HandlerResult) -> HandlerResult:
        """Name the outcome the body did not (SDK-level ends), and word an unusable answer."""
        if isinstance(result, BaseModel):
            wire = result.model_dump(by_alias=True, mode="json", exclude_none=True)
        elif isinstance(result, Mapping):
            wire = dict(result)
        else:
            wire = {}
        if "outcome" in call.fields:
            return result
        if wire.get("resultType") == "input_required":
            call.fields["outcome"] = "asked"
            return result
        if not wire.get("isError"):
            call.fields["outcome"] = "ok"
            return result
        if not call.asked:
            # Refused by the SDK before any body ran: arguments that fail the schema, an
            # unknown tool, or a fault of ours (its text stays in the server log).
            call.fields["outcome"] = "error"
            return result
        # The question was handed over and the body never ran: the SDK refused the answer
        # (accepted with no content, or content that is not the form). Say that plainly.
        call.fields["outcome"] = "invalid-answer"
        original = " ".join(
            str(block.get("text", "")) for block in wire.get("content", []) if isinstance(block, dict)
        )
        log.info("a confirmation answer was not usable: %s", original)
        content = [{"type": "text", "text": _INVALID_ANSWER}]
        if isinstance(result, CallToolResult):
            return result.model_copy(
                update={"content": [TextContent(type="text", text=_INVALID_ANSWER)]}
            )
        if isinstance(result, Mapping):
            return {**result, "content": content}
        return result


class _LoadAfterHandshake:
    """Server middleware: once the first request (normally `initialize`) is answered, awscli
    starts loading in the background; nothing the handshake does needs it (see `loading`). It
    also counts the tool calls in progress, so that the warm-up after the load waits for quiet."""

    def __init__(self, tools: Tools) -> None:
        self.tools = tools

    async def __call__(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        calling = ctx.method == "tools/call"
        if calling:
            self.tools.calls += 1
        try:
            return await call_next(ctx)
        finally:
            if calling:
                self.tools.calls -= 1
            loading.start(self.tools.idle)


def preload(server: MCPServer) -> None:
    """Start loading awscli now rather than after the first request (HTTP has no handshake)."""
    loading.start(_TOOLS[server].idle)


def _request_state_security(settings: Settings) -> RequestStateSecurity:
    if settings.request_state_keys:
        return RequestStateSecurity(
            keys=list(settings.request_state_keys), ttl=settings.request_state_ttl
        )
    return RequestStateSecurity.ephemeral(ttl=settings.request_state_ttl)


def _install_audit_trail(server: MCPServer, tools: Tools) -> None:
    chain = server.middleware
    boundary = next(
        (index for index, item in enumerate(chain) if isinstance(item, RequestStateBoundary)),
        None,
    )
    if boundary is None:
        # Replay protection needs the sealed state as the client sent it: fail at start-up,
        # not silently, if the SDK stops sealing it in its middleware chain.
        raise RuntimeError("the SDK's RequestStateBoundary is not in the middleware chain")
    chain.insert(boundary, _AuditTrail(tools))
    # Inside the audit trail, so a malformed call is still recorded.
    chain.insert(boundary + 1, _CallShape())


# --- what a model reads when a call goes wrong before any tool body runs -------------------------

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
    "null": (type(None),),
}
_TYPE_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "an object",
    "array": "a list",
    "null": "null",
}
_EXAMPLE = re.compile(r"e\.g\. `([^`]+)`")


def _types_of(schema: Mapping[str, Any]) -> list[str] | None:
    """The JSON types a property accepts, when its schema is a plain type or a union of them."""
    kind = schema.get("type")
    if isinstance(kind, str):
        return [kind] if kind in _JSON_TYPES else None
    options = schema.get("anyOf")
    if isinstance(options, list):
        kinds = [o.get("type") for o in options if isinstance(o, Mapping)]
        if len(kinds) == len(options) and all(k in _JSON_TYPES for k in kinds):
            return [str(k) for k in kinds]
    return None


def _fits(value: object, kinds: list[str]) -> bool:
    for kind in kinds:
        if kind in ("integer", "number") and isinstance(value, bool):
            continue
        if isinstance(value, _JSON_TYPES[kind]):
            return True
    return False


def _type_words(kinds: list[str]) -> str:
    words = [_TYPE_WORDS[k] for k in kinds if k != "null"]
    return " or ".join(words) if words else "null"


def _clipped(value: object) -> object:
    """A value to repeat in a suggested call: long strings cut (a command can be 10,000 chars)."""
    return value[:77] + "..." if isinstance(value, str) and len(value) > 80 else value


def _shown(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _argument_problem(
    tool: str, schema: Mapping[str, Any], arguments: Mapping[str, Any]
) -> str | None:
    """What is wrong with `arguments` for `tool`, in two lines (the problem, then a call that
    works), or None when they fit its input schema as far as plain JSON types go."""
    properties: Mapping[str, Any] = schema.get("properties") or {}
    required = [name for name in schema.get("required") or [] if name in properties]
    unknown = [name for name in arguments if name not in properties]
    wrong = [
        (name, kinds)
        for name, value in arguments.items()
        if name in properties
        and (kinds := _types_of(properties[name])) is not None
        and not _fits(value, kinds)
    ]
    missing = [name for name in required if name not in arguments]
    if not (unknown or wrong or missing):
        return None
    # A mistyped name most likely meant the closest argument it lacks (`cmd` -> `command`).
    meant: dict[str, str] = {}
    for name in unknown:
        lacking = [p for p in properties if p not in arguments]
        close = difflib.get_close_matches(name, lacking, 1, 0.5)
        if close and close[0] not in meant.values():
            meant[name] = close[0]
    problems = []
    for name in missing:
        kinds = _types_of(properties[name]) or ["string"]
        about = str(properties[name].get("description", "")).split(", e.g.")[0].rstrip(".")
        about = about[:1].lower() + about[1:]
        needs = f'{tool} needs "{name}", {_type_words(kinds)}'
        problems.append(f"{needs}: {about}" if about else needs)
    for name, kinds in wrong:
        problems.append(f'"{name}" must be {_type_words(kinds)}, not {_shown(arguments[name])}')
    for name in unknown:
        hint = f' (did you mean "{meant[name]}"?)' if name in meant else ""
        problems.append(f'"{name}" is not an argument of {tool}{hint}')
    example: dict[str, Any] = {}
    for name, spec in properties.items():
        kinds = _types_of(spec) or []
        given = [k for k, v in meant.items() if v == name]
        if name in arguments and _fits(arguments[name], kinds) and arguments[name] is not None:
            example[name] = _clipped(arguments[name])
        elif given and _fits(arguments[given[0]], kinds):
            example[name] = _clipped(arguments[given[0]])
        elif name in required:
            sample = _EXAMPLE.search(str(spec.get("description", "")))
            example[name] = sample.group(1) if sample else f"<{name}>"
    optional = [name for name in properties if name not in required and name not in example]
    call = f"Call it with arguments {json.dumps(example, ensure_ascii=False)}"
    if optional:
        call += "; optional: " + ", ".join(f'"{name}"' for name in optional)
    return "; ".join(problems) + ".\n" + call + "."


def _schema_problem(tool: str, error: PydanticValidationError) -> str:
    """The SDK's argument validation failure without pydantic's dump: field and reason only."""
    reasons = [
        f'"{".".join(str(part) for part in item["loc"]) or "arguments"}": {item["msg"]}'
        for item in error.errors(include_url=False)
    ]
    return f"The arguments do not fit {tool}'s input schema: " + "; ".join(reasons) + "."


def _lean_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """An input schema without what costs a model tokens and tells it nothing: pydantic's titles,
    and the `null` branch and `default: null` of an optional argument (leaving it out is the way
    to say "the default"; null is still accepted)."""
    lean: dict[str, Any] = {k: v for k, v in schema.items() if k != "title"}
    properties = schema.get("properties")
    if isinstance(properties, Mapping):
        trimmed = {}
        for name, spec in properties.items():
            spec = {k: v for k, v in spec.items() if k != "title"}
            options = spec.get("anyOf")
            if spec.get("default", 0) is None and isinstance(options, list):
                rest = [o for o in options if o != {"type": "null"}]
                if len(rest) == 1 and isinstance(rest[0], Mapping):
                    kept = {k: v for k, v in spec.items() if k not in ("anyOf", "default")}
                    spec = {**rest[0], **kept}
            trimmed[name] = spec
        lean["properties"] = trimmed
    return lean


class _Server(MCPServer):
    """The SDK's MCPServer, with errors that start with what happened.

    The SDK prefixes every tool failure with `Error executing tool <name>: ` and answers arguments
    that do not fit the schema with pydantic's dump and a documentation URL, and it ignores
    arguments the tool does not have (a mistyped `regoin` would silently run in the default
    region). Here: the tool's own text as it was raised; for bad arguments, two lines saying what
    was wrong and what a correct call looks like; unknown argument names are refused.
    """

    async def list_tools(self) -> list[Any]:
        tools = await super().list_tools()
        return [
            tool.model_copy(
                update={
                    "input_schema": _lean_schema(tool.input_schema),
                    "output_schema": (
                        {k: v for k, v in tool.output_schema.items() if k != "title"}
                        if tool.output_schema
                        else tool.output_schema
                    ),
                }
            )
            for tool in tools
        ]

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Any = None
    ) -> Any:
        schemas = {tool.name: tool.input_schema for tool in await super().list_tools()}
        if name not in schemas:
            close = difflib.get_close_matches(name, list(schemas), 1, 0.5)
            hint = f' Did you mean "{close[0]}"?' if close else ""
            raise ToolError(
                f'Unknown tool "{_clip(name)}".{hint} This server\'s tools: '
                + ", ".join(schemas)
                + "."
            )
        problem = _argument_problem(name, schemas[name], arguments)
        if problem is not None:
            _note(outcome="refused", refused="arguments", rule="input:arguments")
            raise ToolError(f"Refused (input:arguments): {problem}")
        prefix = f"Error executing tool {name}"
        try:
            return await super().call_tool(name, arguments, context)
        except UnexpectedToolError as exc:
            # A fault of ours: its text and traceback stay in the server log (the SDK logs the
            # cause); the model learns what happened and what to do, not the exception.
            raise UnexpectedToolError(
                f"{name} failed with an internal error in aws-mcp-server (the details are in the "
                "server log). If it was a write, check whether it took effect before retrying."
            ) from exc.__cause__
        except ToolError as exc:
            if isinstance(exc.__cause__, PydanticValidationError):
                raise ToolError(_schema_problem(name, exc.__cause__)) from exc.__cause__
            text = str(exc)
            text = text[len(prefix) :].removeprefix(": ") if text.startswith(prefix) else text
            raise ToolError(text) from exc.__cause__


_TOOL_CALL_EXAMPLE = '{"name": "execute_aws_read_command", "arguments": {"command": "s3 ls"}}'


def _call_params_problem(params: object) -> str | None:
    """What is wrong with the params of a `tools/call` request, or None (the SDK checks the
    rest)."""
    if not isinstance(params, Mapping):
        return f"tools/call needs params, an object such as {_TOOL_CALL_EXAMPLE}."
    name = params.get("name")
    if not isinstance(name, str):
        return (
            'tools/call needs params.name, the tool to call as a string, as in '
            f"{_TOOL_CALL_EXAMPLE}."
        )
    arguments = params.get("arguments")
    if arguments is not None and not isinstance(arguments, Mapping):
        problem = f"tools/call params.arguments must be an object, not {_shown(arguments)}"
        if isinstance(arguments, str):
            try:
                parsed = json.loads(arguments)
            except ValueError:
                parsed = None
            if isinstance(parsed, Mapping):
                problem += " (send the object itself, not a JSON string of it)"
        return f"{problem}; e.g. {_TOOL_CALL_EXAMPLE}."
    return None


class _CallShape:
    """Server middleware: a `tools/call` whose params are not the right shape is answered with
    what is wrong (-32602) instead of the SDK's bare "Invalid request parameters"."""

    async def __call__(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        if ctx.method == "tools/call":
            problem = _call_params_problem(ctx.params)
            if problem is not None:
                raise MCPError(code=INVALID_PARAMS, message=problem)
        return await call_next(ctx)


def build_server(
    settings: Settings,
    engine: Engine | None = None,
    *,
    sandbox_endpoint: str | None = None,
    claims: Path | None = None,
) -> MCPServer:
    """The MCP server. `claims` is where the worker processes of one server share the
    confirmations they acted on (see `_SpentStates`); None keeps them in this process."""
    tools = Tools(settings, engine, claims)
    server: MCPServer = _Server(
        "aws-mcp-server",
        version=__version__,
        instructions=instructions(settings, sandbox_endpoint=sandbox_endpoint),
        log_level=settings.log_level,  # type: ignore[arg-type]
        request_state_security=_request_state_security(settings),
    )
    _TOOLS[server] = tools
    _install_audit_trail(server, tools)
    server.middleware.insert(0, _LoadAfterHandshake(tools))

    @server.tool(
        name="execute_aws_read_command",
        description=READ_DESCRIPTION.format(cap=settings.output_cap),
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
        return await tools.read(command, profile, region, ctx)

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
            *,
            gate: Annotated[Gate, Resolve(_gate)],
            consent: Annotated[ElicitationResult[Confirmation], Resolve(_consent)],
        ) -> CallToolResult:
            return await tools.write(gate, consent, ctx)

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
            _note(outcome="refused", refused="profile", rule=err.rule)
            raise ToolError(f"Refused ({err.rule}): {err}") from None
        if settings.profile_allowlist:
            found = [p for p in found if p.name in settings.profile_allowlist]
        _note(outcome="listed", profiles=len(found))
        return {
            "profiles": [p.as_dict() for p in found],
            "config_file": str(profiles.config_path()),
            "credentials_file": str(profiles.credentials_path()),
        }

    if settings.confirm_writes and not settings.read_only:
        log.info(
            "writes are confirmed with the user before they run; a client that cannot be asked "
            "is refused"
        )
    return server
