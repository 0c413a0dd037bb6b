"""The guards: what never runs, whatever the tool and whatever the classifier says. Pure.

No awscli import and no I/O beyond resolving paths (`os.path.realpath`) against the workdir.
Every guard returns a reject `Verdict` (stable `rule`, one-line `reason`, a `fix`) or None.

    decide(text):
        argv = command.tokenize(text)
        policy.check_argv(argv, settings)          # tokens only: runs before anything parses
        resolved = catalog.resolve(argv)
        policy.check(resolved, settings)           # the command path and parsed arguments
        verdict = classify(resolved)
        policy.check_verdict(verdict, resolved, settings)   # modes: read-only, allow/deny lists
        run policy.local_argv(resolved, settings)  # relative local paths made absolute

Rule ids:
  option:debug, option:no-verify-ssl, option:version, option:profile
  endpoint:not-allowed, endpoint:invalid
  url:fetch
  path:outside-workdir, path:expansion, path:stdin, path:invalid, path:unplaced
  blocked:configure, blocked:history, blocked:login, blocked:subprocess, blocked:stdin,
  blocked:cwd-write, blocked:package-artifacts, blocked:user-config
  mode:read-only, mode:service-denied, mode:operation-denied, mode:not-allowed

Where DESIGN is silent, decided here:
  * `--region` in the command is allowed (it names where to send, not whose credentials); the
    tool's own `region` parameter takes precedence where the server passes both.
  * `--profile` in the command is refused: the tool has a profile parameter, checked against the
    server's profile allow-list; a profile in the command would bypass that check.
  * Local paths containing `$` or starting with `~` are refused: awscli itself expands variables
    and `~` in file:// paths, streaming blob paths and outfiles, so a literal `'$HOME/x'` would
    escape the workdir after every check passed.
  * Option names are matched the way argparse matches them, abbreviations included:
    `--endpoint http://x` is `--endpoint-url`, `--deb` is `--debug`.
"""

from __future__ import annotations

import difflib
import fnmatch
import ipaddress
import json
import ntpath
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any
from urllib.parse import urlsplit

from aws_mcp_server import guard_tables as tables
from aws_mcp_server.errors import ConfigError, PolicyError
from aws_mcp_server.model import Resolved, RunPlan, Verdict, reject
from aws_mcp_server.settings import Settings


@cache
def awscli_facts() -> dict[str, Any]:
    """What the guards know about the installed awscli's command objects (generated data)."""
    text = resources.files("aws_mcp_server").joinpath("data", "awscli_facts.json").read_text("utf-8")
    facts: dict[str, Any] = json.loads(text)
    return facts

PARAMFILE_PREFIXES = ("file://", "fileb://")
"""Values awscli reads from a local file (awscli.paramfile.LOCAL_PREFIX_MAP)."""

URL_PREFIXES = ("http://", "https://")
"""Values awscli v1 fetches (awscli.paramfile.REMOTE_PREFIX_MAP) unless the parameter is exempt."""

_WORKDIR_FIX = (
    "Local files are read and written only in the workdir ({workdir}); write the path relative "
    "to it, e.g. file://policy.json"
)


# --------------------------------------------------------------------------------------------
# Blocked commands


@dataclass(frozen=True)
class _Blocked:
    path: tuple[str, ...]
    rule: str
    reason: str
    fix: str


_SIGN_IN_OUTSIDE = "sign in outside this server, then pass the profile as the tool's parameter"

