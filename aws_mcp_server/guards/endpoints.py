"""Endpoints and regions: where signed requests may go. Pure.

`--endpoint-url` (and the endpoint options of a few customizations, `--iam-endpoint`) sends
signed requests, with the session token, to any host: only this machine, the server's own
endpoint, or an allow-listed one. A region must be one an AWS partition has.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from urllib.parse import urlsplit

from aws_mcp_server.guards.facts import awscli_facts
from aws_mcp_server.model import Verdict, reject
from aws_mcp_server.settings import Settings

ENDPOINT_OPTIONS: dict[tuple[str, ...], str] = {
    # command path -> option: a URL these customizations send signed IAM requests to.
    ("dlm", "create-default-role"): "iam-endpoint",
    ("emr", "create-default-roles"): "iam-endpoint",
    ("emr-containers", "update-role-trust-policy"): "iam-endpoint",
}


def is_endpoint_option(path: tuple[str, ...], option: str | None) -> bool:
    return any(
        path[: len(command)] == command and option == name
        for command, name in ENDPOINT_OPTIONS.items()
    )


_HOST_CHARS = re.compile(r"[A-Za-z0-9.\-\[\]:]+")


def check_endpoint(
    url: str, settings: Settings, *, option: str = "--endpoint-url"
) -> Verdict | None:
    """Loopback, the server's own endpoint, or an allow-listed one; anything else is refused.

    Prevents sending signed requests (and the session token) to a host the user did not choose.
    Allow-list entries are URLs (`https://vpce-1.s3.us-east-1.vpce.amazonaws.com`) or hosts
    (`localstack`, `localstack:4566`).
    """
    fix = (
        f"{option} may only point at this machine (localhost, 127.0.0.1, ::1) or an endpoint in "
        "the server's allow-list (AWS_MCP_ENDPOINT_ALLOWLIST); drop it to use AWS's own endpoint"
    )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return reject("endpoint:invalid", f"{option} {url!r} is not a valid URL", fix=fix)
    host = parts.hostname or ""
    netloc = parts.netloc
    # '@', '\\' and odd characters are where URL parsers disagree about the host: refuse them.
    if (
        parts.scheme not in ("http", "https")
        or not host
        or "@" in netloc
        or "\\" in url
        or not _HOST_CHARS.fullmatch(netloc)
        or any(c.isspace() for c in url)
    ):
        return reject("endpoint:invalid", f"{option} {url!r} is not a plain http(s) URL", fix=fix)
    # Exactly `localhost`, which the resolver answers from the hosts file; a name under
    # `.localhost` would be looked up in DNS, whose answer can be anything.
    if host.lower() == "localhost":
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass
    allowed = [*settings.endpoint_allowlist]
    if settings.endpoint_url:
        allowed.append(settings.endpoint_url)
    for entry in allowed:
        if _endpoint_matches(entry, parts.scheme, host, port):
            return None
    return reject(
        "endpoint:not-allowed",
        f"{option} {url!r} is not on this machine and not in the server's endpoint allow-list",
        fix=fix,
    )


def _endpoint_matches(entry: str, scheme: str, host: str, port: int | None) -> bool:
    entry = entry.strip().lower()
    if "://" in entry:
        try:
            allowed = urlsplit(entry)
            allowed_scheme, allowed_host, allowed_port = (
                allowed.scheme,
                allowed.hostname,
                allowed.port,
            )
        except ValueError:
            return False
        if allowed_scheme != scheme:
            return False
    else:
        allowed_host, _, port_text = entry.partition(":")
        allowed_port = int(port_text) if port_text.isdigit() else None
        if port_text and allowed_port is None:
            return False
    if (allowed_host or "") != host.lower():
        return False
    return allowed_port is None or allowed_port == (port or _default_port(scheme))


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def check_region(
    region: str, *, source: str = "region", emulator: bool = False
) -> Verdict | None:
    """Refuse a region name no AWS partition has: a typo would reach an endpoint that does not
    exist (AWS), or an emulator that answers with an HTML error page.

    A name botocore does not list but that fits a partition's pattern (a region newer than the
    installed botocore) is let through, except towards an emulator (`emulator`), which knows
    only the listed ones.
    """
    facts = awscli_facts()
    if region in facts["regions"]:
        return None
    if not emulator and any(
        re.fullmatch(pattern.strip("^$"), region) for pattern in facts["region_patterns"]
    ):
        return None
    close = difflib.get_close_matches(region, facts["regions"], n=3, cutoff=0.6)
    hint = ("Did you mean " + " or ".join(f"`{c}`" for c in close) + "? ") if close else ""
    return reject(
        "validation:region",
        f"{source} {region!r} is not an AWS region",
        fix=hint + "Regions look like us-east-1, eu-west-2 or ap-southeast-1.",
    )
