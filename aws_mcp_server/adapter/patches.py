"""Every patch this server makes to awscli and botocore, in one place, each checked.

`apply()` runs once, from the package import. Each patch says what it replaces and why, and
before replacing anything it checks that the target still exists with the shape the replacement
was written against (an attribute, a signature's parameters): an awscli upgrade that moves or
reshapes one fails at start-up with the name of what changed, instead of silently losing a fix.
`PATCHES` lists them (docs/architecture.md is generated from the same list by a test).

Also checked here, without being replaced: the private awscli and botocore names the rest of
the adapter reads or overrides per session (`PRIVATE_NAMES`).
"""

from __future__ import annotations

import argparse
import gettext
import inspect
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import awscli.argparser
import awscli.arguments
import awscli.clidriver
import awscli.customizations.logs.startlivetail
import awscli.formatter
import awscli.help
import awscli.paramfile
import awscli.table
import botocore.awsrequest
import botocore.client
import botocore.credentials
import botocore.endpoint
import botocore.handlers
import botocore.hooks
import botocore.httpsession
import botocore.loaders
import botocore.regions
import botocore.retries.bucket
import botocore.session
import botocore.waiter
import urllib3.connection
import urllib3.connectionpool
from awscli.customizations import preview
from awscli.customizations.commands import BasicCommand
from awscli.customizations.s3.syncstrategy.base import BaseSync

from aws_mcp_server.adapter import capture, helptext, transport


class PatchShapeError(ImportError):
    """A patch target is not what the patch was written against (an awscli/botocore upgrade)."""


@dataclass(frozen=True)
class Patch:
    target: str
    """What is replaced, `module.attribute`."""
    why: str


PATCHES: list[Patch] = []


def _owner_name(owner: Any) -> str:
    return getattr(owner, "__module__", "") + "." + getattr(owner, "__qualname__", str(owner))


def _expect(owner: Any, name: str, params: Sequence[str] | None = None) -> Any:
    """The attribute `owner.name`, checked to exist (and to take `params` first, if given)."""
    where = owner.__name__ if inspect.ismodule(owner) else _owner_name(owner)
    if not hasattr(owner, name):
        raise PatchShapeError(f"{where}.{name} no longer exists: the installed awscli changed")
    found = getattr(owner, name)
    if params is not None:
        try:
            names = list(inspect.signature(found).parameters)
        except (TypeError, ValueError):
            names = []
        if names[: len(params)] != list(params):
            raise PatchShapeError(
                f"{where}.{name} takes ({', '.join(names)}), not ({', '.join(params)}) as this "
                "server's patch of it expects: the installed awscli changed"
            )
    return found


def _replace(
    owner: Any, name: str, new: Any, why: str, *, params: Sequence[str] | None = None
) -> Any:
    original = _expect(owner, name, params)
    setattr(owner, name, new)
    where = owner.__name__ if inspect.ismodule(owner) else _owner_name(owner)
    PATCHES.append(Patch(f"{where}.{name}", why))
    return original


# --- shared pure work -----------------------------------------------------------------------

_argparse_messages: dict[str, str] = {}
_ARGPARSE_MESSAGES_LIMIT = 512


def _argparse_gettext(message: str) -> str:
    # argparse passes each of its own messages ('options', 'usage: '...) through gettext, which
    # searches the disk for a catalogue on every call (every parser awscli builds, several per
    # call). The translation of a message is fixed for the process: looked up once.
    found = _argparse_messages.get(message)
    if found is None:
        found = _original_argparse_gettext(message)
        if len(_argparse_messages) < _ARGPARSE_MESSAGES_LIMIT:
            _argparse_messages[message] = found
    return found


_original_argparse_gettext: Callable[[str], str] = argparse._  # type: ignore[attr-defined]

_lock = threading.Lock()
_alias_cache: dict[str, str] = {}
_original_aliaser_init: Callable[..., None] = botocore.hooks.EventAliaser.__init__