BLOCKED: tuple[_Blocked, ...] = (
    _Blocked(
        ("configure",),
        "blocked:configure",
        "'configure' prints credentials and writes the AWS config and credentials files",
        "use list_aws_profiles to see the profiles; change configuration outside this server",
    ),
    _Blocked(
        ("history",),
        "blocked:history",
        "'history' reads the local record of past commands, which holds their arguments",
        "ask for the command you need directly",
    ),
    _Blocked(("login",), "blocked:login", "'login' signs in through a browser", _SIGN_IN_OUTSIDE),
    _Blocked(
        ("sso", "login"),
        "blocked:login",
        "'sso login' opens a browser and writes a token cache",
        _SIGN_IN_OUTSIDE,
    ),
    _Blocked(
        ("sso", "logout"),
        "blocked:login",
        "'sso logout' deletes the cached sign-in of every profile",
        "sign out outside this server",
    ),
    _Blocked(
        ("ssm", "start-session"),
        "blocked:subprocess",
        "'ssm start-session' runs session-manager-plugin, an interactive subprocess",
        "run interactive sessions from a terminal; use 'ssm send-command' for a one-off command",
    ),
    _Blocked(
        ("ecs", "execute-command"),
        "blocked:subprocess",
        "'ecs execute-command' runs session-manager-plugin, an interactive subprocess",
        "run interactive sessions from a terminal",
    ),
    *(
        _Blocked(
            ("emr", word),
            "blocked:subprocess",
            f"'emr {word}' runs ssh/scp as a subprocess",
            "use ssh from a terminal",
        )
        for word in ("ssh", "socks", "get", "put")
    ),
    _Blocked(
        ("codeartifact", "login"),
        "blocked:subprocess",
        "'codeartifact login' runs pip/npm/twine/dotnet/nuget and writes their user configuration",
        "use 'codeartifact get-authorization-token' and configure the tool yourself",
    ),
    *(
        _Blocked(
            ("deploy", word),
            "blocked:subprocess",
            f"'deploy {word}' installs or removes the CodeDeploy agent by running system commands",
            "install the agent outside this server",
        )
        for word in ("install", "uninstall")
    ),
    _Blocked(
        ("deploy", "register"),
        "blocked:cwd-write",
        "'deploy register' creates IAM access keys and writes them to codedeploy.onpremises.yml "
        "in the server's working directory",
        "use 'iam create-user' and 'deploy register-on-premises-instance' instead",
    ),
    _Blocked(
        ("codecommit", "credential-helper"),
        "blocked:stdin",
        "'codecommit credential-helper' is a git credential helper: it reads stdin",
        "configure git's credential helper outside this server",
    ),
    _Blocked(
        ("cloudformation", "package"),
        "blocked:package-artifacts",
        "'cloudformation package' uploads every local path the template names, which can be "
        "anywhere on this machine",
        "upload artifacts with 's3 cp' from the workdir and reference their s3:// URLs in the "
        "template",
    ),
)


def _blocked_object(resolved: Resolved) -> Verdict | None:
    """A blocked command recognised by the command object awscli resolved, whatever path reached
    it: awscli hangs CodeDeploy's `register`, `install` and `uninstall` under every command named
    `deploy`, so `cloudformation deploy ... register` runs `deploy register`."""
    marks = awscli_facts()["blocked_classes"]
    operation = f"operation:{resolved.botocore_service}.{resolved.operation_name}"
    for entry in BLOCKED:
        mark = marks.get(" ".join(entry.path))
        if mark is None:
            continue
        if mark == operation or mark in resolved.command_classes:
            reason = entry.reason
            if resolved.command_path[: len(entry.path)] != entry.path:
                reason += f" (`{resolved.command_name}` runs it)"
            return reject(entry.rule, reason, service=resolved.service, fix=entry.fix)
    return None


def _blocked(words: Sequence[str]) -> Verdict | None:
    # Prevents running commands that spawn processes, read stdin, or touch the user's
    # credentials and configuration outside the workdir.
    for entry in BLOCKED:
        if tuple(words[: len(entry.path)]) == entry.path:
            return reject(entry.rule, entry.reason, service=words[0], fix=entry.fix)
    return None


# --------------------------------------------------------------------------------------------
# Argv walking: options are matched the way argparse matches them.


def global_option(token: str) -> str | None:
    """The global option (`endpoint-url`) a token like `--endpoint=x` or `--endp` names, if any."""
    if not token.startswith("--") or token == "--":
        return None
    name = token[2:].split("=", 1)[0]
    if name in tables.GLOBAL_OPTIONS:
        return name
    # argparse accepts any unambiguous prefix of an option (allow_abbrev is on in awscli).
    matches = [option for option in tables.GLOBAL_OPTIONS if option.startswith(name)]
    return matches[0] if len(matches) == 1 and name else None


@dataclass(frozen=True)
class _Item:
    """One value on the command line and the option it belongs to (None for a positional)."""

    index: int
    value: str
    option: str | None
    inline: bool  # given as --option=value


