"""The server's configuration: read once, from flags and environment, into one frozen value.

This is the only module that reads `AWS_MCP_*` environment variables. Everything else takes a
`Settings` (tests build one directly). A value we cannot use raises `ConfigError` naming the
variable and what it accepts: nothing is silently defaulted.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aws_mcp_server.errors import ConfigError

SENSITIVE_READS = ("allow", "approve", "refuse")
"""What happens to a read whose output is a secret or grants access (`--sensitive-reads`):
`allow` runs it on either tool, `approve` runs it only on the write tool (which clients gate behind
the user's approval, and `--confirm-writes` confirms), `refuse` runs it on neither."""

MIN_REQUEST_STATE_KEY_BYTES = 32
"""The shortest key the SDK's AES-GCM request-state codec accepts (it stretches any longer secret)."""

DEFAULT_REQUEST_STATE_TTL = 300.0
"""Seconds a pending confirmation (2026-07-28 `requestState`) stays answerable: long enough for a
person to read the question, short enough that an old answer cannot be brought back much later."""

MAX_REQUEST_STATE_TTL = 3600.0

MAX_WORKERS = 64
"""Most HTTP worker processes (`--workers`); each loads its own awscli (about 150 MB resident)."""

DEFAULT_OUTPUT_CAP = 100_000
"""Bytes of command output handed to the model: about 25k tokens, a quarter of a small context."""

MAX_OUTPUT_CAP = 100_000_000
"""Most bytes of output one call may return (`--output-cap`): a result is held in memory, and
encoded again for the wire, several times over before it leaves."""

MAX_TIMEOUT = 86_400.0
"""Longest `--timeout` (a day): the longest AWS waiters poll for an hour or two; beyond a day a
deadline is no bound at all (and Python's thread waits overflow on huge ones)."""

DEFAULT_MAX_CONNECTIONS = 512
"""HTTP connections served at once (`--max-connections`), per process. A client on /mcp with a
session holds two (its POST and its GET stream), a plain client one; commands are capped
separately (`--max-concurrency`), so this bounds what waiting and idle clients can hold. High
enough that a few hundred slow clients (each dropped after --request-timeout) do not take every
place; low enough to sit under the usual open-file limit of 1024 with `FILE_HEADROOM` to spare."""

MAX_CONNECTIONS = 10_000

FILE_HEADROOM = 128
"""Open files kept free beyond --max-connections (one socket each): the process's own files,
the audit log, and the AWS connections of running commands (botocore pools, s3 transfer
threads: at most --max-concurrency of them run). At start-up the open-file limit must leave this
much above --max-connections."""

MIN_DEFAULT_CONNECTIONS = 32
"""The fewest connections the default adapts down to under a low open-file limit; below that the
server asks for a higher limit (or an explicit --max-connections) instead."""

DEFAULT_REQUEST_TIMEOUT = 10.0
"""Seconds a client has to send a whole request head, and again its whole body
(`--request-timeout`). A real client sends both in milliseconds; a slow-header client
(slowloris) is answered 408 and dropped, instead of holding a connection for as long as it likes."""

MAX_REQUEST_TIMEOUT = 600.0

DEFAULT_MAX_SESSIONS = 256
"""Streamable HTTP sessions kept at once on /mcp (`--max-sessions`); each costs about 30 KiB of
memory. Beyond, initialize is answered 503 until a session ends (DELETE) or idles out."""

MAX_SESSIONS = 100_000

DEFAULT_SESSION_IDLE_TIMEOUT = 1800.0
"""Seconds a session on /mcp may go without a request in flight (none served, no GET stream
open) before it is closed and its id answers 404 (`--session-idle-timeout`); the SDK's default."""

MAX_SESSION_IDLE_TIMEOUT = 86_400.0

DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024
"""Largest HTTP request body (`--max-request-bytes`). A tool call is a few KiB (the command itself
is capped at 10,000 characters); each connection may buffer this much, so the worst case held in
memory is about --max-connections times this."""

MIN_REQUEST_BYTES = 16 * 1024
"""Smallest `--max-request-bytes`: a long command, JSON-escaped, with its envelope still fits."""

MAX_REQUEST_BYTES = 64 * 1024 * 1024


def default_workdir() -> Path:
    """A per-user data directory: the one place local files may be read and written."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "aws-mcp-server" / "workdir"


@dataclass(frozen=True)
class Settings:
    transport: str = "stdio"
    host: str = "127.0.0.1"
    port: int = 8000
    stateless: bool = False
    workers: int = 1
    auth_token: str | None = field(default=None, repr=False)
    allow_remote: bool = False
    endpoint_url: str | None = None
    endpoint_allowlist: tuple[str, ...] = ()
    workdir: Path = field(default_factory=default_workdir)
    timeout: float = 120.0
    output_cap: int = DEFAULT_OUTPUT_CAP
    json_indent: int = 0
    max_concurrency: int = 8
    max_connections: int | None = None
    """None: `DEFAULT_MAX_CONNECTIONS`, or what the open-file limit leaves room for
    (`connection_limit`)."""
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    max_sessions: int = DEFAULT_MAX_SESSIONS
    session_idle_timeout: float = DEFAULT_SESSION_IDLE_TIMEOUT
    read_only: bool = False
    allow_services: tuple[str, ...] = ()
    deny_services: tuple[str, ...] = ()
    allow_operations: tuple[str, ...] = ()
    deny_operations: tuple[str, ...] = ()
    profile_allowlist: tuple[str, ...] = ()
    confirm_writes: bool = False
    sensitive_reads: str = "allow"
    audit_log: Path | None = None
    request_state_keys: tuple[str, ...] = field(default=(), repr=False)
    """Keys that seal a pending confirmation between rounds (2026-07-28). The first seals, every
    key unseals (rotation). Empty: a key made at start-up, known to this process only."""
    request_state_ttl: float = DEFAULT_REQUEST_STATE_TTL
    sandbox: bool = False
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        if self.transport not in ("stdio", "http"):
            raise ConfigError(
                f"transport must be 'stdio' or 'http', not {self.transport!r}",
                rule="settings:transport",
            )
        if not 0 < self.port < 65536:
            raise ConfigError(f"port must be 1-65535, not {self.port}", rule="settings:port")
        self._check_workers()
        if not 1 <= self.max_concurrency <= 256:
            raise ConfigError("max concurrency must be 1-256", rule="settings:max-concurrency")
        self._check_limits()
        if not 0 <= self.json_indent <= 8:
            raise ConfigError(
                "JSON indent must be 0 (compact) to 8 spaces", rule="settings:json-indent"
            )
        if self.sensitive_reads not in SENSITIVE_READS:
            raise ConfigError(
                f"sensitive reads must be one of {', '.join(SENSITIVE_READS)}, "
                f"not {self.sensitive_reads!r}",
                rule="settings:sensitive-reads",
            )
        self._check_request_state()
        for name in ("allow_operations", "deny_operations"):
            for entry in getattr(self, name):
                service, sep, operation = entry.partition(":")
                if not sep or not service or not operation:
                    flag = "--" + name.replace("_", "-")
                    raise ConfigError(
                        f"{flag} entry {entry!r} is not SERVICE:OPERATION",
                        rule="settings:" + name.replace("_", "-"),
                        fix="Write entries such as ec2:describe-instances, s3:* or iam:Delete*.",
                    )
        if self.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ConfigError(
                f"log level must be DEBUG, INFO, WARNING or ERROR, not {self.log_level!r}",
                rule="settings:log-level",
            )

    def _check_workers(self) -> None:
        if not 1 <= self.workers <= MAX_WORKERS:
            raise ConfigError(
                f"--workers must be 1-{MAX_WORKERS}, not {self.workers}", rule="settings:workers"
            )
        if self.workers > 1 and not (self.transport == "http" and self.stateless):
            # A session lives in the process that opened it; with several processes behind one
            # port, its next request would land in another and find nothing.
            raise ConfigError(
                f"--workers {self.workers} needs --transport http --stateless: MCP sessions, SSE "
                "streams and confirmations asked mid-call live in one process, and the next "
                "request of a session could reach another worker",
                rule="settings:workers",
                fix="Add --transport http --stateless (every request then stands alone), or drop "
                "--workers.",
            )

    def _check_limits(self) -> None:
        # A limit that is not a finite number in range is no limit: NaN compares false with
        # everything, so each check is written to fail for it.
        if not (math.isfinite(self.timeout) and 0 < self.timeout <= MAX_TIMEOUT):
            raise ConfigError(
                f"--timeout must be a positive number of seconds, at most {MAX_TIMEOUT:.0f} "
                f"(a day), not {self.timeout}",
                rule="settings:timeout",
            )
        if not 1000 <= self.output_cap <= MAX_OUTPUT_CAP:
            raise ConfigError(
                f"--output-cap must be 1000-{MAX_OUTPUT_CAP} bytes, not {self.output_cap}",
                rule="settings:output-cap",
            )
        if self.max_connections is not None and not 1 <= self.max_connections <= MAX_CONNECTIONS:
            raise ConfigError(
                f"--max-connections must be 1-{MAX_CONNECTIONS}, not {self.max_connections}",
                rule="settings:max-connections",
            )
        if not MIN_REQUEST_BYTES <= self.max_request_bytes <= MAX_REQUEST_BYTES:
            raise ConfigError(
                f"--max-request-bytes must be {MIN_REQUEST_BYTES}-{MAX_REQUEST_BYTES} "
                f"(16 KiB to 64 MiB), not {self.max_request_bytes}",
                rule="settings:max-request-bytes",
                fix=f"The default, {DEFAULT_MAX_REQUEST_BYTES} (1 MiB), fits any tool call.",
            )
        self._check_http_timeouts()

    def _check_http_timeouts(self) -> None:
        if not (
            math.isfinite(self.request_timeout) and 0 < self.request_timeout <= MAX_REQUEST_TIMEOUT
        ):
            raise ConfigError(
                f"--request-timeout must be a positive number of seconds, at most "
                f"{MAX_REQUEST_TIMEOUT:.0f}, not {self.request_timeout}",
                rule="settings:request-timeout",
                fix=f"The default, {DEFAULT_REQUEST_TIMEOUT:.0f} s, is ample for any real client.",
            )
        if not 1 <= self.max_sessions <= MAX_SESSIONS:
            raise ConfigError(
                f"--max-sessions must be 1-{MAX_SESSIONS}, not {self.max_sessions}",
                rule="settings:max-sessions",
            )
        if not (
            math.isfinite(self.session_idle_timeout)
            and 1 <= self.session_idle_timeout <= MAX_SESSION_IDLE_TIMEOUT
        ):
            raise ConfigError(
                f"--session-idle-timeout must be 1-{MAX_SESSION_IDLE_TIMEOUT:.0f} seconds "
                f"(a day), not {self.session_idle_timeout}",
                rule="settings:session-idle-timeout",
            )

    def _check_request_state(self) -> None:
        generate = 'python -c "import secrets; print(secrets.token_hex(32))"'
        for index, key in enumerate(self.request_state_keys):
            size = len(key.encode("utf-8"))
            if size < MIN_REQUEST_STATE_KEY_BYTES:
                # The key itself is never repeated in the message: it is a secret.
                raise ConfigError(
                    f"request-state key #{index + 1} is {size} bytes long; it must be at least "
                    f"{MIN_REQUEST_STATE_KEY_BYTES} bytes of secret randomness",
                    rule="settings:request-state-keys",
                    fix=f"Generate one with: {generate}",
                )
        if len(set(self.request_state_keys)) != len(self.request_state_keys):
            raise ConfigError(
                "the request-state keys repeat a key", rule="settings:request-state-keys",
                fix="List each key once: the first seals, the others only unseal (rotation).",
            )
        if not (
            math.isfinite(self.request_state_ttl)
            and 10 <= self.request_state_ttl <= MAX_REQUEST_STATE_TTL
        ):
            raise ConfigError(
                f"request-state TTL must be 10-{MAX_REQUEST_STATE_TTL:.0f} seconds, "
                f"not {self.request_state_ttl}",
                rule="settings:request-state-ttl",
            )

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _bool(name: str, text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{name} must be true or false, not {text!r}", rule=f"settings:{name}")


def _int(name: str, text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ConfigError(
            f"{name} must be a whole number, not {text!r}", rule=f"settings:{name}"
        ) from None


def _float(name: str, text: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise ConfigError(
            f"{name} must be a number, not {text!r}", rule=f"settings:{name}"
        ) from None


def _list(name: str, text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _text(name: str, text: str) -> str:
    return text


def _lower(name: str, text: str) -> str:
    return text.strip().lower()


def _upper(name: str, text: str) -> str:
    return text.strip().upper()


def _path(name: str, text: str) -> Path:
    return Path(text).expanduser()


_KIND_PARSERS: dict[str, Callable[[str, str], Any]] = {
    "bool": _bool,
    "int": _int,
    "float": _float,
    "list": _list,
    "text": _text,
    "lower": _lower,
    "upper": _upper,
    "path": _path,
}


@dataclass(frozen=True)
class Option:
    """One setting, declared once: its field, flag, environment variable and help text. The CLI
    (`cli.py`), the environment reader (`load`) and the docs table are all generated from these."""

    field: str
    flag: str
    env: str
    kind: str
    help: str
    group: str
    choices: tuple[str, ...] = ()
    metavar: str | None = None

    @property
    def rule(self) -> str:
        return "settings:" + self.field.replace("_", "-")

    def parse(self, text: str, source: str | None = None) -> Any:
        """The value of this setting written as text; `source` (the flag, or by default the
        environment variable) names it in an error."""
        try:
            return _KIND_PARSERS[self.kind](source or self.env, text)
        except ConfigError as err:
            raise ConfigError(err.message, rule=self.rule, fix=err.fix) from None


_SERVING = "serving"
_AWS = "AWS"
_SAFETY = "safety and limits"

OPTIONS: tuple[Option, ...] = (
    Option("transport", "--transport", "AWS_MCP_TRANSPORT", "text", "stdio (default) or http", _SERVING, ("stdio", "http")),
    Option("host", "--host", "AWS_MCP_HOST", "text", "HTTP bind address (default 127.0.0.1)", _SERVING),
    Option("port", "--port", "AWS_MCP_PORT", "int", "HTTP port (default 8000)", _SERVING),
    Option("stateless", "--stateless", "AWS_MCP_STATELESS", "bool", "HTTP without sessions, for several replicas behind a load balancer", _SERVING),
    Option("workers", "--workers", "AWS_MCP_WORKERS", "int", "HTTP worker processes sharing the port (default 1); needs --stateless, since a session lives in one process", _SERVING, metavar="N"),
    Option("auth_token", "--auth-token", "AWS_MCP_AUTH_TOKEN", "text", "require `Authorization: Bearer TOKEN` on HTTP", _SERVING, metavar="TOKEN"),
    Option("allow_remote", "--allow-remote", "AWS_MCP_ALLOW_REMOTE", "bool", "allow binding a non-loopback address without --auth-token", _SERVING),
    Option("endpoint_url", "--endpoint-url", "AWS_ENDPOINT_URL", "text", "send every call to this endpoint (an emulator such as moto or LocalStack)", _AWS, metavar="URL"),
    Option("endpoint_allowlist", "--endpoint-allowlist", "AWS_MCP_ENDPOINT_ALLOWLIST", "list", "comma-separated non-loopback endpoints a command may name", _AWS, metavar="URLS"),
    Option("sandbox", "--sandbox", "AWS_MCP_SANDBOX", "bool", "start an in-memory AWS emulator with fake credentials and use it for every call", _AWS),
    Option("profile_allowlist", "--profiles", "AWS_MCP_PROFILES", "list", "comma-separated profiles the tools may use", _AWS, metavar="NAMES"),
    Option("read_only", "--read-only", "AWS_MCP_READ_ONLY", "bool", "do not offer the write tool", _SAFETY),
    Option("confirm_writes", "--confirm-writes", "AWS_MCP_CONFIRM_WRITES", "bool", "ask the user (MCP elicitation) before every write; a client that cannot be asked is refused, nothing runs unconfirmed", _SAFETY),
    Option("request_state_keys", "--request-state-keys", "AWS_MCP_REQUEST_STATE_KEYS", "list", "comma-separated secrets (>= 32 bytes each) that seal a pending confirmation; replicas behind one balancer must share them. The first seals, all unseal", _SAFETY, metavar="KEYS"),
    Option("request_state_ttl", "--request-state-ttl", "AWS_MCP_REQUEST_STATE_TTL", "float", "seconds a pending confirmation stays answerable (default 300)", _SAFETY, metavar="SECONDS"),
    Option("sensitive_reads", "--sensitive-reads", "AWS_MCP_SENSITIVE_READS", "lower", "reads that return secrets or tokens: allow (default) on either tool, approve (write tool only), refuse (never)", _SAFETY, SENSITIVE_READS),
    Option("allow_services", "--allow-services", "AWS_MCP_ALLOW_SERVICES", "list", "only these services (comma-separated CLI names)", _SAFETY, metavar="NAMES"),
    Option("deny_services", "--deny-services", "AWS_MCP_DENY_SERVICES", "list", "never these services", _SAFETY, metavar="NAMES"),
    Option("allow_operations", "--allow-operations", "AWS_MCP_ALLOW_OPERATIONS", "list", "only these SERVICE:OPERATION pairs (globs: s3:*, iam:List*)", _SAFETY, metavar="PAIRS"),
    Option("deny_operations", "--deny-operations", "AWS_MCP_DENY_OPERATIONS", "list", "never these SERVICE:OPERATION pairs", _SAFETY, metavar="PAIRS"),
    Option("workdir", "--workdir", "AWS_MCP_WORKDIR", "path", "the only directory local files may be read from or written to", _SAFETY, metavar="DIR"),
    Option("timeout", "--timeout", "AWS_MCP_TIMEOUT", "float", "seconds a command may run (default 120)", _SAFETY, metavar="SECONDS"),
    Option("output_cap", "--output-cap", "AWS_MCP_OUTPUT_CAP", "int", "bytes of output returned per call (default 100000)", _SAFETY, metavar="BYTES"),
    Option("json_indent", "--json-indent", "AWS_MCP_JSON_INDENT", "int", "indent JSON output by this many spaces (default 0: compact; the AWS CLI uses 4)", _SAFETY, metavar="N"),
    Option("max_concurrency", "--max-concurrency", "AWS_MCP_MAX_CONCURRENCY", "int", "commands running at once (default 8)", _SAFETY, metavar="N"),
    Option("max_connections", "--max-connections", "AWS_MCP_MAX_CONNECTIONS", "int", f"HTTP connections served at once, per process (default {DEFAULT_MAX_CONNECTIONS}, fewer if the open-file limit, ulimit -n, leaves less room); idle keep-alive connections, open streams and clients still sending their request count. Beyond it a request is answered 503 at once, never queued. A value given must stay {FILE_HEADROOM} under the open-file limit, or the server refuses to start", _SAFETY, metavar="N"),
    Option("request_timeout", "--request-timeout", "AWS_MCP_REQUEST_TIMEOUT", "float", f"seconds a client has to send its whole HTTP request head, and again its whole body (default {DEFAULT_REQUEST_TIMEOUT:.0f}); a slower one is answered 408 and its connection closed. Not the response, nor a long tool call", _SAFETY, metavar="SECONDS"),
    Option("max_sessions", "--max-sessions", "AWS_MCP_MAX_SESSIONS", "int", f"streamable HTTP sessions kept at once on /mcp (default {DEFAULT_MAX_SESSIONS}); beyond, initialize is answered 503 until one ends (DELETE) or idles out. Stateful /mcp only: no effect with --stateless", _SAFETY, metavar="N"),
    Option("session_idle_timeout", "--session-idle-timeout", "AWS_MCP_SESSION_IDLE_TIMEOUT", "float", f"seconds a /mcp session may go without a request in flight before it is closed and its id answers 404 (default {DEFAULT_SESSION_IDLE_TIMEOUT:.0f}). Stateful /mcp only: no effect with --stateless", _SAFETY, metavar="SECONDS"),
    Option("max_request_bytes", "--max-request-bytes", "AWS_MCP_MAX_REQUEST_BYTES", "int", f"largest HTTP request body (default {DEFAULT_MAX_REQUEST_BYTES}: 1 MiB); larger is answered 413 with a JSON-RPC error", _SAFETY, metavar="BYTES"),
    Option("audit_log", "--audit-log", "AWS_MCP_AUDIT_LOG", "path", "append one JSON line per tool call to this file", _SAFETY, metavar="FILE"),
    Option("log_level", "--log-level", "AWS_MCP_LOG_LEVEL", "upper", "DEBUG, INFO (default), WARNING or ERROR", "logging", ("DEBUG", "INFO", "WARNING", "ERROR")),
)
"""Every setting. A field of `Settings` without an entry here cannot be set from outside."""

_BY_FIELD = {option.field: option for option in OPTIONS}


def load(
    flags: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Settings from flags (highest), then environment, then defaults. Flags set to None are unset."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for option in OPTIONS:
        raw = env.get(option.env)
        if raw is not None and raw != "":
            values[option.field] = option.parse(raw)
    for name, value in (flags or {}).items():
        if value is not None:
            declared = _BY_FIELD.get(name)
            if declared is None:
                raise ConfigError(f"unknown setting {name!r}", rule="settings:unknown")
            lettercase = declared.kind in ("lower", "upper")
            values[name] = declared.parse(value) if lettercase else value
    return Settings(**values)


def check_open_files(max_connections: int, limit: int | None) -> None:
    """Refuse `max_connections` when it and `FILE_HEADROOM` more files do not fit the process's
    open-file limit (None: unlimited or unknown). Beyond the limit, accepting a connection fails
    with EMFILE: a new client then waits unanswered, and a running command cannot open its
    sockets."""
    if limit is None or max_connections + FILE_HEADROOM <= limit:
        return
    most = limit - FILE_HEADROOM
    raise ConfigError(
        f"--max-connections {max_connections} does not fit this process's open-file limit of "
        f"{limit} (ulimit -n): each connection is a file, and {FILE_HEADROOM} more are kept for "
        "the server's own files and AWS connections",
        rule="settings:max-connections",
        fix=(f"Pass --max-connections {most} or less, or raise the limit" if most >= 1 else
             "Raise the limit") + " (ulimit -n; LimitNOFILE= under systemd) before starting.",
    )


def connection_limit(max_connections: int | None, open_files: int | None) -> int:
    """The connections to serve at once: --max-connections if given (refused when it does not fit
    `open_files`, see `check_open_files`), else `DEFAULT_MAX_CONNECTIONS` or as many as the limit
    leaves room for (macOS starts shells at 256 open files)."""
    if max_connections is not None:
        check_open_files(max_connections, open_files)
        return max_connections
    if open_files is None or open_files - FILE_HEADROOM >= DEFAULT_MAX_CONNECTIONS:
        return DEFAULT_MAX_CONNECTIONS
    fits = open_files - FILE_HEADROOM
    if fits < MIN_DEFAULT_CONNECTIONS:
        raise ConfigError(
            f"this process's open-file limit of {open_files} (ulimit -n) leaves room for "
            f"{max(fits, 0)} HTTP connections beside the {FILE_HEADROOM} files kept for the "
            "server's own files and AWS connections",
            rule="settings:max-connections",
            fix="Raise the limit (ulimit -n 1024; LimitNOFILE= under systemd) before starting.",
        )
    return fits


def open_file_limit() -> int | None:
    """The process's soft open-file limit, or None (unlimited, unknown, or Windows)."""
    # The soft RLIMIT_NOFILE, read through os.sysconf: the `resource` module is POSIX-only, and
    # this package imports nothing that is. Windows has no such per-process limit to read.
    if not hasattr(os, "sysconf") or "SC_OPEN_MAX" not in os.sysconf_names:
        return None
    limit = os.sysconf("SC_OPEN_MAX")
    return limit if limit > 0 else None


def check_startup(settings: Settings) -> None:
    """What can only be checked on this machine, before the server starts: the workdir can be
    made (or is a directory), the audit log can be appended to, and over HTTP the open-file limit
    leaves room for --max-connections. Raises `ConfigError`."""
    if settings.transport == "http":
        connection_limit(settings.max_connections, open_file_limit())
    workdir = settings.workdir
    if workdir.exists() and not workdir.is_dir():
        raise ConfigError(
            f"--workdir {workdir} is a file, not a directory",
            rule="settings:workdir",
            fix="Name a directory (it is created if missing), e.g. --workdir ~/aws-mcp-files.",
        )
    if not workdir.exists():
        parent = next((p for p in workdir.parents if p.exists()), None)
        if parent is None or not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
            raise ConfigError(
                f"--workdir {workdir} cannot be created: {parent or workdir.anchor} is not a "
                "writable directory",
                rule="settings:workdir",
                fix="Name a directory under one you can write to.",
            )
    if settings.audit_log is not None:
        log = settings.audit_log
        target = log if log.exists() else log.parent
        if (log.exists() and not log.is_file()) or not target.exists():
            raise ConfigError(
                f"--audit-log {log} cannot be written: "
                + ("it is not a file" if log.exists() else f"{log.parent} does not exist"),
                rule="settings:audit-log",
                fix="Name a file in an existing directory you can write to.",
            )
        if not os.access(target, os.W_OK):
            raise ConfigError(
                f"--audit-log {log} cannot be written: permission denied",
                rule="settings:audit-log",
                fix="Name a file in an existing directory you can write to.",
            )


def markdown_table() -> str:
    """docs/settings.md's table, generated from `OPTIONS` (a test keeps the file in step)."""
    lines = ["| flag | environment variable | what it does |", "|---|---|---|"]
    for option in OPTIONS:
        lines.append(f"| `{option.flag}` | `{option.env}` | {option.help} |")
    return "\n".join(lines) + "\n"
