"""The local-file guards, enforced inside awscli while a command runs (and while it validates).

The guards (`aws_mcp_server.guards`) refuse a command before it runs; these make sure that a
command which slipped past them still cannot read or write a file outside the workdir. There are
two kinds of place where awscli opens a local path:

  * its parameter-file loaders (`file://`, `fileb://` in any value, shorthand `@=` in every
    form, `--cli-input-json file://`) and its URL fetcher: replaced in `patches`, they call
    `contained()` and `refuse()` here;
  * the arguments that are paths themselves, checked on `load-cli-arg` before awscli's own
    handlers: streaming blob inputs (`--body PATH`), outfiles (`s3api get-object ... OUTFILE`,
    `--outfile`), the local side of `s3 cp/mv/sync`, and the path options of customizations
    (`--template-file`, ...); and `--ca-bundle` on `top-level-args-parsed`.

A path is judged as awscli will open it: relative to the process's working directory (the server
works in the workdir), with `$VARS` and `~` expanded where awscli expands them (both the literal
and the expanded path must be inside), symlinks followed, by the one containment test
(`guards.paths.contains`). The workdir is the current call's (`capture.CallContext.workdir`); a
driver with no call context, or a context with no workdir, may open no local file at all.

A refusal raises `GuardRefusal` (a `PolicyError`) before the file is opened and before any
request is sent, and is recorded on the call's context so the caller can report its rule.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from aws_mcp_server.adapter import capture
from aws_mcp_server.errors import PolicyError
from aws_mcp_server.guards import paths


class GuardRefusal(PolicyError):
    """A runtime guard refused a file or URL while the command ran."""


def refuse(rule: str, message: str, fix: str) -> GuardRefusal:
    """A `GuardRefusal`, recorded on the current call's context."""
    error = GuardRefusal(message, rule=rule, fix=fix)
    ctx = capture.current()
    if ctx is not None:
        ctx.refusals.append(error)
    return error


def _workdir() -> str | None:
    ctx = capture.current()
    return ctx.workdir if ctx is not None else None


def _fix(workdir: str | None) -> str:
    if workdir is None:
        return "No local file can be read or written on this path (there is no workdir here)."
    return f"Local files are read and written only in the workdir ({workdir})."


def contained(path: str, what: str, *, expands: bool = True) -> str:
    """`path` as an absolute path inside the call's workdir (relative paths mean "in the
    workdir"), or raise `GuardRefusal`. With `expands`, the `$VAR`/`~`-expanded form must be
    inside too, since awscli opens that one."""
    workdir = _workdir()
    if path in ("", "-"):
        raise refuse(
            "path:stdin" if path == "-" else "path:invalid",
            f"refused {what}: {path!r} is not a file in the workdir",
            _fix(workdir),
        )
    candidates = [path]
    if expands:
        candidates += [
            os.path.expanduser(os.path.expandvars(path)),
            os.path.expandvars(os.path.expanduser(path)),
        ]
    for candidate in candidates:
        # Prevents reading or writing outside the workdir through '..', absolute paths,
        # symlinks, or variables and '~' that awscli expands.
        if workdir is None or not paths.contains(workdir, paths.absolute_in(workdir, candidate)):
            raise refuse(
                "path:outside-workdir",
                f"refused {what}: {path!r} is outside the workdir",
                _fix(workdir),
            )
    assert workdir is not None
    return paths.absolute_in(workdir, candidates[-1])


def _check_path(path: str, what: str, *, expands: bool = True) -> None:
    """Refuse `path` unless it, as awscli will open it (from the working directory), is inside
    the workdir."""
    workdir = _workdir()
    if path in ("", "-"):
        contained(path, what)
    for candidate in {path, os.path.expanduser(os.path.expandvars(path))} if expands else {path}:
        real = os.path.join(os.getcwd(), candidate)
        if workdir is None or not paths.contains(workdir, real):
            raise refuse(
                "path:outside-workdir",
                f"refused {what}: {path!r} is outside the workdir",
                _fix(workdir),
            )


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable) and not isinstance(value, bytes | dict):
        return [item for item in value if isinstance(item, str)]
    return []


_OUTFILE_ARGUMENTS = frozenset(
    {
        "StreamingOutputArgument",
        "S3SelectStreamOutputArgument",
        "FileArgument",
        "QueryOutFileArgument",
    }
)


def on_load_cli_arg(event_name: str, param: Any = None, value: Any = None, **kwargs: Any) -> None:
    """`load-cli-arg.<service>.<operation>.<param>`: runs first, before awscli's handler."""
    if value is None:
        return
    parts = event_name.split(".")
    operation = parts[2] if len(parts) > 2 else ""
    name = str(getattr(param, "name", parts[-1]))
    strings = _strings(value)
    if type(param).__name__ in _OUTFILE_ARGUMENTS or name.endswith("outfile"):
        for text in strings:
            _check_path(text, f"output file {name}")
        return
    model = getattr(param, "argument_model", None)
    if (
        model is not None
        and getattr(model, "type_name", None) == "blob"
        and getattr(model, "serialization", {}).get("streaming")
    ):
        for text in strings:
            _check_path(text, f"streaming input --{name}")
        return
    if parts[1:2] == ["custom"] and operation in paths.S3_TRANSFER_COMMANDS and name == "paths":
        for index, text in enumerate(strings):
            if text.startswith("s3://") or (text == "-" and index == 1):
                continue  # an S3 path, or the destination `-` (the command's output)
            # s3 paths are opened as given (os.path.abspath), without expansion.
            _check_path(text, "local path", expands=False)
        return
    if paths.is_path_option(operation, name):
        for text in strings:
            _check_path(text, f"path for --{name}")


def on_top_level_args_parsed(parsed_args: Any = None, **kwargs: Any) -> None:
    """`top-level-args-parsed`: `--ca-bundle PATH` is read to verify TLS."""
    bundle = getattr(parsed_args, "ca_bundle", None)
    if isinstance(bundle, str):
        _check_path(bundle, "--ca-bundle", expands=False)


def register(events: Any) -> None:
    """Register the runtime guards on one session's event emitter, each first on its event so
    it runs before awscli's own handlers."""
    events.register_first("load-cli-arg", on_load_cli_arg)
    events.register_first("top-level-args-parsed", on_top_level_args_parsed)
