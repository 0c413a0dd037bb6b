"""AWS profiles from the user's config and credentials files: names, regions, kinds. Never secrets.

Honours AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE like the CLI does. The files are looked
at on every call, so a profile added (or a broken file fixed) while the server runs is seen at
once; what they hold is parsed again only when one of them changed (see `_Listed`). A file the
CLI could not read raises `ProfileError` with the file, the line and what is wrong.
"""

from __future__ import annotations

import configparser
import os
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from aws_mcp_server.errors import ProfileError


@dataclass(frozen=True)
class Profile:
    name: str
    region: str | None
    kind: str
    is_default: bool
    source: str  # "config", "credentials" or "config+credentials"

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(env.get("AWS_CONFIG_FILE") or "~/.aws/config").expanduser()


def credentials_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(env.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials").expanduser()


def _read(path: Path) -> configparser.RawConfigParser:
    """The file as botocore reads it; a file botocore could not read raises `ProfileError` naming
    the file, the line and what is wrong there (botocore itself says only "Unable to parse")."""
    parser = configparser.RawConfigParser(interpolation=None)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return parser
    except (OSError, UnicodeDecodeError) as exc:
        raise _file_error(path, 0, str(exc).splitlines()[0], None) from None
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        # The INI parser would read `[profile x` as more of the previous section and then
        # report something confusing further down; the real mistake is here.
        if stripped.startswith("[") and not stripped.endswith("]"):
            raise _file_error(path, lineno, "a [section] header without its closing `]`", line)
    try:
        parser.read_string(text, source=str(path))
    except configparser.MissingSectionHeaderError as exc:
        raise _file_error(
            path, exc.lineno, "a setting before any [section] header", exc.line
        ) from None
    except configparser.ParsingError as exc:
        lineno, line = exc.errors[0] if exc.errors else (0, "")
        raise _file_error(
            path, lineno, "not a `key = value` line or a [section] header", line
        ) from None
    except configparser.DuplicateSectionError as exc:
        raise _file_error(
            path, exc.lineno or 0, f"[{exc.section}] appears a second time", None
        ) from None
    except configparser.DuplicateOptionError as exc:
        raise _file_error(
            path, exc.lineno or 0, f"{exc.option!r} is set twice in [{exc.section}]", None
        ) from None
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise _file_error(path, 0, str(exc).splitlines()[0], None) from None
    return parser


def _file_error(path: Path, lineno: int, what: str, line: str | None) -> ProfileError:
    where = f"{path}, line {lineno}" if lineno else str(path)
    # The line itself is quoted only when it cannot be a secret's value (a header-less key line
    # could be `aws_secret_access_key = ...`): its key, never what follows `=`.
    shown = ""
    if line:
        text = line.strip()
        shown = f": {text.split('=', 1)[0].strip()} = ..." if "=" in text else f": {text[:60]!r}"
    return ProfileError(
        f"the AWS configuration file {where} cannot be read: {what}{shown}",
        rule="profile:config-file",
        fix=f"Fix {path} (the AWS CLI cannot read it either); the server reads it again on the "
        "next call, no restart needed.",
    )


_REGION = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def _region(value: str | None) -> str | None:
    """A region name, or None. An indented line after `region = ...` is, to the INI parser, more
    of the region's value (and can be a secret someone meant as its own key): never shown."""
    if not value:
        return None
    first = value.strip().splitlines()[0].strip() if value.strip() else ""
    return first if len(first) <= 32 and _REGION.fullmatch(first) else None


def _kind(settings: Mapping[str, str]) -> str:
    if "credential_process" in settings:
        return "credential-process"
    if "sso_start_url" in settings or "sso_session" in settings:
        return "sso"
    if "web_identity_token_file" in settings:
        return "web-identity"
    if "role_arn" in settings:
        return "assume-role"
    if "aws_access_key_id" in settings:
        return "static-keys"
    return "config-only"


_SETTLED_NS = 2_000_000_000
"""How long ago a file must have last changed for its parse to be kept: a write within the
file system's timestamp granularity of an earlier one, at the same size, would otherwise look
unchanged (git's "racily clean" entries)."""


def file_version(path: str | Path) -> tuple[object, ...] | None:
    """What changes whenever the file at `path` (`~` and `$VARS` expanded, as botocore does)
    may have changed: its path, device, inode, size, modification and change times; a missing
    file has a version too. None when it cannot be told: the file changed in the last two
    seconds (`_SETTLED_NS`) or cannot be looked at. Whatever is kept by a file's version (the
    profile list, botocore's parse, resolved credentials) is kept only while this is equal."""
    expanded = os.path.expanduser(os.path.expandvars(str(path)))
    try:
        stat = os.stat(expanded)
    except FileNotFoundError:
        return (expanded, "missing")
    except OSError:
        return None
    if time.time_ns() - max(stat.st_mtime_ns, stat.st_ctime_ns) < _SETTLED_NS:
        return None
    return (expanded, stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


class _Listed:
    """The profile list of the last versions of the two files (each call of a tool resolves its
    profile from it: parsing both files was about a millisecond a call). Kept only while
    neither file changed; a file that changed in the last two seconds is always read afresh,
    and a file that cannot be read is never kept (its error is raised again each time)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[object, ...] | None = None
        self._profiles: tuple[Profile, ...] = ()

    def get(self, env: Mapping[str, str]) -> list[Profile]:
        config, credentials = file_version(config_path(env)), file_version(credentials_path(env))
        default = env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE") or "default"
        key = (config, credentials, default) if config and credentials else None
        with self._lock:
            if key is not None and key == self._key:
                return list(self._profiles)
        found = _list_profiles(env)
        if key is not None:
            with self._lock:
                self._key, self._profiles = key, tuple(found)
        return found


_LISTED = _Listed()


def list_profiles(environ: Mapping[str, str] | None = None) -> list[Profile]:
    """Every profile in either file, sorted by name, the default first."""
    return _LISTED.get(os.environ if environ is None else environ)


def _list_profiles(env: Mapping[str, str]) -> list[Profile]:
    config = _read(config_path(env))
    credentials = _read(credentials_path(env))
    merged: dict[str, dict[str, str]] = {}
    sources: dict[str, set[str]] = {}
    for section in config.sections():
        if section == "default":
            name = "default"
        elif section.startswith("profile "):
            name = section[len("profile ") :].strip()
        else:
            continue  # sso-session, services, plugins, ...
        merged.setdefault(name, {}).update(dict(config.items(section)))
        sources.setdefault(name, set()).add("config")
    for name in credentials.sections():
        values = dict(credentials.items(name))
        target = merged.setdefault(name, {})
        for key, value in values.items():
            target.setdefault(key, value)
        sources.setdefault(name, set()).add("credentials")
    default = env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE") or "default"
    profiles = [
        Profile(
            name=name,
            region=_region(values.get("region")),
            kind=_kind(values),
            is_default=name == default,
            source="+".join(sorted(sources[name])),
        )
        for name, values in merged.items()
    ]
    profiles.sort(key=lambda p: (not p.is_default, p.name))
    return profiles


def files_problem(environ: Mapping[str, str] | None = None) -> ProfileError | None:
    """The first reason the config or credentials file cannot be read, or None."""
    env = os.environ if environ is None else environ
    for path in (config_path(env), credentials_path(env)):
        try:
            _read(path)
        except ProfileError as err:
            return err
    return None


def _unknown(profile: str, known: Mapping[str, Profile], env: Mapping[str, str]) -> ProfileError:
    names = ", ".join(sorted(known))
    if not names:
        names = f"none (there are no profiles in {config_path(env)} or {credentials_path(env)})"
    return ProfileError(
        f"unknown profile {profile!r}",
        rule="profile:unknown",
        fix=f"Known profiles: {names}. Call list_aws_profiles to see their regions.",
    )


def resolve(
    profile: str | None,
    region: str | None,
    *,
    allowlist: tuple[str, ...] = (),
    environ: Mapping[str, str] | None = None,
) -> tuple[str | None, str | None]:
    """The (profile, region) a call runs with; `ProfileError` when the profile is unknown or not
    allowed, or the files cannot be read.

    Region, first found: the tool's `region`; the named profile's own region; `AWS_REGION` (which
    AWS CLI v2 and the SDKs honour, above `AWS_DEFAULT_REGION`); then None, and botocore's own
    order applies (`AWS_DEFAULT_REGION`, the default profile's region). `AWS_PROFILE` names the
    default profile; an unknown one is refused with the list of known profiles.
    """
    env = os.environ if environ is None else environ
    known = {p.name: p for p in list_profiles(env)}
    ambient_region = env.get("AWS_REGION") or None
    if profile is None:
        ambient = env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE")
        if ambient and ambient not in known:
            raise _unknown(ambient, known, env)
        if allowlist and (ambient or "default") not in allowlist:
            raise ProfileError(
                f"the default profile {ambient or 'default'!r} is not in the server's "
                "profile allow-list",
                rule="profile:not-allowed",
                fix=f"Pass profile= one of: {', '.join(allowlist)}.",
            )
        return None, region or ambient_region
    if profile not in known:
        raise _unknown(profile, known, env)
    if allowlist and profile not in allowlist:
        raise ProfileError(
            f"profile {profile!r} is not in the server's profile allow-list",
            rule="profile:not-allowed",
            fix=f"Allowed profiles: {', '.join(allowlist)}.",
        )
    return profile, region or known[profile].region or ambient_region


def no_credentials_hint(environ: Mapping[str, str] | None = None) -> str | None:
    """One line for start-up when there is nothing to sign with, or None when there is."""
    env = os.environ if environ is None else environ
    if env.get("AWS_ACCESS_KEY_ID") or env.get("AWS_WEB_IDENTITY_TOKEN_FILE"):
        return None
    if env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") or env.get(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI"
    ):
        return None
    try:
        found = list_profiles(env)
    except ProfileError as err:
        return str(err).replace("\n", " ")
    if found:
        return None
    return (
        f"no AWS profiles or credentials found (looked in {config_path(env)}, "
        f"{credentials_path(env)} and the environment): add a profile with `aws configure` in a "
        "terminal, or try the server with --sandbox"
    )
