"""The local-file and URL guards again, enforced inside awscli while a command runs.

`policy` refuses a command before it runs; this module makes sure that a command which slipped
past classification still cannot read or write a file outside the workdir or make awscli fetch
a URL. It hooks the events awscli itself uses to turn command-line values into files:

  * `load-cli-arg` (every argument of every command, API operations and customizations alike):
    `file://` / `fileb://` values (awscli's paramfile prefix map), `http(s)://` values (the
    remote prefix map awscli v1 fetches), streaming blob inputs (`--body PATH`), outfiles
    (`s3api get-object ... OUTFILE`, `--outfile`, iot `--*-outfile`), the local side of
    `s3 cp/mv/sync`, and the path options of customizations (`--template-file`, ...);
  * `process-cli-arg`: shorthand `key@=file://PATH`, which awscli's shorthand parser loads
    itself (the paramfile handler never sees it);
  * `calling-command`: `--cli-input-json file://PATH`, loaded by its own argument class;
  * `top-level-args-parsed`: `--ca-bundle PATH`.

Paths are judged as awscli will open them: relative to the process's working directory, with
`$VARS` and `~` expanded where awscli expands them (both the literal and the expanded path must
be inside the workdir), symlinks followed.

A refusal raises `GuardRefusal` (a `PolicyError`) inside the driver, before the file is opened
and before any request is sent; the driver's `main()` prints it and returns 255. The guard also
records it, so the engine can report the rule instead of a bare exit code.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import awscli.paramfile
import awscli.shorthand

import aws_mcp_server.driver  # noqa: F401  (installs capture and imports awscli before botocore)
from aws_mcp_server import guard_tables as tables
from aws_mcp_server import policy
from aws_mcp_server.errors import PolicyError

_LOCAL_PREFIXES = tuple(awscli.paramfile.LOCAL_PREFIX_MAP)
_REMOTE_PREFIXES = tuple(awscli.paramfile.REMOTE_PREFIX_MAP)

_OUTFILE_ARGUMENTS = frozenset(
    {
        "StreamingOutputArgument",
        "S3SelectStreamOutputArgument",
        "FileArgument",
        "QueryOutFileArgument",
    }
)

# (command word, option) -> what the value is, for customizations that open paths themselves.
_PATH_OPTIONS: dict[tuple[str, str], str] = {
    (path[-1], option): mode
    for path, options in tables.LOCAL_PATH_OPTIONS.items()
    for option, mode in options.items()
}


class GuardRefusal(PolicyError):
    """A runtime guard refused a file or URL while the command ran."""


class RuntimeGuard:
    """The handlers registered on one session. `refusals` lists what they refused, in order.

    With no workdir (a driver that only resolves commands) every local file is refused.
    """

    def __init__(self, workdir: os.PathLike[str] | str | None) -> None:
        self.workdir = os.path.realpath(workdir) if workdir is not None else None
        self.refusals: list[GuardRefusal] = []

    # -- checks ---------------------------------------------------------------------------

    def _refuse(self, rule: str, message: str, fix: str) -> GuardRefusal:
        error = GuardRefusal(message, rule=rule, fix=fix)
        self.refusals.append(error)
        return error

    def _inside(self, path: str) -> bool:
        if self.workdir is None:
            return False
        return policy.contains(self.workdir, os.path.join(os.getcwd(), path))

    def check_path(self, path: str, what: str, *, expands: bool = True) -> None:
        """Refuse `path` unless it, as awscli will open it, is inside the workdir."""
        if self.workdir is None:
            fix = "No local file can be read or written on this path (there is no workdir here)."
        else:
            fix = f"Local files are read and written only in the workdir ({self.workdir})."
        if path in ("", "-"):
            raise self._refuse(
                "path:stdin" if path == "-" else "path:invalid",
                f"refused {what} {path!r}: not a file in the workdir",
                fix,
            )
        candidates = {path}
        if expands:
            candidates.add(os.path.expanduser(os.path.expandvars(path)))
            candidates.add(os.path.expandvars(os.path.expanduser(path)))
        for candidate in candidates:
            # Prevents reading or writing outside the workdir through '..', absolute paths,
            # symlinks, or variables and '~' that awscli expands.
            if not self._inside(candidate):
                raise self._refuse(
                    "path:outside-workdir",
                    f"refused {what} {path!r}: it is outside the workdir",
                    fix,
                )

    def check_value(self, value: str, what: str) -> None:
        """A parameter value awscli would run through its paramfile prefix maps."""
        if value.startswith(_LOCAL_PREFIXES):
            prefix = next(
                p for p in sorted(_LOCAL_PREFIXES, key=len, reverse=True) if value.startswith(p)
            )
            self.check_path(value[len(prefix) :], f"file for {what}")
        elif value.startswith(_REMOTE_PREFIXES):
            # awscli v1 fetches these with a GET from this machine (SSRF).
            raise self._refuse(
                "url:fetch",
                f"refused to fetch {value!r} for {what}",
                "pass the content itself, or save it in the workdir and pass file://PATH",
            )

    # -- event handlers -------------------------------------------------------------------

    def on_load_cli_arg(
        self, event_name: str, param: Any = None, value: Any = None, **kwargs: Any
    ) -> None:
        """`load-cli-arg.<service>.<operation>.<param>`: runs first, before awscli's handler."""
        parts = event_name.split(".")
        service = parts[1] if len(parts) > 1 else ""
        operation = parts[2] if len(parts) > 2 else ""
        name = str(getattr(param, "name", parts[-1]))
        what = f"--{name}"
        exempt = ".".join(parts[1:]) in awscli.paramfile.PARAMFILE_DISABLED or getattr(
            param, "no_paramfile", None
        )
        strings = _strings(value)
        if not exempt:
            for text in strings:
                self.check_value(text, what)
        if value is None:
            return
        if type(param).__name__ in _OUTFILE_ARGUMENTS or name.endswith("outfile"):
            for text in strings:
                self.check_path(text, f"output file {name}")
            return
        model = getattr(param, "argument_model", None)
        if (
            model is not None
            and getattr(model, "type_name", None) == "blob"
            and getattr(model, "serialization", {}).get("streaming")
        ):
            for text in strings:
                self.check_path(text, f"streaming input {what}")
            return
        if service == "custom" and operation in tables.S3_TRANSFER_COMMANDS and name == "paths":
            for index, text in enumerate(strings):
                if text.startswith("s3://"):
                    continue
                if text == "-" and index == 1:
                    continue  # the destination `-` is the command's output
                # s3 paths are opened as given (os.path.abspath), without expansion.
                self.check_path(text, "local path", expands=False)
            return
        if (operation, name) in _PATH_OPTIONS:
            for text in strings:
                self.check_path(text, f"path for {what}")

    def on_process_cli_arg(
        self, cli_argument: Any = None, value: Any = None, **kwargs: Any
    ) -> None:
        """`process-cli-arg`: shorthand `key@=file://...`, parsed the way awscli parses it."""
        for text in _strings(value):
            if "@" not in text:
                continue
            parser = _GuardedShorthandParser(self)
            try:
                parser.parse(text)
            except awscli.shorthand.ShorthandParseError:
                continue  # not shorthand: awscli will not load anything from it either

    def on_calling_command(self, parsed_args: Any = None, **kwargs: Any) -> None:
        """`calling-command`: `--cli-input-json file://...` is loaded by its own argument."""
        value = getattr(parsed_args, "cli_input_json", None)
        if isinstance(value, str) and value.startswith(_LOCAL_PREFIXES):
            self.check_value(value, "--cli-input-json")

    def on_top_level_args_parsed(self, parsed_args: Any = None, **kwargs: Any) -> None:
        """`top-level-args-parsed`: `--ca-bundle PATH` is read to verify TLS."""
        bundle = getattr(parsed_args, "ca_bundle", None)
        if isinstance(bundle, str):
            self.check_path(bundle, "--ca-bundle", expands=False)