def _aliaser_init(self: Any, event_emitter: Any, event_aliases: Any = None) -> None:
    _original_aliaser_init(self, event_emitter, event_aliases)
    # Aliasing an event name is a pure function of the name under the default alias table. A
    # client's aliaser is built with a copy of the session's table (equal, not identical).
    if event_aliases is None or event_aliases == botocore.hooks.EVENT_ALIASES:
        self._alias_name_cache = _alias_cache


_provider_cache: dict[tuple[int, int, frozenset[str]], Any] = {}
_OriginalEndpointProvider: Any = botocore.regions.EndpointProvider


def _cached_endpoint_provider(
    ruleset_data: Any, partition_data: Any, excluded_params: Any = None
) -> Any:
    """Build each service's endpoint ruleset once (6 ms for s3); evaluation is pure."""
    key = (id(ruleset_data), id(partition_data), frozenset(excluded_params or ()))
    provider = _provider_cache.get(key)
    if provider is None:
        with _lock:
            provider = _provider_cache.get(key)
            if provider is None:
                provider = _OriginalEndpointProvider(ruleset_data, partition_data, excluded_params)
                # Keep the data alive with the provider so that its id is never reused.
                provider._aws_mcp_keep = (ruleset_data, partition_data)
                _provider_cache[key] = provider
    return provider


_client_classes: dict[tuple[str, int], tuple[Any, Any]] = {}
_original_create_client_class: Callable[..., Any] = (
    botocore.client.ClientCreator._create_client_class
)


def _cached_client_class(self: Any, service_name: str, service_model: Any) -> Any:
    """Build each service's client class once (14 ms for ec2's 775 methods).

    The class is a pure function of the service model and of the `creating-client-class`
    handlers, which are all botocore's own stateless ones (a test checks that no awscli
    customization registers there). Clients, their sessions and their handlers stay per call.
    """
    description = service_model._service_description
    key = (service_name, id(description))
    cached = _client_classes.get(key)
    if cached is None:
        with _lock:
            cached = _client_classes.get(key)
            if cached is None:
                cls = _original_create_client_class(self, service_name, service_model)
                # The description is kept so that its id is never reused.
                cached = _client_classes[key] = (cls, description)
    return cached[0]


class _SharedHTTPSession(botocore.httpsession.URLLib3Session):  # type: ignore[misc]
    """Connection pools shared by calls with identical transport settings.

    Per-call sessions would otherwise open a new connection (and against AWS, a new TLS
    handshake) for every command. A pool holds sockets, not credentials: requests are signed
    per call before they reach it.
    """

    def close(self) -> None:
        # Shared: one call's client.close() must not drop the connections of another.
        return None


_http_sessions: dict[str, Any] = {}
MAX_HTTP_SESSIONS = 32


def _shared_http_session(**kwargs: Any) -> Any:
    key = repr(sorted(kwargs.items()))
    session = _http_sessions.get(key)
    if session is None:
        with _lock:
            session = _http_sessions.get(key)
            if session is None:
                if len(_http_sessions) >= MAX_HTTP_SESSIONS:
                    oldest = next(iter(_http_sessions))
                    botocore.httpsession.URLLib3Session.close(_http_sessions.pop(oldest))
                session = _http_sessions[key] = _SharedHTTPSession(**kwargs)
    return session


_original_create_endpoint: Callable[..., Any] = botocore.endpoint.EndpointCreator.create_endpoint


def _create_endpoint(self: Any, *args: Any, **kwargs: Any) -> Any:
    kwargs.setdefault("http_session_cls", _shared_http_session)
    return _original_create_endpoint(self, *args, **kwargs)