@dataclass(frozen=True)
class _View:
    words: tuple[str, ...]  # the command words: service, operation, subcommand... as written
    globals: tuple[tuple[str, str | None, int], ...]  # (global option, value, token index)
    items: tuple[_Item, ...]  # every non-global value with its owning option


def _walk(argv: Sequence[str], words: Sequence[str] | None = None) -> _View:
    """Split argv into command words, global options and values, without awscli.

    Command words are the non-option tokens before the first command option; when `words` is
    given (from a resolved command), those are used instead.
    """
    found_words: list[str] = []
    found_globals: list[tuple[str, str | None, int]] = []
    items: list[_Item] = []
    owner: str | None = None
    in_command = words is None
    remaining_words = list(words) if words is not None else []
    i = 0
    while i < len(argv):
        token = argv[i]
        name = global_option(token)
        if name is not None:
            takes_value = tables.GLOBAL_OPTIONS[name]
            value: str | None = None
            if "=" in token:
                value = token.split("=", 1)[1]
            elif takes_value and i + 1 < len(argv):
                value = argv[i + 1]
                i += 1
            found_globals.append((name, value, i))
            owner = None
            i += 1
            continue
        if token.startswith("--") and len(token) > 2:
            in_command = False
            option, eq, value = token[2:].partition("=")
            owner = option
            if eq:
                items.append(_Item(i, value, option, True))
            i += 1
            continue
        if remaining_words and token == remaining_words[0]:
            remaining_words.pop(0)
            found_words.append(token)
        elif in_command and owner is None:
            found_words.append(token)
        items.append(_Item(i, token, owner, False))
        i += 1
    return _View(
        tuple(words) if words is not None else tuple(found_words),
        tuple(found_globals),
        tuple(items),
    )


# --------------------------------------------------------------------------------------------
# Local paths


def absolute_in(workdir: str, value: str, pathmod: Any = os.path) -> str:
    """`value` as the absolute path it names when relative paths mean "in the workdir".

    An absolute value (`/etc`, `C:\\x`, `\\\\server\\share`, `\\x` on the workdir's
    drive, `D:x`) replaces the workdir, as the OS would. With this OS's `os.path` symlinks are
    followed; another flavour (`ntpath` on POSIX, for tests) is normalised only.
    """
    joined = pathmod.join(workdir, value)
    if pathmod is os.path:
        return str(os.path.realpath(joined))
    return str(pathmod.normpath(joined))


def contains(
    workdir: str | os.PathLike[str], path: str | os.PathLike[str], pathmod: Any = os.path
) -> bool:
    """True when `path`, symlinks followed, is `workdir` or inside it: the one containment test,
    used before a command runs and by the runtime guards while it runs. Windows rules (drive
    letters, UNC shares, case-insensitive names) apply with `pathmod=ntpath`."""
    flavour = PureWindowsPath if pathmod is ntpath else PurePosixPath
    base = flavour(absolute_in(os.fspath(workdir), "", pathmod))
    real = flavour(absolute_in(os.fspath(workdir), os.fspath(path), pathmod))
    return real == base or real.is_relative_to(base)


def workdir_of(settings: Settings) -> Path:
    """The workdir with symlinks resolved: the one directory local files may live in."""
    return Path(os.path.realpath(settings.workdir))


def local_path(
    value: str, settings: Settings, *, what: str = "local path", pathmod: Any = os.path
) -> Path | Verdict:
    """Resolve a local path the way the engine will use it: relative to the workdir.

    Returns the resolved absolute path (symlinks followed) when it is inside the workdir, or a
    reject verdict. `pathmod=ntpath` judges it by Windows rules (tests run them on any OS).
    """
    workdir = workdir_of(settings) if pathmod is os.path else settings.workdir
    fix = _WORKDIR_FIX.format(workdir=workdir)
    if value == "" or "\x00" in value:
        return reject("path:invalid", f"the {what} is empty", fix=fix)
    if value == "-" or value in ("/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"):
        # Prevents reading the server's stdin: on stdio that is the MCP protocol channel.
        return reject(
            "path:stdin",
            f"the {what} {value!r} is standard input, which this server does not have",
            fix="put the content in a file in the workdir and pass its path",
        )
    if "$" in value or value.startswith("~") or (pathmod is ntpath and "%" in value):
        # awscli expands $VARS and ~ in these paths itself (and %VARS% on Windows):
        # '$HOME/.aws/credentials' would pass a check on the literal text and then read outside
        # the workdir.
        return reject(
            "path:expansion",
            f"the {what} {value!r} contains '$' or starts with '~', which awscli would expand",
            fix=fix,
        )
    resolved = absolute_in(str(workdir), value, pathmod)
    # Prevents '..' escapes, absolute paths (drive letters and UNC shares too) and symlinks
    # inside the workdir that point outside it.
    if not contains(workdir, resolved, pathmod):
        return reject(
            "path:outside-workdir",
            f"the {what} {value!r} is outside the workdir (it resolves to {resolved})",
            fix=fix,
        )
    return Path(resolved)