class _GuardedShorthandParser(awscli.shorthand.ShorthandParser):  # type: ignore[misc]
    """awscli's shorthand grammar, with file loading replaced by a check (nothing is read)."""

    def __init__(self, guard: RuntimeGuard) -> None:
        super().__init__()
        self._guard = guard

    def _resolve_paramfiles(self, val: Any) -> Any:
        # Shorthand loads only local files (awscli passes LOCAL_PREFIX_MAP), never URLs.
        if isinstance(val, str) and val.startswith(_LOCAL_PREFIXES):
            self._guard.check_value(val, "a shorthand @= value")
        return val


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable) and not isinstance(value, (bytes, dict)):
        return [item for item in value if isinstance(item, str)]
    return []


def register(events: Any, workdir: os.PathLike[str] | str | None) -> RuntimeGuard:
    """Register the runtime guards on one call's session and return them.

    `events` is the session's event emitter, `driver.session.get_component("event_emitter")`
    of a driver from `aws_mcp_server.driver.new_driver()`; call this after building the driver
    and before `driver.main(argv)`. `workdir` is the directory local files must stay in
    (`Settings.workdir`). Every handler is registered first on its event, so it runs before
    awscli's own loaders. A refusal raises `GuardRefusal` inside the driver (main() prints it and
    returns 255) and is appended to the returned guard's `refusals`.
    """
    guard = RuntimeGuard(workdir)
    events.register_first("load-cli-arg", guard.on_load_cli_arg)
    events.register_first("process-cli-arg", guard.on_process_cli_arg)
    events.register_first("calling-command", guard.on_calling_command)
    events.register_first("top-level-args-parsed", guard.on_top_level_args_parsed)
    return guard
