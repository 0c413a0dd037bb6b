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

DEFAULT_OUTPUT_CAP = 100_000
"""Bytes of command output handed to the model: about 25k tokens, a quarter of a small context."""


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
    auth_token: str | None = field(default=None, repr=False)
    allow_remote: bool = False
    endpoint_url: str | None = None
    endpoint_allowlist: tuple[str, ...] = ()
    workdir: Path = field(default_factory=default_workdir)
    timeout: float = 120.0
    output_cap: int = DEFAULT_OUTPUT_CAP
    json_indent: int = 0
    max_concurrency: int = 8
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
                rule="settings.transport",
            )
        if not 0 < self.port < 65536:
            raise ConfigError(f"port must be 1-65535, not {self.port}", rule="settings.port")
        if self.timeout <= 0:
            raise ConfigError(
                "timeout must be a positive number of seconds", rule="settings.timeout"
            )
        if not 0 <= self.json_indent <= 8:
            raise ConfigError(
                "JSON indent must be 0 (compact) to 8 spaces", rule="settings.json_indent"
            )
        if self.output_cap < 1000:
            raise ConfigError("output cap must be at least 1000 bytes", rule="settings.output_cap")
        if not 1 <= self.max_concurrency <= 256:
            raise ConfigError("max concurrency must be 1-256", rule="settings.max_concurrency")
        if self.sensitive_reads not in SENSITIVE_READS:
            raise ConfigError(
                f"sensitive reads must be one of {', '.join(SENSITIVE_READS)}, "
                f"not {self.sensitive_reads!r}",
                rule="settings.sensitive_reads",
            )
        self._check_request_state()
        if self.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ConfigError(
                f"log level must be DEBUG, INFO, WARNING or ERROR, not {self.log_level!r}",
                rule="settings.log_level",
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
                    rule="settings.request_state_keys",
                    fix=f"Generate one with: {generate}",
                )
        if len(set(self.request_state_keys)) != len(self.request_state_keys):
            raise ConfigError(
                "the request-state keys repeat a key", rule="settings.request_state_keys",
                fix="List each key once: the first seals, the others only unseal (rotation).",
            )
        if not (
            math.isfinite(self.request_state_ttl)
            and 10 <= self.request_state_ttl <= MAX_REQUEST_STATE_TTL
        ):
            raise ConfigError(
                f"request-state TTL must be 10-{MAX_REQUEST_STATE_TTL:.0f} seconds, "
                f"not {self.request_state_ttl}",
                rule="settings.request_state_ttl",
            )

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _bool(name: str, text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{name} must be true or false, not {text!r}", rule=f"env.{name}")


def _int(name: str, text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ConfigError(
            f"{name} must be a whole number, not {text!r}", rule=f"env.{name}"
        ) from None


def _float(name: str, text: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {text!r}", rule=f"env.{name}") from None


def _list(name: str, text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _text(name: str, text: str) -> str:
    return text


def _path(name: str, text: str) -> Path:
    return Path(text).expanduser()


# field -> (environment variable, parser)
_ENV: dict[str, tuple[str, Callable[[str, str], Any]]] = {
    "transport": ("AWS_MCP_TRANSPORT", _text),
    "host": ("AWS_MCP_HOST", _text),
    "port": ("AWS_MCP_PORT", _int),
    "stateless": ("AWS_MCP_STATELESS", _bool),
    "auth_token": ("AWS_MCP_AUTH_TOKEN", _text),
    "allow_remote": ("AWS_MCP_ALLOW_REMOTE", _bool),
    "endpoint_url": ("AWS_ENDPOINT_URL", _text),
    "endpoint_allowlist": ("AWS_MCP_ENDPOINT_ALLOWLIST", _list),
    "workdir": ("AWS_MCP_WORKDIR", _path),
    "timeout": ("AWS_MCP_TIMEOUT", _float),
    "output_cap": ("AWS_MCP_OUTPUT_CAP", _int),
    "json_indent": ("AWS_MCP_JSON_INDENT", _int),
    "max_concurrency": ("AWS_MCP_MAX_CONCURRENCY", _int),
    "read_only": ("AWS_MCP_READ_ONLY", _bool),
    "allow_services": ("AWS_MCP_ALLOW_SERVICES", _list),
    "deny_services": ("AWS_MCP_DENY_SERVICES", _list),
    "allow_operations": ("AWS_MCP_ALLOW_OPERATIONS", _list),
    "deny_operations": ("AWS_MCP_DENY_OPERATIONS", _list),
    "profile_allowlist": ("AWS_MCP_PROFILES", _list),
    "confirm_writes": ("AWS_MCP_CONFIRM_WRITES", _bool),
    "sensitive_reads": ("AWS_MCP_SENSITIVE_READS", _text),
    "audit_log": ("AWS_MCP_AUDIT_LOG", _path),
    "request_state_keys": ("AWS_MCP_REQUEST_STATE_KEYS", _list),
    "request_state_ttl": ("AWS_MCP_REQUEST_STATE_TTL", _float),
    "sandbox": ("AWS_MCP_SANDBOX", _bool),
    "log_level": ("AWS_MCP_LOG_LEVEL", _text),
}

ENVIRONMENT_VARIABLES = {name: env for name, (env, _) in _ENV.items()}


def load(
    flags: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Settings from flags (highest), then environment, then defaults. Flags set to None are unset."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name, (variable, parse) in _ENV.items():
        raw = env.get(variable)
        if raw is not None and raw != "":
            values[name] = parse(variable, raw)
    for name, value in (flags or {}).items():
        if value is not None:
            if name not in _ENV:
                raise ConfigError(f"unknown setting {name!r}", rule="settings")
            values[name] = value
    if "sensitive_reads" in values:
        values["sensitive_reads"] = str(values["sensitive_reads"]).strip().lower()
    if "log_level" in values:
        values["log_level"] = str(values["log_level"]).upper()
    return Settings(**values)