def _shorthand_files(value: str) -> Iterator[str]:
    """The file:// and fileb:// values of shorthand `key@=...` pairs in a value."""
    for match in re.finditer(r"@\s*=\s*", value):
        rest = value[match.end() :]
        if rest[:1] in ("'", '"'):
            end = rest.find(rest[0], 1)
            candidate = rest[1:end] if end > 0 else rest[1:]
        else:
            candidate = re.split(r"[,\]}]", rest, maxsplit=1)[0].rstrip()
        if candidate.startswith(PARAMFILE_PREFIXES):
            yield candidate


def _paramfile_path(value: str) -> str:
    prefix = next(p for p in PARAMFILE_PREFIXES[::-1] if value.startswith(p))
    return value[len(prefix) :]


def _check_items(view: _View, settings: Settings) -> Verdict | None:
    words = view.words
    command = tuple(words[:3])
    for item in view.items:
        value = item.value
        # file:// and fileb:// values: awscli reads the file and sends its contents.
        if value.startswith(PARAMFILE_PREFIXES):
            found = local_path(_paramfile_path(value), settings, what=f"file in {value!r}")
            if isinstance(found, Verdict):
                return found
        # Shorthand `key@=file://path` loads a file inside a structure value.
        for ref in _shorthand_files(value):
            found = local_path(_paramfile_path(ref), settings, what=f"file in {ref!r}")
            if isinstance(found, Verdict):
                return found
        # awscli v1 fetches http(s):// values with a GET from this machine (SSRF: cloud metadata,
        # internal services), unless the parameter is one that takes a URL as text.
        if value.lower().startswith(URL_PREFIXES) and not _url_is_text(words, item.option):
            if item.option is not None and _endpoint_option(words, item.option):
                continue
            where = f"--{item.option}" if item.option else "a positional argument"
            return reject(
                "url:fetch",
                f"the value of {where} is a URL, and awscli would fetch it from this machine",
                service=words[0] if words else None,
                fix="pass the content itself, or save it to a file in the workdir and pass "
                "file://PATH",
            )
        if item.option is not None and not item.value.startswith(PARAMFILE_PREFIXES):
            mode = _table_option(command, item.option)
            if mode is not None:
                found = local_path(value, settings, what=f"path given to --{item.option}")
                if isinstance(found, Verdict):
                    return found
            if _endpoint_option(words, item.option):
                verdict = check_endpoint(value, settings, option=f"--{item.option}")
                if verdict is not None:
                    return verdict
    return None


def _matches_option(written: str, option: str) -> bool:
    # An abbreviation counts as the option it abbreviates (argparse's allow_abbrev).
    return bool(written) and option.startswith(written)


def _url_is_text(words: Sequence[str], option: str | None) -> bool:
    if option is None or len(words) < 2:
        return False
    for entry in tables.URL_NOT_FETCHED:
        path, name = entry[:-1], entry[-1]
        if tuple(words[: len(path)]) == path and option == name:
            return True
    return False


def _table_option(command: tuple[str, ...], option: str) -> str | None:
    for path, options in tables.LOCAL_PATH_OPTIONS.items():
        if command[: len(path)] == path:
            for name, mode in options.items():
                if _matches_option(option, name):
                    return mode
    for service, operation, name in tables.STREAMING_INPUTS:
        if command[:2] == (service, operation) and _matches_option(option, name):
            return "read"
    return None