def _patch_connection_pools() -> None:
    """Every socket of a call, shut down when it stops (see `transport`)."""
    init = botocore.httpsession.URLLib3Session.__init__
    names = set(init.__code__.co_names)
    if not {"AWSHTTPConnectionPool", "AWSHTTPSConnectionPool"} <= names:
        raise PatchShapeError(
            "botocore's URLLib3Session no longer takes its pool classes from botocore.awsrequest"
        )
    for owner, name, params in (
        (urllib3.connectionpool.HTTPConnectionPool, "_get_conn", ("self", "timeout")),
        (urllib3.connectionpool.HTTPConnectionPool, "_put_conn", ("self", "conn")),
        (urllib3.connectionpool.HTTPConnectionPool, "_get_timeout", ("self", "timeout")),
        (urllib3.connection.HTTPConnection, "_new_conn", ("self",)),
        (urllib3.connection.HTTPConnection, "close", ("self",)),
    ):
        _expect(owner, name, params)
    for name, guarded in (
        ("AWSHTTPConnectionPool", transport.GuardedHTTPConnectionPool),
        ("AWSHTTPSConnectionPool", transport.GuardedHTTPSConnectionPool),
    ):
        if getattr(botocore.awsrequest, name) not in guarded.__mro__:
            raise PatchShapeError(f"botocore.awsrequest.{name} changed since the adapter loaded")
        _replace(
            botocore.awsrequest,
            name,
            guarded,
            "a call's sockets are shut down the moment it is cancelled or past its deadline, "
            "and no socket wait outlasts the deadline (s3transfer threads, credential "
            "providers and every client included)",
        )


# --- per-call behaviour behind process-wide names ------------------------------------------


class _TokenTime:
    """Stands in for the `time` module where botocore and awscli sleep between attempts: a sleep
    wakes as soon as the call is cancelled or past its deadline."""

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    @staticmethod
    def sleep(seconds: float) -> None:
        ctx = capture.current()
        if ctx is None:
            time.sleep(seconds)
        else:
            ctx.token.sleep(seconds)


