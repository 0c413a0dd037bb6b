"""Local paths: read and written only inside one workdir. Pure (no awscli, no I/O but realpath).

Relative paths mean "in the workdir"; `..` escapes, absolute paths elsewhere (drive letters and
UNC shares on Windows too) and symlinks pointing out are refused; `$VARS` and `~`, which awscli
would expand after any check on the literal text, are refused. `contains` is the one
containment test, used here before a command runs and by the runtime guards while it runs.

Which values are local paths comes from resolution (`Resolved.values`): streaming inputs and
outfiles by their awscli argument type, the local side of `s3 cp/mv/sync`, the path options of a
few customizations (`LOCAL_PATH_OPTIONS`, curated), `--ca-bundle`. `local_argv` rewrites them,
by their index in argv, to absolute paths in the workdir. `file://` values need no rewrite:
awscli's loader (patched, see the adapter) reads them relative to the workdir itself.
"""

from __future__ import annotations

import ntpath
import os
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from aws_mcp_server.errors import PolicyError
from aws_mcp_server.model import ArgValue, Resolved, Verdict, reject
from aws_mcp_server.settings import Settings

PARAMFILE_PREFIXES = ("file://", "fileb://")
"""Values awscli reads from a local file (awscli.paramfile.LOCAL_PREFIX_MAP)."""

S3_TRANSFER_COMMANDS = frozenset({"cp", "mv", "sync"})
"""`aws s3 <cmd> SRC DEST`: a side that does not start with s3:// is a local path."""

LOCAL_PATH_OPTIONS: dict[tuple[str, ...], dict[str, str]] = {
    # command path -> {option: "read" | "write"}: options whose value is a local path that a
    # customization opens itself (no file:// prefix, so awscli's loader never sees it).
    ("cloudformation", "deploy"): {"template-file": "read"},
    ("cloudformation", "package"): {"template-file": "read", "output-template-file": "write"},
    ("ec2", "get-password-data"): {"priv-launch-key": "read"},
    ("ecs", "deploy"): {"task-definition": "read", "codedeploy-appspec": "read"},
    ("deploy", "push"): {"source": "read"},
    ("gamelift", "upload-build"): {"build-root": "read"},
    ("gamelift", "get-game-session-log"): {"save-as": "write"},
    ("servicecatalog", "generate", "product"): {"file-path": "read"},
    ("servicecatalog", "generate", "provisioning-artifact"): {"file-path": "read"},
    ("iam", "create-virtual-mfa-device"): {"outfile": "write"},
    ("iot", "create-keys-and-certificate"): {
        "certificate-pem-outfile": "write",
        "public-key-outfile": "write",
        "private-key-outfile": "write",
    },
    ("iot", "create-certificate-from-csr"): {"certificate-pem-outfile": "write"},
    ("eks", "update-kubeconfig"): {"kubeconfig": "write"},
}

_WORKDIR_FIX = (
    "Local files are read and written only in the workdir ({workdir}); write the path relative "
    "to it, e.g. file://policy.json"
)


def path_option(path: tuple[str, ...], option: str | None) -> str | None:
    """"read"/"write" when `option` of the command at `path` is a local path it opens itself."""
    if option is None:
        return None
    for command, options in LOCAL_PATH_OPTIONS.items():
        if path[: len(command)] == command and option in options:
            return options[option]
    return None


def is_path_option(command_word: str, option: str) -> bool:
    """The same table for the runtime guard, which knows only the command's own word."""
    return any(
        command[-1] == command_word and option in options
        for command, options in LOCAL_PATH_OPTIONS.items()
    )


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


def is_s3_transfer(resolved: Resolved) -> bool:
    path = resolved.command_path
    return path[:1] == ("s3",) and len(path) >= 2 and path[1] in S3_TRANSFER_COMMANDS


def local_values(resolved: Resolved) -> list[ArgValue]:
    """The values of `resolved` that are local paths awscli opens itself, in argv order."""
    path = resolved.command_path
    found: list[ArgValue] = []
    transfer = is_s3_transfer(resolved)
    s3_paths = [v for v in resolved.values if v.scope == "command" and v.dest == "paths"]
    for value in resolved.values:
        if value.scope == "global":
            if value.option == "ca-bundle":
                found.append(value)
            continue
        if value.kind in ("streaming-input", "outfile") or path_option(path, value.option):
            found.append(value)
        elif transfer and value.dest == "paths":
            if value.text.startswith("s3://"):
                continue
            if value.text == "-" and len(s3_paths) == 2 and value is s3_paths[1]:
                continue  # `s3 cp s3://b/k -` writes to the command's output: not a file
            found.append(value)
    return found


def check(resolved: Resolved, settings: Settings) -> Verdict | None:
    """Every local path the command names, inside the workdir: `file://` values (awscli's
    loader checks them again as it reads them) and the paths awscli opens itself."""
    for value in resolved.values:
        if value.kind == "url-text" or not value.text.startswith(PARAMFILE_PREFIXES):
            continue
        prefix = next(p for p in PARAMFILE_PREFIXES[::-1] if value.text.startswith(p))
        found = local_path(value.text[len(prefix) :], settings, what=f"file in {value.text!r}")
        if isinstance(found, Verdict):
            return found
    for value in local_values(resolved):
        what = f"path given to --{value.option}" if value.option else "local file"
        found = local_path(value.text, settings, what=what)
        if isinstance(found, Verdict):
            return found
    if resolved.command_path[:2] == ("eks", "update-kubeconfig") and not any(
        v.option == "kubeconfig" for v in resolved.values
    ):
        # Without --kubeconfig it writes ~/.kube/config, outside the workdir.
        return reject(
            "blocked:user-config",
            "'eks update-kubeconfig' writes ~/.kube/config unless --kubeconfig names a file",
            service="eks",
            fix="add --kubeconfig PATH with a path in the workdir",
        )
    return None


def local_argv(resolved: Resolved, settings: Settings) -> tuple[str, ...]:
    """`resolved.argv` with every local path awscli opens itself made absolute inside the
    workdir, edited by its index in argv: awscli resolves those against the process's working
    directory, which need not be the workdir. Call after `check` passed.

    For an upload of a local directory (`s3 sync`, `s3 cp/mv --recursive`) it adds
    `--no-follow-symlinks`: awscli follows symlinks by default, which would read files they point
    at outside the workdir.
    """
    argv = list(resolved.argv)
    for value in local_values(resolved):
        found = local_path(value.text, settings)
        if isinstance(found, Verdict):
            raise PolicyError(found.reason, rule=found.rule, fix=found.fix)
        text = str(found)
        if value.text.endswith(("/", os.sep)) and not text.endswith(os.sep):
            text += os.sep  # a directory stays one (s3 cp --recursive, s3 sync)
        if value.inline:
            argv[value.index] = argv[value.index].split("=", 1)[0] + "=" + text
        else:
            argv[value.index] = text
    if (
        is_s3_transfer(resolved)
        and resolved.positionals
        and not resolved.positionals[0].startswith("s3://")
        and (
            resolved.command_path[1] == "sync"
            # `--recursive` parses to dest `dir_op`
            or resolved.arguments.get("dir_op") is True
            or resolved.arguments.get("recursive") is True
        )
    ):
        argv.append("--no-follow-symlinks")
    return tuple(argv)