def _endpoint_option(words: Sequence[str], option: str) -> bool:
    for path, name in tables.ENDPOINT_OPTIONS.items():
        if tuple(words[: len(path)]) == path and _matches_option(option, name):
            return True
    return False


# --------------------------------------------------------------------------------------------
# Endpoints and global options

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


# --------------------------------------------------------------------------------------------
# Entry points


def check_argv(argv: Sequence[str], settings: Settings) -> Verdict | None:
    """Guards that need only the tokens. Run before anything parses the command.

    Returns a reject verdict or None.
    """
    view = _walk(argv)
    return _check_view(view, settings)


def _check_view(view: _View, settings: Settings) -> Verdict | None:
    verdict = _blocked(view.words)
    if verdict is not None:
        return verdict
    for name, value, _ in view.globals:
        verdict = _check_global(name, value, settings)
        if verdict is not None:
            return verdict
    return _check_items(view, settings)


def check(resolved: Resolved, settings: Settings) -> Verdict | None:
    """Guards that need the resolved command: its path, parsed global options and arguments.

    Returns a reject verdict or None. Includes everything `check_argv` checks, on the exact
    command path.
    """
    path = resolved.command_path or (resolved.service,)
    if resolved.is_help:
        # `help` is rendered in-process and runs nothing; only the global options matter.
        return _check_globals(resolved, settings)
    view = _walk(resolved.argv, path)
    verdict = (
        _blocked_object(resolved)
        or _check_view(view, settings)
        or _check_globals(resolved, settings)
    )
    if verdict is not None:
        return verdict
    for value in _local_values(resolved):
        found = local_path(value, settings, what="local file")
        if isinstance(found, Verdict):
            return found
    if path[:2] == ("eks", "update-kubeconfig") and not resolved.arguments.get("kubeconfig"):
        # Without --kubeconfig it writes ~/.kube/config, outside the workdir.
        return reject(
            "blocked:user-config",
            "'eks update-kubeconfig' writes ~/.kube/config unless --kubeconfig names a file",
            service="eks",
            fix="add --kubeconfig PATH with a path in the workdir",
        )
    return None


def _check_globals(resolved: Resolved, settings: Settings) -> Verdict | None:
    options = resolved.global_options
    checks: list[tuple[str, str | None]] = []
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


def _local_values(resolved: Resolved) -> list[str]:
    """Every local path the resolved command reads or writes, from its parsed arguments."""
    path = resolved.command_path
    values = list(resolved.output_files)
    if not resolved.is_custom:
        # API operations take no positionals except a streaming output file.
        values.extend(resolved.positionals)
    if path[:1] == ("s3",) and len(path) >= 2 and path[1] in tables.S3_TRANSFER_COMMANDS:
        for value in resolved.positionals:
            if value == "-" and resolved.positionals.index(value) == 1:
                continue  # `s3 cp s3://b/k -` writes to the command's output: not a file
            if not value.startswith("s3://"):
                values.append(value)
    for command, options in tables.LOCAL_PATH_OPTIONS.items():
        if tuple(path[: len(command)]) == command:
            for name in options:
                given = resolved.arguments.get(name.replace("-", "_"))
                if isinstance(given, str):
                    values.append(given)
    for service, operation, name in tables.STREAMING_INPUTS:
        if tuple(path[:2]) == (service, operation):
            given = resolved.arguments.get(name.replace("-", "_"))
            if isinstance(given, str):
                values.append(given)
    return values


# --------------------------------------------------------------------------------------------
# Modes


def validate_settings(settings: Settings) -> None:
    """Raise ConfigError for allow/deny entries the mode checks could not use. Call at startup."""
    for field_name in ("allow_operations", "deny_operations"):
        for entry in getattr(settings, field_name):
            service, sep, operation = entry.partition(":")
            if not sep or not service or not operation:
                raise ConfigError(
                    f"{field_name} entry {entry!r} is not SERVICE:OPERATION "
                    "(e.g. ec2:describe-instances, s3:*, iam:Delete*)",
                    rule=f"settings.{field_name}",
                )


def _service_names(resolved: Resolved) -> set[str]:
    names = {resolved.service}
    names.update(n for n in (resolved.botocore_service, resolved.signing_name) if n)
    return {n.lower() for n in names}