class _NoColorama:
    """`colorama.init()` wraps sys.stdout for the whole process; the table formatter calls it."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    @staticmethod
    def init(*args: Any, **kwargs: Any) -> None:
        return None


def _json_response(self: Any, command_name: Any, response: Any, stream: Any) -> None:
    """awscli's JSON output, compact unless the call asks for the CLI's indentation: a model
    reads every byte, and four-space indentation doubles what a listing costs."""
    if response != {}:
        ctx = capture.current()
        indent = ctx.json_indent if ctx is not None else 4
        json.dump(
            response,
            stream,
            indent=indent or None,
            separators=None if indent else (",", ":"),
            default=awscli.formatter.json_encoder,
            ensure_ascii=False,
        )
        stream.write("\n")


def _add_sync_argument_once(self: Any, arg_table: Any, **kwargs: Any) -> None:
    """awscli appends each `s3 sync` strategy's argument to the class-level argument table on
    every call (one call per process in the CLI); in a server that list grew by three per call."""
    argument = self.ARGUMENT
    if argument is not None and all(arg.get("name") != argument["name"] for arg in arg_table):
        arg_table.append(argument)


# --- where awscli loads parameter values: the one file guard on every path -----------------

_original_get_file: Callable[..., Any] = awscli.paramfile.get_file


def _guarded_get_file(prefix: str, path: str, mode: str) -> Any:
    """awscli's loader for `file://` and `fileb://` values: every command-line value, shorthand
    `@=` value (in every form of the grammar, inside loaded files too) and `--cli-input-json`
    file goes through it, on every path that runs awscli's loaders (a run, validation, the dry
    run of `classify`). A path is judged as awscli would open it (both the literal and the
    `$VAR`/`~`-expanded form), relative paths mean "in the workdir", and a path outside it is
    refused before it is opened."""
    from aws_mcp_server.adapter import runtime_guards

    real = runtime_guards.contained(path[len(prefix) :], f"the file in {path[:200]!r}")
    return _original_get_file(prefix, prefix + real, mode)


def _refused_fetch(prefix: str, path: str, **kwargs: Any) -> Any:
    """awscli v1 fetches `http(s)://` parameter values with a GET from this machine (SSRF: cloud
    metadata, internal services). Values of parameters that take a URL as text never get here
    (awscli exempts them first)."""
    from aws_mcp_server.adapter import runtime_guards

    raise runtime_guards.refuse(
        "url:fetch",
        f"refused to fetch {path[:200]!r}: awscli would fetch a URL parameter value from this "
        "machine",
        "pass the content itself, or save it to a file in the workdir and pass file://PATH",
    )


def _patch_paramfile_loaders() -> None:
    _expect(awscli.paramfile, "get_file", ("prefix", "path", "mode"))
    local = _expect(awscli.paramfile, "LOCAL_PREFIX_MAP")
    remote = _expect(awscli.paramfile, "REMOTE_PREFIX_MAP")
    if set(local) != {"file://", "fileb://"} or set(remote) != {"http://", "https://"}:
        raise PatchShapeError(
            "awscli.paramfile's prefix maps changed: "
            f"local {sorted(local)}, remote {sorted(remote)}"
        )
    # The maps are copied into each session's handler when it is built, and shorthand and
    # --cli-input-json read them directly: replacing the entries covers every loader.
    for prefix, (_, kwargs) in list(local.items()):
        local[prefix] = (_guarded_get_file, kwargs)
    for prefix, (_, kwargs) in list(remote.items()):
        remote[prefix] = (_refused_fetch, kwargs)
    PATCHES.append(
        Patch(
            "awscli.paramfile.LOCAL_PREFIX_MAP",
            "file:// loads only inside the workdir (every value, shorthand, --cli-input-json)",
        )
    )
    PATCHES.append(Patch("awscli.paramfile.REMOTE_PREFIX_MAP", "http(s):// values are never fetched"))


# --- names read or overridden per session elsewhere in the adapter -------------------------

PRIVATE_NAMES: tuple[tuple[Any, str, tuple[str, ...] | None], ...] = (
    (botocore.hooks.HierarchicalEmitter, "_verify_accept_kwargs", ("self", "func")),
    (botocore.hooks.HierarchicalEmitter, "_register_section", ("self", "event_name", "handler")),
    (botocore.hooks.HierarchicalEmitter, "_verify_is_callable", ("self", "func")),
    (botocore.hooks.BaseEventHooks, "register", ("self", "event_name", "handler", "unique_id")),
    (botocore.hooks.BaseEventHooks, "register_first", ("self", "event_name", "handler")),
    (botocore.hooks.BaseEventHooks, "register_last", ("self", "event_name", "handler")),
    (botocore.hooks._PrefixTrie, "append_item", ("self", "key", "value", "section")),
    (botocore.hooks._PrefixTrie, "prefix_search", ("self", "key")),
    (botocore.hooks._PrefixTrie, "remove_item", ("self", "key", "value")),
    (botocore.hooks, "NodeList", None),
    (botocore.hooks, "EVENT_ALIASES", None),
    (botocore.session.Session, "_register_builtin_handlers", ("self", "events")),
    # (wrapped by botocore's instance cache: its own parameters are not visible)
    (botocore.loaders.Loader, "list_available_services", None),
    (botocore.handlers, "BUILTIN_HANDLERS", None),
    (botocore.session.Session, "_create_credential_resolver", ("self",)),
    (botocore.session.Session, "get_credentials", ("self",)),
    (botocore.session.Session, "create_client", ("self", "service_name")),
    (botocore.session.Session, "set_stream_logger", None),
    (botocore.session.Session, "full_config", None),
    (awscli.clidriver.CLIDriver, "_add_aliases", ("self", "command_table", "parser")),
    (awscli.clidriver.CLIDriver, "_get_command_table", ("self",)),
    (awscli.clidriver.CLIDriver, "_create_parser", ("self", "command_table")),
    (awscli.clidriver.CLIDriver, "_get_argument_table", ("self",)),
    # driver._GlobalArguments: the global options made once.
    (awscli.clidriver.CLIDriver, "_build_argument_table", ("self",)),
    (awscli.clidriver.CLIDriver, "_create_cli_argument", ("self", "option_name", "option_params")),
    (awscli.clidriver, "copy_kwargs", None),
    (awscli.clidriver.CLIDriver, "_get_cli_data", ("self",)),
    (awscli.clidriver.CLIDriver, "create_help_command", ("self",)),
    (awscli.argparser.MainArgParser, "__init__",
     ("self", "command_table", "version_string", "description", "argument_table", "prog")),
    (awscli.arguments.CustomArgument, "add_to_parser", ("self", "parser")),
    (awscli.clidriver.ServiceCommand, "_get_command_table", ("self",)),
    (awscli.clidriver.ServiceCommand, "_get_service_model", ("self",)),
    (awscli.clidriver.ServiceCommand, "_create_parser", ("self",)),
    # driver.LazyTable: the tables made as they are read.
    (awscli.clidriver.CLIDriver, "_build_builtin_commands", ("self", "session")),
    (awscli.clidriver.ServiceCommand, "_create_command_table", ("self",)),
    (awscli.clidriver.ServiceCommand, "_add_lineage", ("self", "command_table")),
    (awscli.clidriver.ServiceCommand, "__init__", ("self", "cli_name", "session", "service_name")),
    (awscli.clidriver.ServiceOperation, "__init__",
     ("self", "name", "parent_name", "operation_caller", "operation_model", "session")),
    (awscli.clidriver.CLIOperationCaller, "__init__", ("self", "session")),
    (BasicCommand, "_build_subcommand_table", ("self",)),
    (BasicCommand, "_build_arg_table", ("self",)),
    (awscli.clidriver, "_set_user_agent_for_session", ("session",)),
    # driver._mark_as_preview: awscli's preview marking, done when the command is read.
    (preview, "mark_as_preview", ("command_table", "session")),
    (preview, "_get_allowed_services", ("session",)),
    (preview, "update_description_with_preview", ("help_command",)),
    (preview, "PREVIEW_SERVICES", None),
    (preview, "PreviewModeCommandMixin", None),
)


MAIN_PARSER_READS = (
    "cli_name", "_dest", "_action", "_default", "_choices", "_required", "_nargs", "_const",
    "add_argument",
)
"""What awscli's `CustomArgument.add_to_parser` reads: the shared top-level parser's key."""


def _check_private_names() -> None:
    for owner, name, params in PRIVATE_NAMES:
        _expect(owner, name, params)
    # `driver._MainParsers` keys a shared top-level parser by what these read: they must read
    # nothing else (an awscli that adds an attribute to the parser's build fails here).
    for function, reads in (
        (awscli.arguments.CustomArgument.add_to_parser, MAIN_PARSER_READS),
        (awscli.argparser.MainArgParser._build, ("add_to_parser", "add_argument", "CommandAction")),
        (awscli.argparser.MainArgParser.__init__, ("super", "__init__", "Formatter", "USAGE", "_build")),
    ):
        extra = set(function.__code__.co_names) - set(reads)
        if extra:
            raise PatchShapeError(
                f"{function.__qualname__} now reads {sorted(extra)}: the shared top-level "
                "parser's key (adapter/driver.py) no longer covers it"
            )
    # `driver._ParsedConfigs` stands in for botocore's parse, which it keeps in `_config`.
    full_config = getattr(botocore.session.Session, "full_config", None)
    getter = full_config.fget if isinstance(full_config, property) else None
    if getter is None or "_config" not in getter.__code__.co_names:
        raise PatchShapeError("botocore's Session.full_config no longer keeps its parse in _config")
    sections = (botocore.hooks._FIRST, botocore.hooks._MIDDLE, botocore.hooks._LAST)
    if sections != (0, 1, 2):
        raise PatchShapeError(f"botocore's handler sections are now {sections}, not (0, 1, 2)")
    # `events.Emitter` replaces the emitter's trie and copies its state: it must hold these.
    state = set(vars(botocore.hooks.HierarchicalEmitter()))
    if state != {"_lookup_cache", "_handlers", "_unique_id_handlers"}:
        raise PatchShapeError(f"botocore's HierarchicalEmitter now holds {sorted(state)}")
    for provider, param in (
        (botocore.credentials.AssumeRoleProvider, "prompter"),
        (botocore.credentials.ProcessProvider, "popen"),
    ):
        if param not in inspect.signature(provider.__init__).parameters:
            raise PatchShapeError(f"{provider.__qualname__} no longer takes {param!r}")


_applied = False


def apply() -> None:
    """Apply every patch once (idempotent). Raises `PatchShapeError` naming what changed."""
    global _applied
    if _applied:
        return
    _check_private_names()
    _replace(
        botocore.hooks.EventAliaser,
        "__init__",
        _aliaser_init,
        "event-name aliasing cached across sessions (a pure function of the name)",
        params=("self", "event_emitter", "event_aliases"),
    )
    _replace(
        botocore.regions,
        "EndpointProvider",
        _cached_endpoint_provider,
        "each service's endpoint ruleset built once (evaluation is pure)",
        params=("ruleset_data", "partition_data"),
    )
    _replace(
        botocore.client.ClientCreator,
        "_create_client_class",
        _cached_client_class,
        "each service's client class built once (a pure function of its model)",
        params=("self", "service_name", "service_model"),
    )
    original = _expect(botocore.endpoint.EndpointCreator, "create_endpoint")
    if "http_session_cls" not in inspect.signature(original).parameters:
        raise PatchShapeError("botocore EndpointCreator.create_endpoint lost http_session_cls")
    _replace(
        botocore.endpoint.EndpointCreator,
        "create_endpoint",
        _create_endpoint,
        "connection pools shared by calls with the same transport settings",
    )
    _patch_connection_pools()
    if _expect(argparse, "_") is not gettext.gettext:
        raise PatchShapeError("argparse no longer translates its messages with gettext.gettext")
    _replace(argparse, "_", _argparse_gettext, "argparse's message translations looked up once")
    token_time = _TokenTime()
    for module in (
        botocore.waiter,
        botocore.endpoint,
        botocore.retries.bucket,
        awscli.customizations.logs.startlivetail,
    ):
        if _expect(module, "time") is not time:
            raise PatchShapeError(f"{module.__name__}.time is no longer the time module")
        _replace(module, "time", token_time, "waiter, retry and live-tail sleeps end on cancel")
    _replace(
        BaseSync,
        "add_sync_argument",
        _add_sync_argument_once,
        "s3 sync's strategy arguments added to its class-level table once, not per call",
        params=("self", "arg_table"),
    )
    _replace(
        awscli.formatter.JSONFormatter,
        "_format_response",
        _json_response,
        "compact JSON unless the call asks for indentation",
        params=("self", "command_name", "response", "stream"),
    )
    _replace(
        awscli.table,
        "colorama",
        _NoColorama(_expect(awscli.table, "colorama")),
        "colorama.init() would wrap sys.stdout for the whole process",
    )
    _replace(
        awscli.help,
        "get_renderer",
        helptext.PlainTextRenderer,
        "help rendered to plain text in-process: no groff, no pager, nothing on fd 1",
    )
    _patch_paramfile_loaders()
    # botocore logs at INFO ("Found credentials in ...") through whatever handlers the host
    # process configured; inside a call those would write to the call's captured stderr.
    for name in ("botocore", "awscli", "s3transfer", "urllib3"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # A failed credential refresh is logged as a warning with its traceback, then raised: the
    # raised error is explained to the user (see `credentials`), the traceback is noise.
    logging.getLogger("botocore.credentials").setLevel(logging.ERROR)
    _applied = True


def describe() -> list[str]:
    """One line per patch: what it replaces and why (for docs and tests)."""
    return [f"{patch.target}: {patch.why}" for patch in PATCHES]

