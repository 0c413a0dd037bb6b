"""Commands that never run, and global options that are refused, whatever the tool. Pure.

A blocked command is recognised by the command object awscli resolved (`Resolved.
command_classes`, matched against the classes the generated facts record for each blocked
path), so a blocked command is blocked by whatever path reaches it: awscli hangs CodeDeploy's
`install`, `uninstall` and `register` under every command named `deploy`.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_mcp_server.guards.endpoints import check_endpoint
from aws_mcp_server.guards.facts import awscli_facts
from aws_mcp_server.guards.paths import local_path
from aws_mcp_server.model import Resolved, Verdict, reject
from aws_mcp_server.settings import Settings


@dataclass(frozen=True)
class Blocked:
    path: tuple[str, ...]
    rule: str
    reason: str
    fix: str


_SIGN_IN_OUTSIDE = "sign in outside this server, then pass the profile as the tool's parameter"

BLOCKED: tuple[Blocked, ...] = (
    Blocked(
        ("configure",),
        "blocked:configure",
        "'configure' prints credentials and writes the AWS config and credentials files",
        "use list_aws_profiles to see the profiles; change configuration outside this server",
    ),
    Blocked(
        ("history",),
        "blocked:history",
        "'history' reads the local record of past commands, which holds their arguments",
        "ask for the command you need directly",
    ),
    Blocked(("login",), "blocked:login", "'login' signs in through a browser", _SIGN_IN_OUTSIDE),
    Blocked(
        ("sso", "login"),
        "blocked:login",
        "'sso login' opens a browser and writes a token cache",
        _SIGN_IN_OUTSIDE,
    ),
    Blocked(
        ("sso", "logout"),
        "blocked:login",
        "'sso logout' deletes the cached sign-in of every profile",
        "sign out outside this server",
    ),
    Blocked(
        ("ssm", "start-session"),
        "blocked:subprocess",
        "'ssm start-session' runs session-manager-plugin, an interactive subprocess",
        "run interactive sessions from a terminal; use 'ssm send-command' for a one-off command",
    ),
    Blocked(
        ("ecs", "execute-command"),
        "blocked:subprocess",
        "'ecs execute-command' runs session-manager-plugin, an interactive subprocess",
        "run interactive sessions from a terminal",
    ),
    *(
        Blocked(
            ("emr", word),
            "blocked:subprocess",
            f"'emr {word}' runs ssh/scp as a subprocess",
            "use ssh from a terminal",
        )
        for word in ("ssh", "socks", "get", "put")
    ),
    Blocked(
        ("codeartifact", "login"),
        "blocked:subprocess",
        "'codeartifact login' runs pip/npm/twine/dotnet/nuget and writes their user configuration",
        "use 'codeartifact get-authorization-token' and configure the tool yourself",
    ),
    *(
        Blocked(
            ("deploy", word),
            "blocked:subprocess",
            f"'deploy {word}' installs or removes the CodeDeploy agent by running system commands",
            "install the agent outside this server",
        )
        for word in ("install", "uninstall")
    ),
    Blocked(
        ("deploy", "register"),
        "blocked:cwd-write",
        "'deploy register' creates IAM access keys and writes them to codedeploy.onpremises.yml "
        "in the server's working directory",
        "use 'iam create-user' and 'deploy register-on-premises-instance' instead",
    ),
    Blocked(
        ("codecommit", "credential-helper"),
        "blocked:stdin",
        "'codecommit credential-helper' is a git credential helper: it reads stdin",
        "configure git's credential helper outside this server",
    ),
    Blocked(
        ("cloudformation", "package"),
        "blocked:package-artifacts",
        "'cloudformation package' uploads every local path the template names, which can be "
        "anywhere on this machine",
        "upload artifacts with 's3 cp' from the workdir and reference their s3:// URLs in the "
        "template",
    ),
)


def blocked(resolved: Resolved) -> Verdict | None:
    """A blocked command, recognised by the command object awscli resolved (or, for a blocked
    command this awscli does not have, by its words)."""
    marks = awscli_facts()["blocked_classes"]
    operation = f"operation:{resolved.botocore_service}.{resolved.operation_name}"
    for entry in BLOCKED:
        mark = marks.get(" ".join(entry.path))
        if mark is None:
            hit = resolved.command_path[: len(entry.path)] == entry.path
        else:
            hit = mark == operation or mark in resolved.command_classes
        if hit:
            reason = entry.reason
            if resolved.command_path[: len(entry.path)] != entry.path:
                reason += f" (`{resolved.command_name}` runs it)"
            return reject(entry.rule, reason, service=resolved.service or None, fix=entry.fix)
    return None


def blocked_path(path: tuple[str, ...]) -> Verdict | None:
    """A blocked command recognised by its command words alone: for a command that did not
    resolve (a missing option must not read as "add it and retry")."""
    for entry in BLOCKED:
        if path[: len(entry.path)] == entry.path:
            return reject(entry.rule, entry.reason, service=path[0], fix=entry.fix)
    return None


def check_globals(resolved: Resolved, settings: Settings) -> Verdict | None:
    """The global options, as argparse parsed them (abbreviations included: `--deb` is
    `--debug`)."""
    options = resolved.global_options
    checks: list[tuple[str, str | None]] = []
    if options.get("version"):
        checks.append(("version", None))
    if options.get("debug"):
        checks.append(("debug", None))
    if options.get("verify_ssl") is False:
        checks.append(("no-verify-ssl", None))
    if options.get("profile"):
        checks.append(("profile", None))
    if options.get("endpoint_url") is not None:
        checks.append(("endpoint-url", str(options["endpoint_url"])))
    if options.get("ca_bundle") is not None:
        checks.append(("ca-bundle", str(options["ca_bundle"])))
    for name, value in checks:
        verdict = _check_global(name, value, settings)
        if verdict is not None:
            return verdict
    return None


def _check_global(name: str, value: str | None, settings: Settings) -> Verdict | None:
    if name == "debug":
        # --debug logs request signatures, headers and bodies; it also adds log handlers to the
        # process for good.
        return reject(
            "option:debug",
            "--debug logs credentials and signed requests",
            fix="remove --debug; the error message of a failed command is returned to you",
        )
    if name == "no-verify-ssl":
        # Prevents a man in the middle from reading the signed requests and their answers.
        return reject(
            "option:no-verify-ssl",
            "--no-verify-ssl turns off certificate checks",
            fix="remove it; for a local endpoint with its own CA, put the CA file in the workdir "
            "and pass --ca-bundle PATH",
        )
    if name == "version":
        return reject(
            "option:version",
            "--version exits instead of running a command",
            fix="the server's awscli version is in its startup log; run a command instead",
        )
    if name == "profile":
        # The tool's profile parameter is checked against the server's profile allow-list; a
        # profile in the command would go around that check.
        return reject(
            "option:profile",
            "--profile is not accepted in the command",
            fix="pass the profile as the tool's 'profile' parameter instead",
        )
    if name == "endpoint-url":
        return check_endpoint(value or "", settings)
    if name == "ca-bundle":
        found = local_path(value or "", settings, what="--ca-bundle file")
        return found if isinstance(found, Verdict) else None
    return None