def _operation_names(resolved: Resolved) -> set[str]:
    names = {n for n in (resolved.operation, resolved.operation_name) if n}
    if len(resolved.command_path) > 1:
        names.add(" ".join(resolved.command_path[1:]))
    return {n.lower() for n in names}


def _service_listed(entries: Sequence[str], resolved: Resolved) -> bool:
    names = _service_names(resolved)
    return any(fnmatch.fnmatchcase(n, entry.lower()) for entry in entries for n in names)


def _operation_listed(entries: Sequence[str], resolved: Resolved) -> bool:
    services = _service_names(resolved)
    operations = _operation_names(resolved)
    for entry in entries:
        service, _, operation = entry.lower().partition(":")
        if any(fnmatch.fnmatchcase(s, service) for s in services) and any(
            fnmatch.fnmatchcase(o, operation) for o in operations
        ):
            return True
    return False


def client_services(resolved: Resolved) -> tuple[str, ...]:
    """Services (botocore names) whose clients the resolved command may build besides its own:
    what a customization calls (`cloudtrail create-subscription`: s3, sns, sts)."""
    table = awscli_facts()["client_services"]
    found: set[str] = set()
    for name in resolved.command_classes:
        found.update(table.get(name, ()))
    found.discard(resolved.botocore_service or "")
    return tuple(sorted(found))


def _client_names(service: str) -> set[str]:
    names = {service.lower()}
    cli = awscli_facts()["cli_names"].get(service)
    if cli:
        names.add(cli.lower())
    return names


def _client_listed(entries: Sequence[str], service: str, *, operations: bool = False) -> bool:
    names = _client_names(service)
    for entry in entries:
        pattern = entry.lower()
        if operations:
            # A SERVICE:OPERATION entry covers a client only when it allows every operation.
            pattern, _, operation = pattern.partition(":")
            if operation != "*":
                continue
        if any(fnmatch.fnmatchcase(name, pattern) for name in names):
            return True
    return False


def client_refusal(service: str, settings: Settings) -> Verdict | None:
    """The server's service lists applied to one client a command builds (botocore name): the
    same rule `check_verdict` applies before the command runs, checked again as it runs."""
    if _client_listed(settings.deny_services, service):
        return reject(
            "mode:service-denied",
            f"the server denies the {service} service, which this command calls",
            fix="the server's deny list (AWS_MCP_DENY_SERVICES) is set by its operator",
        )
    if (settings.allow_services or settings.allow_operations) and not (
        _client_listed(settings.allow_services, service)
        or _client_listed(settings.allow_operations, service, operations=True)
    ):
        allowed = ", ".join((*settings.allow_services, *settings.allow_operations))
        return reject(
            "mode:not-allowed",
            f"this command calls the {service} service, which is not in the server's allow list "
            f"({allowed})",
            fix=f"the server's operator can add {service} to --allow-services",
        )
    return None


def check_verdict(verdict: Verdict, resolved: Resolved, settings: Settings) -> Verdict:
    """Apply the server's modes to a classifier verdict; returns it, or a reject in its place.

    Deny lists win over allow lists. With any allow list set, a command must match one of them
    (a listed service, or a listed SERVICE:OPERATION; entries are case-insensitive globs, and a
    service matches its CLI name, its botocore name and its IAM prefix, so `s3` covers `s3api`).
    In read-only mode every write is refused. Help is never refused by the lists: it runs nothing.
    """
    if verdict.is_reject:
        return verdict
    where = {"service": verdict.service or resolved.service, "operation": verdict.operation}
    if not resolved.is_help:
        if _service_listed(settings.deny_services, resolved):
            return reject(
                "mode:service-denied",
                f"the server denies the {resolved.service} service",
                fix="the server's deny list (AWS_MCP_DENY_SERVICES) is set by its operator",
                **where,
            )
        if _operation_listed(settings.deny_operations, resolved):
            return reject(
                "mode:operation-denied",
                f"the server denies '{resolved.command_name}'",
                fix="the server's deny list (AWS_MCP_DENY_OPERATIONS) is set by its operator",
                **where,
            )
        if (settings.allow_services or settings.allow_operations) and not (
            _service_listed(settings.allow_services, resolved)
            or _operation_listed(settings.allow_operations, resolved)
        ):
            allowed = ", ".join((*settings.allow_services, *settings.allow_operations))
            return reject(
                "mode:not-allowed",
                f"'{resolved.command_name}' is not in the server's allow list ({allowed})",
                fix="use one of the allowed services or operations",
                **where,
            )
        for service in client_services(resolved):
            # A customization that builds clients of other services (an IAM role, an S3 bucket)
            # is covered by the lists for each of them.
            refusal = client_refusal(service, settings)
            if refusal is not None:
                return reject(
                    refusal.rule,
                    f"`{resolved.command_name}` calls the {service} service, which the server "
                    + ("denies" if refusal.rule == "mode:service-denied" else "does not allow"),
                    fix=refusal.fix,
                    **where,
                )
    if verdict.sensitive and verdict.verdict == "read" and settings.sensitive_reads == "refuse":
        return reject(
            "mode:sensitive-refused",
            f"the server refuses reads that return secrets or credentials-derived values "
            f"({verdict.reason})",
            fix="the server's operator set --sensitive-reads refuse (AWS_MCP_SENSITIVE_READS); "
            "read the secret outside this server",
            **where,
        )
    if settings.read_only and verdict.verdict == "write":
        return reject(
            "mode:read-only",
            f"the server is read-only, and this command is a write ({verdict.reason})",
            fix="only read commands run on this server (AWS_MCP_READ_ONLY)",
            **where,
        )
    return verdict


