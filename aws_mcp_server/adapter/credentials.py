"""AWS credentials for calls: resolved once per profile, shared, and explained when they fail.

Every call has a fresh botocore session (a reused one keeps the previous call's region and
profile), so botocore would run the whole credential chain on every call: an AssumeRole, an SSO
portal request or a `credential_process` run per tool call. Instead each profile's credentials
object is resolved once and shared by every later call with the same profile and the same
config files (`SharedCredentials`). botocore's refreshable credentials refresh themselves before
they expire, under their own lock, so concurrent calls share one refresh.

What the credential chain would otherwise do that a server must not:
  * ask for an MFA code on the terminal (`getpass`, or stdin: on stdio the protocol channel);
  * run `credential_process` with the server's stdin;
  * write assumed-role credentials to `~/.aws/cli/cache` (awscli's file cache): kept in memory;
  * answer a missing SSO token, a failing process or a missing region with botocore's raw
    message (or, through a refresh warning, a traceback).

Each failure becomes a `CredentialError` that names the profile and what to do.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import Any

import aws_mcp_server.adapter  # noqa: F401  (awscli before botocore)

# isort: split
import botocore.credentials
import botocore.exceptions

from aws_mcp_server.errors import CredentialError

MAX_PROFILES = 64
"""Credentials objects kept (one per profile and config-file version); the oldest goes first."""

_ENV_CREDENTIALS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_SESSION_NAME",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
)


def _file_version(path: str | None) -> Hashable:
    from aws_mcp_server import profiles

    if not path:
        return None
    version = profiles.file_version(path)
    # A file that may be changing right now: a key no other call has, so nothing is shared.
    return version if version is not None else object()


def credentials_key(session: Any, endpoint: str | None) -> Hashable:
    """Everything that decides which credentials a session resolves: the profile, the config and
    credentials files as they are now (a changed file resolves afresh, see
    `profiles.file_version`), the credential variables of the environment, and the endpoint its
    STS and SSO requests go to."""
    return (
        session.profile,
        _file_version(session.get_config_variable("config_file")),
        _file_version(session.get_config_variable("credentials_file")),
        tuple(os.environ.get(name) for name in _ENV_CREDENTIALS),
        endpoint,
    )


class SharedCredentials:
    """One credentials object per key, resolved by the first call that needs it (the others wait
    for it rather than resolving again). Failures are not kept: the next call tries again."""

    def __init__(self, limit: int = MAX_PROFILES) -> None:
        self._limit = limit
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._locks: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()
        self.resolutions = 0
        """How many times a credential chain was run (for tests and benchmarks)."""

    def get(self, key: Hashable, resolve: Callable[[], Any]) -> Any:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            with self._lock:
                found = self._entries.get(key)
            if found is not None:
                return found
            self.resolutions += 1
            credentials = resolve()
            if credentials is None:
                return None
            with self._lock:
                self._entries[key] = credentials
                while len(self._entries) > self._limit:
                    oldest, _ = self._entries.popitem(last=False)
                    self._locks.pop(oldest, None)
            return credentials

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._locks.clear()


SHARED = SharedCredentials()


# --- what the chain may not do ------------------------------------------------------------------


class _MfaRequired(Exception):
    def __init__(self, serial: str) -> None:
        super().__init__(serial)
        self.serial = serial


def _no_mfa_prompt(prompt: str = "", *args: Any, **kwargs: Any) -> str:
    # botocore asks `Enter MFA code for arn:...:` on the terminal; there is none to ask.
    serial = prompt.removeprefix("Enter MFA code for ").rstrip(": ")
    raise _MfaRequired(serial)


class _ProcessRun:
    """`subprocess.Popen` for `credential_process`: no stdin (on stdio that is the protocol
    channel), and the exit status remembered for the error message."""

    def __init__(self) -> None:
        self.returncode: int | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["stdin"] = subprocess.DEVNULL
        process = subprocess.Popen(*args, **kwargs)
        runner = self
        communicate = process.communicate

        def communicate_and_record(*a: Any, **k: Any) -> Any:
            out = communicate(*a, **k)
            runner.returncode = process.returncode
            return out

        process.communicate = communicate_and_record  # type: ignore[method-assign]
        return process


def harden(resolver: Any) -> Any:
    """Make a botocore credential resolver safe to run in a server; returns it."""
    assume_role = resolver.get_provider("assume-role")
    if assume_role is not None:
        assume_role.cache = {}
        assume_role._prompter = _no_mfa_prompt
    web_identity = resolver.get_provider("assume-role-with-web-identity")
    if web_identity is not None:
        web_identity.cache = {}
    process = resolver.get_provider("custom-process")
    if process is not None:
        process._popen = _ProcessRun()
    return resolver


# --- failures, explained ------------------------------------------------------------------------


def _files(session: Any) -> tuple[str, str]:
    config = os.path.expanduser(session.get_config_variable("config_file") or "~/.aws/config")
    credentials = os.path.expanduser(
        session.get_config_variable("credentials_file") or "~/.aws/credentials"
    )
    return config, credentials


def explain(exc: BaseException, session: Any, resolver: Any = None) -> CredentialError | None:
    """The `CredentialError` for a failure of the credential chain or of region resolution, or
    None when `exc` is not one we can explain better than botocore."""
    profile = session.profile or "default"
    config, credentials = _files(session)
    errors = botocore.exceptions
    if isinstance(exc, _MfaRequired) or isinstance(exc.__context__, _MfaRequired):
        cause = exc if isinstance(exc, _MfaRequired) else exc.__context__
        serial = getattr(cause, "serial", "") or "the profile's mfa_serial"
        return CredentialError(
            f"profile {profile!r} assumes a role that needs an MFA code ({serial}), and no code "
            "can be typed here",
            rule="credentials:mfa",
            fix=(
                "Use a profile with session credentials instead: in a terminal run "
                f"`aws sts get-session-token --serial-number {serial} --token-code CODE`, put the "
                "returned keys (with aws_session_token) into a profile in "
                f"{credentials}, and pass that profile; or use a role profile whose source "
                "credentials need no MFA."
            ),
        )
    if isinstance(exc, errors.SSOError | errors.TokenRetrievalError) or (
        isinstance(exc, errors.CredentialRetrievalError) and "sso" in str(exc).lower()
    ):
        return CredentialError(
            f"the SSO sign-in of profile {profile!r} is missing or has expired",
            rule="credentials:sso-login",
            fix=f"Run `aws sso login --profile {profile}` in a terminal, then retry.",
        )
    if isinstance(exc, errors.CredentialRetrievalError) and "custom-process" in str(exc):
        run = getattr(resolver.get_provider("custom-process"), "_popen", None) if resolver else None
        status = getattr(run, "returncode", None)
        detail = str(exc).split(":", 1)[1].strip() if ":" in str(exc) else ""
        first = detail.splitlines()[0].strip() if detail else ""
        if status not in (None, 0):
            what = f"exited with status {status}" + (f": {first}" if first else " (no message)")
        else:
            # It exited 0 but did not print the credentials document; stdout is never quoted
            # (it may hold secrets).
            what = "did not print a valid credentials document"
        return CredentialError(
            f"the credential_process of profile {profile!r} {what}",
            rule="credentials:process",
            fix="Run the profile's credential_process command in a terminal to see why; "
            f"it is set in {config}.",
        )
    if isinstance(exc, ValueError) and resolver is not None and _is_process_profile(session):
        # botocore parses the process's stdout as JSON without catching the error.
        return CredentialError(
            f"the credential_process of profile {profile!r} did not print a valid credentials "
            "document",
            rule="credentials:process",
            fix="Run the profile's credential_process command in a terminal to see why; "
            f"it is set in {config}.",
        )
    if isinstance(exc, errors.CredentialRetrievalError) and "credential_source" in str(exc):
        return CredentialError(
            f"profile {profile!r} takes its source credentials from its credential_source, "
            "and none were found there",
            rule="credentials:missing",
            fix=(
                "For credential_source = Environment, set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY in the server's environment; for Ec2InstanceMetadata or "
                "EcsContainer, run the server where that endpoint answers; or use source_profile "
                f"in {config}."
            ),
        )
    if isinstance(exc, errors.NoCredentialsError | errors.PartialCredentialsError) or (
        isinstance(exc, errors.CredentialRetrievalError) and "No credentials found" in str(exc)
    ):
        return CredentialError(
            f"No AWS credentials found for profile {profile!r} (looked in the environment, "
            f"{credentials} and {config})",
            rule="credentials:missing",
            fix=(
                f"Add aws_access_key_id and aws_secret_access_key to [{profile}] in {credentials}, "
                "pass another profile (list_aws_profiles shows them), or start the server with "
                "--sandbox to try it without an AWS account."
            ),
        )
    if isinstance(exc, errors.NoRegionError):
        return CredentialError(
            f"no region for profile {profile!r}",
            rule="credentials:no-region",
            fix=(
                "Pass the tool's `region` parameter (e.g. us-east-1), or set `region` in the "
                f"profile in {config}."
            ),
        )
    if isinstance(exc, errors.ProfileNotFound):
        return CredentialError(
            str(exc),
            rule="profile:unknown",
            fix="Call list_aws_profiles for the profiles this server knows.",
        )
    return None


def _is_process_profile(session: Any) -> bool:
    try:
        scoped: Mapping[str, Any] = session.get_scoped_config()
    except botocore.exceptions.BotoCoreError:
        return False
    return "credential_process" in scoped


def translating(refresh: Callable[[], Any], session: Any, resolver: Any) -> Callable[[], Any]:
    """`refresh` (a refreshable credentials' fetcher) with its failures explained."""

    def refresh_explained() -> Any:
        try:
            return refresh()
        except Exception as exc:
            better = explain(exc, session, resolver)
            if better is None:
                raise
            raise better from None

    return refresh_explained


REFUSED_CODES = (
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
    "AuthFailure",
    "InvalidToken",
)
"""Error codes with which AWS refuses the credentials themselves."""

SOURCES = {
    "env": "environment variables",
    "shared-credentials-file": "the credentials file",
    "config-file": "the config file",
    "assume-role": "an assumed role",
    "assume-role-with-web-identity": "a web identity role",
    "sso": "SSO",
    "custom-process": "its credential_process",
    "container-role": "the container credentials endpoint",
    "iam-role": "the instance metadata service",
}


def refused_note(stderr: str, profile: str | None, method: str | None) -> str | None:
    """A line saying whose credentials AWS refused, when the error says it refused them."""
    if not any(f"({code})" in stderr for code in REFUSED_CODES):
        return None
    source = SOURCES.get(method or "", method or "unknown source")
    name = profile or "default"
    return (
        f"AWS refused the credentials of profile {name!r} (from {source}). Refresh or replace "
        "them (for SSO: `aws sso login --profile NAME` in a terminal), or pass another profile."
    )


_AWSCLI_NO_REGION = "You must specify a region."
_AWSCLI_NO_CREDENTIALS = "Unable to locate credentials."


def explain_stderr(stderr: str, profile: str | None, method: str | None) -> str:
    """A failed call's stderr with awscli's advice replaced where we know better: no region
    (awscli says to run `aws configure`, which this server refuses), refused credentials."""
    name = profile or "default"
    if _AWSCLI_NO_CREDENTIALS in stderr:
        config = os.path.expanduser(os.environ.get("AWS_CONFIG_FILE") or "~/.aws/config")
        keys = os.path.expanduser(
            os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials"
        )
        lines = [line for line in stderr.splitlines() if _AWSCLI_NO_CREDENTIALS not in line]
        lines += [
            f"No AWS credentials found for profile {name!r} (looked in the environment, {keys} "
            f"and {config}).",
            f"Add aws_access_key_id and aws_secret_access_key to [{name}] in {keys}, pass another "
            "profile (list_aws_profiles shows them), or start the server with --sandbox to try it "
            "without an AWS account.",
        ]
        return "\n".join(line for line in lines if line.strip()) + "\n"
    if _AWSCLI_NO_REGION in stderr:
        config = os.path.expanduser(os.environ.get("AWS_CONFIG_FILE") or "~/.aws/config")
        lines = [line for line in stderr.splitlines() if _AWSCLI_NO_REGION not in line]
        lines += [
            f"No region for profile {name!r}.",
            "Pass the tool's `region` parameter (e.g. us-east-1), or set `region` in the "
            f"profile in {config}.",
        ]
        return "\n".join(line for line in lines if line.strip()) + "\n"
    note = refused_note(stderr, profile, method)
    if note is not None:
        return stderr.rstrip("\n") + "\n" + note + "\n"
    return stderr
