"""Every error the server raises on purpose, in one tree.

    AwsMcpError              code, message, rule, fix: what went wrong and what to do next
    ├── ConfigError          a flag or environment variable has a value we cannot use
    ├── CommandError         the command was refused before anything was sent
    │   ├── ParseError       it is not a command we can tokenize (shell syntax, quotes, length)
    │   ├── ValidationError  awscli/botocore would not accept it (unknown name, bad value)
    │   └── PolicyError      a guard refused it (local paths, endpoints, blocked commands, modes)
    ├── ProfileError         the profile is unknown or not allowed, or its files do not parse
    ├── CredentialError      the profile's credentials or region could not be had (SSO sign-in,
    │                        MFA, credential_process, no keys, no region)
    └── EngineError          the engine could not run it (too many calls in flight, shutting down)

A tool that ran and failed is not an error here: it is a result with a non-zero exit code.
Each error renders as one short paragraph (`str(err)`) that a model can act on.
"""

from __future__ import annotations


class AwsMcpError(Exception):
    """Base class. `code` is stable across releases; `rule` names what fired; `fix` says what to do."""

    code = "error"

    def __init__(self, message: str, *, rule: str = "", fix: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.rule = rule
        self.fix = fix

    def __str__(self) -> str:
        text = self.message
        if self.fix:
            text = f"{text}\n{self.fix}"
        return text

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "rule": self.rule, "fix": self.fix}


class ConfigError(AwsMcpError):
    code = "config"


class CommandError(AwsMcpError):
    code = "command"


class ParseError(CommandError):
    code = "parse"


class ValidationError(CommandError):
    code = "validation"
    command_path: tuple[str, ...] = ()
    """The command words resolution had identified when it failed (`("sso", "logout")`)."""


class PolicyError(CommandError):
    code = "policy"


class ProfileError(AwsMcpError):
    code = "profile"


class CredentialError(AwsMcpError):
    code = "credentials"


class EngineError(AwsMcpError):
    code = "engine"