def as_error(verdict: Verdict) -> PolicyError:
    """A reject verdict as the error the tools raise."""
    return PolicyError(verdict.reason, rule=verdict.rule, fix=verdict.fix)


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


# --------------------------------------------------------------------------------------------
# The run plan


def run_plan(
    resolved: Resolved, argv: Sequence[str], settings: Settings, *, region: str | None = None
) -> RunPlan:
    """What the engine runs for a command that passed the guards, from what resolution found.

    `argv` is `local_argv(resolved, settings)`. Help runs nothing: it gets nothing added. Anything
    else gets the server-wide endpoint on its command line (awscli v1 replaces a configured
    endpoint for sqs, rds, emr, docdb, neptune and health unless `--endpoint-url` is there) unless
    it names its own; `--no-progress` when the command has that option (the progress meter is
    for a terminal); and the tool's `region` last, so that it wins over a `--region` in the
    command (argparse keeps the last).
    """
    run = list(argv)
    if resolved.is_help:
        return RunPlan(argv=tuple(run), is_help=True)
    endpoint = settings.endpoint_url
    if endpoint and resolved.global_options.get("endpoint_url") is None:
        run += ["--endpoint-url", endpoint]
    if "no-progress" in resolved.options:
        run.append("--no-progress")
    if region:
        run += ["--region", region]
    return RunPlan(
        argv=tuple(run),
        endpoint_url=endpoint,
        services=client_services(resolved),
    )


# --------------------------------------------------------------------------------------------
# Rewriting local paths for the engine


