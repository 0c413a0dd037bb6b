"""AWS profiles from the user's config and credentials files: names, regions, kinds. Never secrets.

Honours AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE like the CLI does. The files are read on
every call, so a profile added while the server runs is seen at once.
"""

from __future__ import annotations

import configparser
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from aws_mcp_server.errors import ProfileError

KINDS = ("static-keys", "sso", "assume-role", "web-identity", "credential-process", "config-only")


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
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        # A file the CLI could not read either: treat it as empty rather than failing every call.
        return configparser.RawConfigParser()
    return parser


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


def list_profiles(environ: Mapping[str, str] | None = None) -> list[Profile]:
    """Every profile in either file, sorted by name, the default first."""
    env = os.environ if environ is None else environ
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


def resolve(
    profile: str | None,
    region: str | None,
    *,
    allowlist: tuple[str, ...] = (),
    environ: Mapping[str, str] | None = None,
) -> tuple[str | None, str | None]:
    """The (profile, region) a call runs with.

    An explicit region always wins. A named profile brings its own configured region, not an
    ambient AWS_REGION. With neither, both stay None and the usual AWS defaults apply.
    """
    env = os.environ if environ is None else environ
    if profile is None:
        if allowlist:
            ambient = env.get("AWS_PROFILE") or "default"
            if ambient not in allowlist:
                raise ProfileError(
                    f"the default profile {ambient!r} is not in the server's profile allow-list",
                    rule="profile.allowlist",
                    fix=f"Pass profile= one of: {', '.join(allowlist)}.",
                )
        return None, region
    known = {p.name: p for p in list_profiles(env)}
    if profile not in known:
        names = ", ".join(sorted(known)) or "(none: the config and credentials files are empty)"
        raise ProfileError(
            f"unknown profile {profile!r}",
            rule="profile.unknown",
            fix=f"Known profiles: {names}. Call list_aws_profiles to see their regions.",
        )
    if allowlist and profile not in allowlist:
        raise ProfileError(
            f"profile {profile!r} is not in the server's profile allow-list",
            rule="profile.allowlist",
            fix=f"Allowed profiles: {', '.join(allowlist)}.",
        )
    return profile, region or known[profile].region