def local_argv(resolved: Resolved, settings: Settings) -> tuple[str, ...]:
    """`resolved.argv` with every local path made absolute (resolved inside the workdir).

    The engine's working directory is not the workdir, and awscli resolves relative paths
    against the working directory. Call after `check` passed. Rewrites file:// and fileb://
    values, shorthand `@=file://` references, `--ca-bundle`, the path options of customizations
    and streaming inputs, outfile positionals and the local side of `s3 cp/mv/sync`; for uploads
    from a local directory it adds `--no-follow-symlinks` (awscli follows symlinks by default,
    which would read files the symlinks point at outside the workdir).

    Raises PolicyError (`path:unplaced`) if a local positional cannot be located in argv.
    """
    argv = list(resolved.argv)
    path = resolved.command_path or (resolved.service,)
    view = _walk(argv, path)

    def absolute(value: str) -> str:
        found = local_path(value, settings)
        if isinstance(found, Verdict):
            raise as_error(found)
        text = str(found)
        return (
            text + os.sep if value.endswith(("/", os.sep)) and not text.endswith(os.sep) else text
        )

    def rewrite_refs(value: str) -> str:
        if value.startswith(PARAMFILE_PREFIXES):
            prefix = value[: len(value) - len(_paramfile_path(value))]
            return prefix + absolute(_paramfile_path(value))
        for ref in _shorthand_files(value):
            prefix = ref[: len(ref) - len(_paramfile_path(ref))]
            value = value.replace(ref, prefix + absolute(_paramfile_path(ref)), 1)
        return value

    for name, value, index in view.globals:
        if name == "ca-bundle" and value is not None:
            token = argv[index]
            argv[index] = (
                token.split("=", 1)[0] + "=" + absolute(value) if "=" in token else absolute(value)
            )
    command = tuple(path[:3])
    for item in view.items:
        new = rewrite_refs(item.value)
        if new == item.value and item.option is not None and _table_option(command, item.option):
            new = absolute(item.value)
        if new != item.value:
            token = argv[item.index]
            argv[item.index] = token.split("=", 1)[0] + "=" + new if item.inline else new

    local_positionals = _local_positionals(resolved)
    if local_positionals:
        _rewrite_positionals(argv, resolved, local_positionals, absolute)
    if (
        path[:1] == ("s3",)
        and len(path) >= 2
        and path[1] in tables.S3_TRANSFER_COMMANDS
        and resolved.positionals
        and not resolved.positionals[0].startswith("s3://")
        and (
            path[1] == "sync"
            # `--recursive` parses to dest `dir_op`
            or resolved.arguments.get("dir_op") is True
            or resolved.arguments.get("recursive") is True
        )
    ):
        argv.append("--no-follow-symlinks")
    return tuple(argv)


def _positional_outfile(resolved: Resolved) -> tuple[str, ...]:
    """The positional `outfile` of a streaming-output operation (catalog keeps it in arguments)."""
    outfile = resolved.arguments.get("outfile")
    if (resolved.service, resolved.operation) in tables.STREAMING_OUTFILE_OPERATIONS and isinstance(
        outfile, str
    ):
        return (outfile,)
    return ()


def _local_positionals(resolved: Resolved) -> set[str]:
    path = resolved.command_path
    if not resolved.is_custom:
        return set(resolved.positionals) | set(_positional_outfile(resolved))
    if path[:1] == ("s3",) and len(path) >= 2 and path[1] in tables.S3_TRANSFER_COMMANDS:
        return {p for p in resolved.positionals if not p.startswith("s3://") and p != "-"}
    return set()


def _arity(option: str, arguments: Mapping[str, object], s3: bool) -> int:
    """How many tokens after `--option` are its values, judged from what argparse parsed."""
    if s3 and (
        option in tables.S3_FLAGS
        or len([flag for flag in tables.S3_FLAGS if flag.startswith(option)]) == 1
    ):
        return 0
    dest = option.replace("-", "_")
    candidates = [dest, dest[3:] if dest.startswith("no_") else dest]
    for name in candidates:
        keys = [k for k in arguments if k == name] or [k for k in arguments if k.startswith(name)]
        if len(keys) == 1:
            value = arguments[keys[0]]
            if isinstance(value, bool):
                return 0
            if isinstance(value, list):
                return len(value)
            return 1
    return 1


def _rewrite_positionals(
    argv: list[str],
    resolved: Resolved,
    local: set[str],
    absolute: Callable[[str], str],
) -> None:
    # Replays argparse's split of argv: option values by the arity of what was parsed, command
    # words, and what is left is the positionals. If that disagrees with what argparse found,
    # refuse rather than rewrite the wrong token.
    words = list(resolved.command_path)
    s3 = resolved.command_path[:1] == ("s3",)
    expected = [*resolved.positionals, *_positional_outfile(resolved)]
    positions: list[int] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        name = global_option(token)
        if name is not None:
            i += 1 + (1 if tables.GLOBAL_OPTIONS[name] and "=" not in token else 0)
            continue
        if token.startswith("--") and len(token) > 2:
            i += 1 if "=" in token else 1 + _arity(token[2:], resolved.arguments, s3)
            continue
        if words and token == words[0]:
            words.pop(0)
        else:
            positions.append(i)
        i += 1
    if [argv[i] for i in positions] != expected:
        raise PolicyError(
            "could not locate the command's local paths among its arguments",
            rule="path:unplaced",
            fix="write local paths as absolute paths inside the workdir",
        )
    for index in positions:
        if argv[index] in local:
            argv[index] = absolute(argv[index])
