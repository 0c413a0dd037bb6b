"""A fresh, cheap awscli CLIDriver and botocore session for every call.

Per call we build a new botocore Session and CLIDriver (a reused driver keeps `--region` and the
previous profile's cached credentials). What makes that cheap is shared, immutable or pure work
(see `patches`): one parsed-model `Loader`, one endpoint-ruleset cache, one event-alias cache,
client classes, connection pools; and an emitter whose copies share nodes until changed and
which starts from botocore's built-in handlers and awscli's stateless ones, registered once
(see `events`, `cli_handlers`). Every handler that keeps state is still created per session (the
shorthand parser, the IAM MFA wrapper, a DynamoDB paginator fix...).

Per session, neutralised here: the logger handlers the driver adds on every call; the CLI
history's sqlite handler; awscli's assumed-role file cache; user aliases (`~/.aws/cli/alias`,
where `!cmd` runs a shell) and config `[plugins]` (arbitrary imports), never loaded. Every client
the session creates goes to the call's endpoint and is checked against the server's lists.
"""

from __future__ import annotations

import copy
import functools
import gc
import os
import sys
import threading
import types
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, KeysView, MutableMapping
from typing import Any
from urllib.parse import urlsplit

import awscli
import awscli.argparser
import awscli.arguments
import awscli.clidriver
import awscli.handlers
import botocore
import botocore.configprovider
import botocore.context
import botocore.credentials
import botocore.exceptions
import botocore.hooks
import botocore.loaders
import botocore.session
import botocore.tokens
from awscli.customizations import preview
from awscli.customizations.history import attach_history_handler
from botocore import xform_name
from botocore.config import Config

from aws_mcp_server.adapter import (  # (the package import ran first: awscli, patches)
    capture,
    cli_handlers,
    events,
)
from aws_mcp_server.errors import AwsMcpError

# Upper bounds on socket waits, whatever the command asks (`--cli-read-timeout 0` means forever).
MAX_CONNECT_TIMEOUT = 10
MAX_READ_TIMEOUT = 60


_DATA_PATH = botocore.session.Session().get_config_variable("data_path")
_LOADER = botocore.loaders.create_loader(_DATA_PATH)
_list_available_services = _LOADER.list_available_services


def _listed_services(type_name: str) -> Any:
    # The loader caches the listing (about 430 directory reads) by how it was called: awscli
    # passes type_name by keyword, botocore by position, so it was listed twice. One spelling.
    return _list_available_services(type_name)


_LOADER.list_available_services = _listed_services


def load_data(name: str) -> Any:
    """A data file of botocore's (`partitions`, `endpoints`) from the shared loader."""
    return _LOADER.load_data(name)


def _check_token(**kwargs: Any) -> None:
    """Runs before every API call and every HTTP attempt: pages, waiter polls, retries, transfers."""
    ctx = capture.current()
    if ctx is not None:
        ctx.token.check()


def _count_request(request: Any = None, **kwargs: Any) -> None:
    ctx = capture.current()
    if ctx is not None:
        ctx.token.check()
        ctx.requests += 1
        url = getattr(request, "url", None)
        if isinstance(url, str):
            parts = urlsplit(url)
            where = f"{parts.scheme}://{parts.netloc}"
            ctx.hosts[where] = ctx.hosts.get(where, 0) + 1


_TIMEOUT_STEPS = (1, 2, 5, 10, 20, 30, 60)


def _round_up(seconds: float) -> int:
    return next((step for step in _TIMEOUT_STEPS if step >= seconds), _TIMEOUT_STEPS[-1])


def _bound_timeouts(parsed_args: Any, session: Any, **kwargs: Any) -> None:
    """Runs after awscli resolved --cli-*-timeout: no socket wait may exceed our bounds."""
    ctx = capture.current()
    left = ctx.token.remaining() if ctx is not None else None
    read = getattr(parsed_args, "read_timeout", None) or MAX_READ_TIMEOUT
    connect = getattr(parsed_args, "connect_timeout", None) or MAX_CONNECT_TIMEOUT
    read = min(read, MAX_READ_TIMEOUT)
    connect = min(connect, MAX_CONNECT_TIMEOUT)
    if left is not None:
        # A socket wait may not outlive the call by much; rounded up to a few fixed values so
        # that calls share connection pools (they are keyed by their timeouts).
        read = _round_up(min(read, max(1.0, left)))
        connect = _round_up(min(connect, max(1.0, left)))
    current = session.get_default_client_config() or Config()
    session.set_default_client_config(
        current.merge(Config(read_timeout=read, connect_timeout=connect))
    )


def _no_stream_logger(*args: Any, **kwargs: Any) -> None:
    """The driver adds a logging handler on every call (`--debug` adds four): keep logging ours."""
    return None


# Modules whose clients resolve credentials (assume-role STS, the SSO portal and its token
# refresh): plumbing of the profile the user chose, not a service the command calls.
_CREDENTIAL_MODULES = frozenset({botocore.credentials.__name__, botocore.tokens.__name__})


class _ParsedConfigs:
    """The config and credentials files as botocore parsed them, by the files' version.

    Every call's session parses both files (configparser, about half a millisecond) the first
    time anything reads its configuration. The parse is a function of the two files' contents:
    keyed by each file's expanded path, modification time (ns) and size, as the shared
    credentials are (see `credentials.credentials_key`), so a changed file is parsed afresh.
    Each session gets a deep copy: nothing one call changes in its configuration reaches another.
    """

    LIMIT = 8

    def __init__(self) -> None:
        self._parsed: dict[Hashable, Any] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(config_file: Any, credentials_file: Any) -> Hashable | None:
        """Both files' versions (`profiles.file_version`); None while either may be changing:
        then nothing is kept or shared by it."""
        from aws_mcp_server import profiles

        versions = []
        for path in (config_file, credentials_file):
            version = profiles.file_version(path) if isinstance(path, str) else (path,)
            if version is None:
                return None
            versions.append(version)
        return tuple(versions)

    def get(self, key: Hashable | None) -> Any:
        if key is None:
            return None
        with self._lock:
            found = self._parsed.get(key)
        return _fresh_copy(found) if found is not None else None

    def put(self, key: Hashable | None, parsed: Any) -> None:
        if key is None:
            return
        kept = _fresh_copy(parsed)
        with self._lock:
            if len(self._parsed) >= self.LIMIT:
                self._parsed.pop(next(iter(self._parsed)))
            self._parsed[key] = kept


def _fresh_copy(value: Any) -> Any:
    """A deep copy of botocore's parse of the config files (dicts and lists of strings): every
    dict and list new, the strings shared (they cannot change); anything else is deep-copied
    by `copy.deepcopy`. About a fifth of deepcopy's time."""
    kind = type(value)
    if kind is dict:
        return {key: _fresh_copy(item) for key, item in value.items()}
    if kind is list:
        return [_fresh_copy(item) for item in value]
    if kind in cli_handlers.SCALARS:
        return value
    return copy.deepcopy(value)


PARSED_CONFIGS = _ParsedConfigs()


CLI_EVENTS = events.CLI_EVENTS
_on_cli_event = events.on_cli_event


@functools.cache
def _per_call_client_services() -> frozenset[str] | None:
    """The services (event names' service part) whose clients would carry a handler awscli
    makes per call on an event a client emits (`cli_handlers.prepare()`): their clients are
    never shared. None when such a handler is on every service (`*`, or no service part): then
    no client is."""
    plan = cli_handlers.prepare()
    services: set[str] = set()
    for index in plan.per_call:
        event = plan.events[index]
        if _on_cli_event(event):
            continue
        parts = event.split(".")
        if len(parts) < 2 or parts[1] == "*":
            return None
        services.add(parts[1])
    return frozenset(services)


def _changes(client: Any) -> int | None:
    emitter = getattr(getattr(getattr(client, "meta", None), "events", None), "_emitter", None)
    return emitter.changes if isinstance(emitter, events.Emitter) else None


class _SharedClients:
    """botocore clients, kept between calls that would build the very same client.

    A client is a function of what its session and `create_client` give it: the service, region,
    endpoint, TLS verification, API version, explicit keys and client config (the session's
    default config merged in: the timeouts `_bound_timeouts` set), the credentials object (shared
    per profile and files already, see `credentials.SharedCredentials`), the profile and every
    configuration variable set on the session, the config and credentials files' versions, the
    whole environment, the user agent and its feature ids, and the event handlers it copies from
    the session. The key holds all of them but the handlers, which are checked instead: the
    session's must be exactly what every call's session starts with (the shared templates of
    botocore's and awscli's handlers, this package's, which find their call through
    `capture.current()`, and awscli's per-call ones, all on command-line events no client
    emits), plus nothing registered since on an event a client emits.

    One call uses a client at a time: a call takes an idle one, or builds it, and gives it back
    when it ends (`release`) only if nothing was registered on the client meanwhile (s3transfer,
    paginator fixes), and only if the call was not stopped. At most `PER_KEY` idle clients are
    kept per key and `LIMIT` keys, oldest dropped first.
    """

    PER_KEY = 8
    LIMIT = 32

    def __init__(self) -> None:
        self._idle: OrderedDict[Hashable, list[Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.built = 0
        """Shareable clients built (for tests and benchmarks)."""
        self.reused = 0

    def take(self, key: Hashable) -> Any:
        with self._lock:
            idle = self._idle.get(key)
            if idle:
                self._idle.move_to_end(key)
                self.reused += 1
                return idle.pop()
        return None

    def give(self, key: Hashable, client: Any) -> None:
        with self._lock:
            idle = self._idle.get(key)
            if idle is None:
                if len(self._idle) >= self.LIMIT:
                    self._idle.popitem(last=False)
                idle = self._idle[key] = []
            if len(idle) < self.PER_KEY:
                idle.append(client)

    def clear(self) -> None:
        with self._lock:
            self._idle.clear()

    def __len__(self) -> int:
        with self._lock:
            return sum(len(idle) for idle in self._idle.values())


CLIENTS = _SharedClients()

_CREATE_CLIENT_PARAMS = (
    "region_name", "api_version", "use_ssl", "verify", "endpoint_url", "aws_access_key_id",
    "aws_secret_access_key", "aws_session_token", "config", "aws_account_id",
)
"""`Session.create_client`'s parameters after `service_name`, in order (checked by `patches`)."""


def _config_key(config: Any) -> Hashable:
    if config is None:
        return None
    options = getattr(config, "_user_provided_options", None)
    if not isinstance(options, dict):
        raise _NotShareable
    # repr: nested dicts (retries, s3, proxies) included; an object without a value repr shows
    # its address, so only that very object gives the same key.
    return repr(sorted(options.items()))


class _NotShareable(Exception):
    pass


def _environment() -> Hashable:
    data = getattr(os.environ, "_data", None)
    return tuple(data.items()) if isinstance(data, dict) else tuple(os.environ.items())


class _LazyProviders(dict):  # type: ignore[type-arg]
    """A session's config-variable providers, each built when first looked up.

    botocore builds a provider chain (instance variable, environment, config file, default) for
    each of its 40 variables in every session: about 200 objects, in reference cycles with the
    session, for a call that reads a few. The names and how each chain is built are botocore's
    own (`create_botocore_default_config_mapping`); a name is in the mapping whether or not its
    chain was built, so `in`, lookups, copies and replacements behave as the dict they stand in
    for. A copy shares the chains built so far (as botocore's shallow copy does) and builds the
    rest from the same session's factory.
    """

    __slots__ = ("_build",)

    def __init__(self, build: Callable[[str], Any], names: Any, built: Any = ()) -> None:
        super().__init__(built)
        self._build = build
        for name in names:
            if not dict.__contains__(self, name):
                dict.__setitem__(self, name, _PENDING)

    def __getitem__(self, name: str) -> Any:
        value = dict.__getitem__(self, name)
        if value is _PENDING:
            value = self._build(name)
            dict.__setitem__(self, name, value)
        return value

    def get(self, name: str, default: Any = None) -> Any:
        return self[name] if dict.__contains__(self, name) else default

    def items(self) -> Any:
        return [(name, self[name]) for name in list(dict.keys(self))]

    def values(self) -> Any:
        return [self[name] for name in list(dict.keys(self))]

    def __iter__(self) -> Iterator[str]:
        return iter(list(dict.keys(self)))

    def copy(self) -> _LazyProviders:
        built = [(k, v) for k, v in dict.items(self) if v is not _PENDING]
        return _LazyProviders(self._build, dict.keys(self), built)

    def __copy__(self) -> _LazyProviders:
        return self.copy()

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return {name: copy.deepcopy(self[name], memo) for name in list(dict.keys(self))}


class _LazyConfigStore(botocore.configprovider.ConfigValueStore):  # type: ignore[misc]
    """botocore's ConfigValueStore over `_LazyProviders` (its own copies keep them lazy)."""

    def __init__(self, mapping: Any = None, overrides: Any = None) -> None:
        self._overrides = dict(overrides or {})
        self._mapping = mapping if mapping is not None else {}

    def __copy__(self) -> Any:
        mapping = self._mapping
        copied = mapping.copy() if isinstance(mapping, _LazyProviders) else copy.copy(mapping)
        return _LazyConfigStore(copied, self._overrides)


def _lazy_config_store(session: Any) -> Any:
    """The config store `Session._register_config_store` makes, with chains built on demand."""
    configprovider = botocore.configprovider
    chain_builder = configprovider.ConfigChainFactory(session=session)
    variables = configprovider.BOTOCORE_DEFAUT_SESSION_VARIABLES
    sections = {
        "s3": configprovider.DEFAULT_S3_CONFIG_VARS,
        "proxies_config": configprovider.DEFAULT_PROXIES_CONFIG_VARS,
    }

    def build(name: str) -> Any:
        if name in sections:
            return configprovider.SectionConfigProvider(
                name, session,
                configprovider._create_config_chain_mapping(chain_builder, sections[name]),
            )
        config = variables[name]
        return chain_builder.create_config_chain(
            instance_name=name, env_var_names=config[1], config_property_names=config[0],
            default=config[2], conversion_func=config[3],
        )

    return _LazyConfigStore(_LazyProviders(build, [*variables, *sections]))


class _CallSession(botocore.session.Session):  # type: ignore[misc]
    """One call's session: every client it creates goes to the call's endpoint and is checked.

    awscli passes `--endpoint-url` only to the client of the command's own service; the clients
    customizations build for other services (IAM roles, trail and config subscriptions, S3
    uploads) and the credential providers' STS and SSO clients would go to AWS's own hosts.
    """

    _aws_mcp_endpoint: str | None = None
    _aws_mcp_check: Callable[[str], None] | None = None
    _aws_mcp_log: list[tuple[str, Any]] | None = None
    """Registrations on the session's emitter since its call's set-up (None: not set up as
    every call's session is, so its clients are its own)."""
    _aws_mcp_template: Any = None
    _aws_mcp_taken: list[tuple[Hashable, Any, int | None]]
    _config: Any

    @property
    def full_config(self) -> Any:
        """botocore's parse of the config and credentials files, parsed once per version of
        the two files (see `_ParsedConfigs`); each session gets its own deep copy."""
        if self._config is None:
            key = _ParsedConfigs.key(
                self.get_config_variable("config_file"),
                self.get_config_variable("credentials_file"),
            )
            cached = PARSED_CONFIGS.get(key)
            if cached is None:
                parsed = super().full_config
                PARSED_CONFIGS.put(key, parsed)
            else:
                self._config = cached
        return self._config

    def _register_config_store(self) -> None:
        self._components.register_component("config_store", _lazy_config_store(self))

    def _register_builtin_handlers(self, events_: Any) -> None:
        # botocore's built-in handlers, as one copy of the tree they make (see `events`).
        emitter = self._original_handler
        if not (isinstance(emitter, events.Emitter) and emitter.adopt_builtins()):
            super()._register_builtin_handlers(events_)

    def create_client(self, service_name: str, *args: Any, **kwargs: Any) -> Any:
        from aws_mcp_server.adapter import credentials

        check = self._aws_mcp_check
        if check is not None:
            caller = sys._getframe(1).f_globals.get("__name__", "")
            if caller not in _CREDENTIAL_MODULES:
                check(service_name)
        endpoint = self._aws_mcp_endpoint
        # endpoint_url is create_client's sixth parameter (index 4 after service_name).
        given = kwargs.get("endpoint_url") if len(args) < 5 else args[4]
        if endpoint and given is None and not _service_endpoint_configured(service_name):
            if len(args) >= 5:
                args = (*args[:4], endpoint, *args[5:])
            else:
                kwargs["endpoint_url"] = endpoint
        key = self._client_key(service_name, args, kwargs)
        if key is not None:
            client = CLIENTS.take(key)
            if client is not None:
                self._aws_mcp_taken.append((key, client, _changes(client)))
                return client
        try:
            client = super().create_client(service_name, *args, **kwargs)
        except botocore.exceptions.NoRegionError as exc:
            raise credentials.explain(exc, self) or exc from None
        if key is not None:
            CLIENTS.built += 1
            self._aws_mcp_taken.append((key, client, _changes(client)))
        return client

    def _client_key(self, service_name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """What the client `create_client` would build is a function of (see `_SharedClients`),
        or None when it is not to be shared."""
        log = self._aws_mcp_log
        if log is None or any(not _on_cli_event(event) for event, _ in log):
            return None
        excluded = _per_call_client_services()
        if excluded is None or service_name in excluded:
            return None
        try:
            given = dict(zip(_CREATE_CLIENT_PARAMS, args, strict=False))
            if set(given) & set(kwargs) or set(kwargs) - set(_CREATE_CLIENT_PARAMS):
                return None
            given.update(kwargs)
            config = given.pop("config", None)
            default = self.get_default_client_config()
            if config is not None and default is not None:
                config = default.merge(config)
            elif default is not None:
                config = default
            if config is not None and config.signature_version is botocore.UNSIGNED:
                creds: Any = "unsigned"
            elif given.get("aws_access_key_id") is not None:
                creds = "explicit"
            else:
                creds = self.get_credentials()
            if self.get_auth_token() is not None:
                return None
            files = _ParsedConfigs.key(
                self.get_config_variable("config_file"),
                self.get_config_variable("credentials_file"),
            )
            if files is None:
                return None  # a config file that may be changing right now: nothing shared
            context = botocore.context.get_context()
            features = frozenset(context.features) if context is not None else frozenset()
            return (
                service_name, repr(sorted(given.items())), _config_key(config),
                creds if isinstance(creds, str) or creds is None else ("shared", id(creds)),
                repr(sorted(self._session_instance_vars.items())), files, _environment(), self.user_agent(), features, self._aws_mcp_template,
            )
        except Exception:
            # Whatever failed fails again, with botocore's own error, in the real build.
            return None

    def _create_credential_resolver(self) -> Any:
        from aws_mcp_server.adapter import credentials

        self._aws_mcp_resolver = credentials.harden(super()._create_credential_resolver())
        return self._aws_mcp_resolver

    def get_credentials(self) -> Any:
        """The profile's shared credentials (see `credentials.SharedCredentials`), resolved
        through this session's chain only when no call resolved them before."""
        from aws_mcp_server.adapter import credentials

        current: Any = getattr(self, "_credentials", None)
        if current is None:
            key = credentials.credentials_key(self, self._aws_mcp_endpoint)

            def resolve() -> Any:
                try:
                    found = super(_CallSession, self).get_credentials()
                except Exception as exc:
                    better = credentials.explain(exc, self, getattr(self, "_aws_mcp_resolver", None))
                    if better is None:
                        raise
                    raise better from None
                if found is None:
                    # Nothing to sign with: fine for --no-sign-request; otherwise signing fails
                    # and the engine explains it.
                    return None
                refresh = getattr(found, "_refresh_using", None)
                if refresh is not None:
                    found._refresh_using = credentials.translating(
                        refresh, self, getattr(self, "_aws_mcp_resolver", None)
                    )
                return found

            current = credentials.SHARED.get(key, resolve)
            self._credentials = current
            ctx = capture.current()
            if ctx is not None and current is not None:
                ctx.credential_method = getattr(current, "method", None)
        return current


class _MainParsers:
    """awscli's top-level parser (global options and the command name), built once per shape.

    awscli builds it on every call from the command table and the global argument table (about
    0.9 ms). It is pure syntax: each global option's argparse spec (all of them awscli's
    `CustomArgument`, whose `add_to_parser` uses exactly the attributes in the key), the command
    names as choices, the version text. Parsing reads it and never changes it, so calls with
    the same shape share one; the command names come from a copy of the names alone, never from
    a call's command objects. Any other kind of global argument, or a value that cannot be part
    of a key, gets a parser of its own, as before.
    """

    def __init__(self, limit: int = 8) -> None:
        self.LIMIT = limit
        self._parsers: dict[Hashable, Any] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(command_table: Any, argument_table: Any, version: str, description: Any) -> Any:
        specs = []
        for name, argument in argument_table.items():
            if type(argument) is not awscli.arguments.CustomArgument:
                return None
            choices = argument._choices
            specs.append((
                name, argument.cli_name, argument._dest, argument._action, argument._default,
                tuple(choices) if choices else None, argument._required, argument._nargs,
                argument._const,
            ))
        key = (tuple(command_table), tuple(specs), version, description)
        try:
            hash(key)
        except TypeError:
            return None
        return key

    def get(self, key: Any, build: Callable[[], Any]) -> Any:
        parser = self._parsers.get(key)
        if parser is None:
            with self._lock:
                parser = self._parsers.get(key)
                if parser is None:
                    parser = build()
                    if len(self._parsers) >= self.LIMIT:
                        self._parsers.pop(next(iter(self._parsers)))
                    self._parsers[key] = parser
        return parser


class _GlobalArguments:
    """awscli's global options (`CustomArgument`s made from cli.json's `options`), made once.

    awscli makes them on every call (about 0.5 ms: a copy of each option's OrderedDict, and a
    scalar argument model with its own shape resolver for each typed option). They are a
    function of cli.json alone, which the shared loader gives every call as the same object:
    they are made again whenever it is another. Nothing changes them: parsing writes to the
    parse's namespace, help reads them. Every call still gets a table of its own (a new
    mapping of these objects) and its `building-top-level-params` event; when awscli itself
    registers a handler there (one that could change an argument in place), nothing is shared.
    """

    def __init__(self) -> None:
        self._kept: tuple[Any, tuple[tuple[str, Any], ...]] | None = None
        self._lock = threading.Lock()

    @staticmethod
    def shareable() -> bool:
        plan = cli_handlers.prepared()
        return plan is not None and "building-top-level-params" not in plan.events

    def items(self, driver: Any, options: Any) -> tuple[tuple[str, Any], ...]:
        kept = self._kept
        if kept is not None and kept[0] is options:
            return kept[1]
        table: OrderedDict[str, Any] = OrderedDict()
        for option in options:
            params = awscli.clidriver.copy_kwargs(options[option])
            driver._create_cli_argument(option, params).add_to_arg_table(table)
        made = tuple(table.items())
        with self._lock:
            self._kept = (options, made)
        return made


GLOBAL_ARGUMENTS = _GlobalArguments()


MAIN_PARSERS = _MainParsers()
SERVICE_PARSERS = _MainParsers(limit=64)
"""A service's parser (its operation names as choices): pure syntax, as the top-level one."""


class _NotPlain(Exception):
    """An argument does more to its parser than `add_argument` with plain values."""


class _SpecRecorder:
    """What `add_to_parser` is given to learn an argument's argparse spec: `add_argument` with
    plain values is recorded; anything else it asks of the parser raises `_NotPlain` (not an
    AttributeError, which `hasattr` would swallow)."""

    __slots__ = ("calls",)

    def __init__(self) -> None:
        self.calls: list[Hashable] = []

    def add_argument(self, *args: Any, **kwargs: Any) -> None:
        for name in ("default", "const"):
            # argparse puts these objects themselves into every parse: a list or dict there
            # would be one object in every call's parsed arguments.
            if type(kwargs.get(name)) in (list, dict, set):
                raise _NotPlain(name)
        self.calls.append((_plain(args), _plain(tuple(sorted(kwargs.items())))))

    def __getattr__(self, name: str) -> Any:
        raise _NotPlain(name)


def _plain(value: Any, depth: int = 0) -> Hashable:
    """`value` as part of a key, if it is plain: None, a string, a number, a class, a
    module-level function without closure (the same object in every call), or a tuple, list or
    frozenset of such (a list is marked, so it never equals a tuple). Anything else (an
    instance, a bound method, a closure, a dict) raises `_NotPlain`."""
    kind = type(value)
    if value is None or kind in (str, int, float, bool):
        return value  # type: ignore[no-any-return]
    if depth > 4:
        raise _NotPlain(repr(value)[:80])
    if kind is tuple or kind is list or kind is frozenset:
        items = tuple(_plain(item, depth + 1) for item in value)
        return items if kind is tuple else (kind.__name__, items)
    if isinstance(value, type):
        return value
    if kind is types.FunctionType and value.__closure__ is None and not value.__dict__:
        module = sys.modules.get(value.__module__)
        if module is not None and getattr(module, value.__qualname__, None) is value:
            return value
    raise _NotPlain(repr(value)[:80])


class _OperationParsers(_MainParsers):
    """An API operation's parser (`ArgTableArgParser` over its argument table, with awscli's
    `help` positional), built once per spec.

    awscli builds it on every call (about 1 ms: an argparse action, a help formatter and a
    terminal-size lookup per option). The key is the operation's whole argparse spec, learnt by
    giving every argument's own `add_to_parser` a recorder (`_SpecRecorder`): each
    `add_argument` call with its values, all plain. An argument that does anything else to the
    parser, or passes anything but plain values (an instance, a bound method, a closure), gets
    the operation a parser of its own, as awscli builds it. Parsing reads the parser and never
    changes it; what a call's arguments do with the parsed values stays with the call's own
    argument objects.
    """

    @staticmethod
    def spec(argument_table: Any) -> Hashable | None:
        recorder = _SpecRecorder()
        try:
            for name in argument_table:
                argument_table[name].add_to_parser(recorder)
        except _NotPlain:
            return None
        return ("operation", tuple(recorder.calls))


OPERATION_PARSERS = _OperationParsers(limit=128)
_SHARED_PARSER = "_aws_mcp_shared"
"""The attribute marking a parser as shared: awscli's `_add_help` must not add to it."""


def _operation_parser(operation: Any, arg_table: Any) -> Any:
    """`ServiceOperation._create_operation_parser` for the operations of a call's tables."""
    key = OPERATION_PARSERS.spec(arg_table)
    if key is None:
        return awscli.clidriver.ServiceOperation._create_operation_parser(operation, arg_table)

    def build() -> Any:
        parser = awscli.clidriver.ServiceOperation._create_operation_parser(operation, arg_table)
        awscli.clidriver.ServiceOperation._add_help(operation, parser)
        setattr(parser, _SHARED_PARSER, True)
        return parser

    return OPERATION_PARSERS.get(key, build)


def _add_help(operation: Any, parser: Any) -> None:
    """`ServiceOperation._add_help`, which a shared parser already has."""
    if not getattr(parser, _SHARED_PARSER, False):
        awscli.clidriver.ServiceOperation._add_help(operation, parser)


_PENDING = object()
"""A command table entry not made yet (see `LazyTable`)."""


class _Deferred:
    """An entry made by `make()` when first read; with `lineage`, the table's lineage is given
    to it then (an entry awscli would have had in the table when its lineage was added)."""

    __slots__ = ("lineage", "make")

    def __init__(self, make: Callable[[], Any], lineage: bool = False) -> None:
        self.make = make
        self.lineage = lineage


class LazyTable(MutableMapping[str, Any]):
    """A command table whose entries are made the first time they are looked up.

    awscli builds the top-level table with a `ServiceCommand` for each of its ~430 services, and
    a service's table with a `ServiceOperation` (its operation model, its caller) for every
    operation, on every call: about 2 ms and 1,500 objects in reference cycles (each command's
    lineage holds the command) that only the garbage collector frees; a call uses one of each.
    Here the names are listed as awscli lists them and an entry is made, exactly as awscli makes
    it, when something reads it. The customizations that edit a table (`building-command-table`
    handlers add, replace, rename and delete entries) see a mapping with the same names in the
    same order; reading an entry makes it, so they read what awscli would give them. Iterating
    lists names, not entries (as a dict does); `items()` and `values()` make every entry.
    """

    __slots__ = ("_entries", "_lineage", "_make")

    def __init__(self, make: Callable[[str], Any]) -> None:
        self._entries: dict[str, Any] = {}
        self._make = make
        self._lineage: list[Any] | None = None

    def add_pending(self, name: str) -> None:
        self._entries[name] = _PENDING

    def defer(self, name: str, make: Callable[[], Any]) -> None:
        """An entry made by `make()` when first read (awscli's help commands, which a call
        reads only to render help)."""
        self._entries[name] = _Deferred(make)

    def wrap(self, name: str, change: Callable[[Any], Any]) -> None:
        """The entry becomes `change(entry)`, both made when first read (`name` must be listed):
        what a `building-command-table` handler replacing an entry would do, when it is read."""
        inner = self._entries[name]
        if isinstance(inner, _Deferred):
            deferred = inner
            self._entries[name] = _Deferred(lambda: change(deferred.make()), deferred.lineage)
        elif inner is _PENDING:
            self._entries[name] = _Deferred(lambda: change(self._make(name)), lineage=True)
        else:
            self._entries[name] = change(inner)

    def _made(self, name: str, value: Any) -> Any:
        if type(value) is _Deferred:
            made = value.make()
            if not value.lineage:
                return made
        else:
            made = self._make(name)
        if self._lineage is not None:
            made.lineage = [*self._lineage, made]
        return made

    def is_made(self, name: str) -> bool:
        value = self._entries.get(name, _PENDING)
        return value is not _PENDING and type(value) is not _Deferred

    def set_lineage(self, lineage: list[Any]) -> None:
        """What awscli's `_add_lineage` does to every entry, done to each as it is made."""
        self._lineage = lineage
        for value in self._entries.values():
            if value is not _PENDING and type(value) is not _Deferred:
                value.lineage = [*lineage, value]

    def __getitem__(self, name: str) -> Any:
        value = self._entries[name]
        if value is _PENDING or type(value) is _Deferred:
            value = self._entries[name] = self._made(name, value)
        return value

    def __setitem__(self, name: str, value: Any) -> None:
        self._entries[name] = value

    def __delitem__(self, name: str) -> None:
        del self._entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def keys(self) -> KeysView[str]:
        return self._entries.keys()


class _LazyServiceCommand(awscli.clidriver.ServiceCommand):  # type: ignore[misc]
    """awscli's `ServiceCommand`, whose table of operations is a `LazyTable`."""

    def _create_command_table(self) -> Any:
        # As awscli's, with each ServiceOperation made when looked up.
        service_model = self._get_service_model()
        operations: dict[str, str] = {}

        def make(cli_name: str) -> Any:
            operation = awscli.clidriver.ServiceOperation(
                name=cli_name,
                parent_name=self._name,
                session=self.session,
                operation_model=service_model.operation_model(operations[cli_name]),
                operation_caller=awscli.clidriver.CLIOperationCaller(self.session),
            )
            # Its parser shared by spec (see `_OperationParsers`); the object stays awscli's
            # own class, which is what blocking and classification look at.
            operation._create_operation_parser = functools.partial(_operation_parser, operation)
            operation._add_help = functools.partial(_add_help, operation)
            return operation

        command_table = LazyTable(make)
        for operation_name in service_model.operation_names:
            cli_name = xform_name(operation_name, "-")
            operations[cli_name] = operation_name
            command_table.add_pending(cli_name)
        self.session.emit(
            f"building-command-table.{self._name}",
            command_table=command_table,
            session=self.session,
            command_object=self,
        )
        self._add_lineage(command_table)
        return command_table

    def _add_lineage(self, command_table: Any) -> None:
        if isinstance(command_table, LazyTable):
            command_table.set_lineage(self.lineage)
        else:
            super()._add_lineage(command_table)

    def _create_parser(self) -> Any:
        # As awscli's, with the help command made only if read, and the parser (the operation
        # names as choices, nothing else) shared by every call of a service with the same names.
        command_table = self._get_command_table()
        if not isinstance(command_table, LazyTable):
            return super()._create_parser()
        command_table.defer("help", self.create_help_command)
        key = (self._name, tuple(command_table))
        return SERVICE_PARSERS.get(key, lambda: awscli.argparser.ServiceArgParser(
            operations_table=dict.fromkeys(command_table), service_name=self._name
        ))


class _CallDriver(awscli.clidriver.CLIDriver):  # type: ignore[misc]
    """awscli's CLIDriver, with its top-level parser shared between calls of the same shape
    (see `_MainParsers`) and its command tables made as they are read (see `LazyTable`);
    everything else is per driver, as in awscli."""

    def _build_builtin_commands(self, session: Any) -> Any:
        # As awscli's, with each ServiceCommand made when looked up (see `LazyTable`).
        def make(name: str) -> Any:
            return _LazyServiceCommand(cli_name=name, session=self.session, service_name=name)

        commands = LazyTable(make)
        for service_name in session.get_available_services():
            commands.add_pending(service_name)
        return commands

    def _build_argument_table(self) -> Any:
        # As awscli's, with the arguments themselves made once (see `_GlobalArguments`).
        options = self._get_cli_data().get("options", None)
        if options is None or not GLOBAL_ARGUMENTS.shareable():
            return super()._build_argument_table()
        argument_table = OrderedDict(GLOBAL_ARGUMENTS.items(self, options))
        self.session.emit("building-top-level-params", argument_table=argument_table)
        return argument_table

    def _create_parser(self, command_table: Any) -> Any:
        # As awscli's: the help command goes into this call's own table (made if read).
        if isinstance(command_table, LazyTable):
            command_table.defer("help", self.create_help_command)
        else:
            command_table["help"] = self.create_help_command()
        description = self._get_cli_data().get("description", None)
        arguments = self._get_argument_table()
        version = self.session.user_agent()
        key = MAIN_PARSERS.key(command_table, arguments, version, description)

        def build(table: Any = command_table) -> Any:
            return awscli.argparser.MainArgParser(
                table, version, description, arguments, prog="aws"
            )

        if key is None:
            return build()
        # The shared parser's choices are the names alone, not this call's command objects.
        return MAIN_PARSERS.get(key, lambda: build(dict.fromkeys(command_table)))


def _service_endpoint_configured(service_name: str) -> bool:
    """True when the environment names an endpoint for this one service
    (`AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL_SSO`...): the user's choice beats the server-wide
    endpoint."""
    name = "AWS_ENDPOINT_URL_" + service_name.upper().replace("-", "_").replace(" ", "_")
    return bool(os.environ.get(name))


def _prune_awscli(hooks: Any) -> None:
    """What of awscli's own handlers no call's session keeps (once to the template, see
    `cli_handlers.pruned`): the history's sqlite writer, and the assumed-role file cache (awscli
    would keep assumed-role credentials in ~/.aws/cli/cache; they stay in memory here). And
    awscli's preview marking, replaced by one that does its work when the command is read."""
    hooks.unregister("session-initialized", attach_history_handler)
    hooks.unregister("session-initialized", unique_id="inject_assume_role_cred_provider_cache")
    hooks.unregister("building-command-table.main", preview.mark_as_preview)
    hooks.register("building-command-table.main", _mark_as_preview)


def _mark_as_preview(command_table: Any, session: Any, **kwargs: Any) -> None:
    """awscli's `mark_as_preview`, with each preview service's command (and the `[preview]`
    section of the config file it reads) made when the command is read. awscli does it on every
    call: the whole config parse, a command object and a new class for a service in preview
    (`sdb`) that almost no call uses. The other `building-command-table.main` handlers never
    read those entries, so doing it at the first read gives them awscli's own objects."""
    if not isinstance(command_table, LazyTable):
        preview.mark_as_preview(command_table, session, **kwargs)
        return
    emitter = session.get_component("event_emitter")
    for name in preview.PREVIEW_SERVICES:
        if name in command_table:
            command_table.wrap(name, functools.partial(_in_preview, session, name))
        emitter.register_last(f"doc-description.{name}", preview.update_description_with_preview)


def _in_preview(session: Any, name: str, original: Any) -> Any:
    """What awscli's `mark_as_preview` puts in the table in place of `original` (`name`)."""
    command_class: Any = type(original)
    return _preview_class(command_class)(
        cli_name=original.name,
        session=session,
        service_name=original.service_model.service_name,
        is_enabled=name in preview._get_allowed_services(session),
    )


@functools.cache
def _preview_class(command_class: type) -> type:
    """awscli's class for a command in preview, made once per command class (awscli makes it
    on every call; a class is a cycle only the garbage collector frees)."""
    namespace = {"__module__": preview.__name__, "__qualname__": "PreviewCommand"}
    return type("PreviewCommand", (preview.PreviewModeCommandMixin, command_class), namespace)


def new_driver(
    profile: str | None = None,
    region: str | None = None,
    *,
    endpoint_url: str | None = None,
    client_check: Callable[[str], None] | None = None,
    user_config: bool = True,
) -> Any:
    """A fresh awscli CLIDriver on its own session, with `profile` and `region` if given.

    Every driver, whatever it is for (a run, validation, resolution), carries the runtime guards
    (see `runtime_guards`): local files only inside the workdir of the call it runs in (none at
    all outside a call), no URL fetched. `endpoint_url` is where every client of the session goes unless it names its own;
    `client_check(service)` runs before each client the command creates (not the credential
    providers') and raises to refuse it. `user_config=False` gives a session that reads neither
    the user's config nor credentials file: for resolving commands and rendering help, which
    must work (and mean the same) whatever those files say, broken ones included.
    """
    from aws_mcp_server.adapter import runtime_guards

    emitter = events.Emitter()
    session = _CallSession(awscli.EnvironmentVariables, event_hooks=emitter)
    session._aws_mcp_endpoint = endpoint_url
    session._aws_mcp_check = client_check
    session.register_component("data_loader", _LOADER)
    if not user_config:
        session.set_config_variable("config_file", os.devnull)
        session.set_config_variable("credentials_file", os.devnull)
    if profile:
        session.set_config_variable("profile", profile)
    if region:
        session.set_config_variable("region", region)
    awscli.clidriver._set_user_agent_for_session(session)
    session.set_stream_logger = _no_stream_logger
    hooks = session.get_component("event_emitter")
    session._aws_mcp_taken = []
    # The built-in plugin only: config `[plugins]` would import arbitrary modules. Its shared
    # handlers come from a template, its stateful ones are made for this call (`cli_handlers`).
    templated = cli_handlers.initialize(hooks, prune=_prune_awscli)
    if not templated:
        awscli.handlers.awscli_initialize(hooks)
        _prune_awscli(hooks)
    hooks.register("before-call", _check_token)
    hooks.register("before-send", _count_request)
    hooks.register_last("top-level-args-parsed", _bound_timeouts)
    # The local-file and URL guards, first on their events so they run before awscli's loaders.
    runtime_guards.register(hooks)
    if templated and emitter.origin is not None:
        # Set up as every call's session: its clients can be shared (see `_SharedClients`).
        session._aws_mcp_template = emitter.origin
        session._aws_mcp_log = emitter.log = []
    driver = _CallDriver(session=session)
    # User aliases can shadow real commands, and `!cmd` aliases run a shell.
    driver._add_aliases = lambda command_table, parser: None
    return driver


def release(cli: Any, *, reusable: bool) -> None:
    """The call that ran on `cli` ended: give back the shared clients it took (when `reusable`,
    and only those on which nothing was registered since it took them)."""
    session = cli.session
    taken = getattr(session, "_aws_mcp_taken", None)
    if not taken:
        return
    session._aws_mcp_taken = []
    if not reusable:
        return
    for key, client, changes in taken:
        if changes is not None and _changes(client) == changes:
            CLIENTS.give(key, client)


def explain(exc: BaseException) -> str | None:
    """What to tell the user about an exception raised around awscli (not inside its `main`,
    which reports its own), when we know better than its type and text."""
    if isinstance(exc, botocore.exceptions.ConfigParseError):
        from aws_mcp_server import profiles

        problem = profiles.files_problem()
        return str(problem) if problem is not None else str(exc)
    if isinstance(exc, AwsMcpError):
        return str(exc)
    return None


WARM_SERVICES = ("s3", "ec2", "sts", "iam", "sqs", "dynamodb", "lambda", "cloudformation", "logs")


def warm_up(services: tuple[str, ...] = WARM_SERVICES, *, freeze: bool = True) -> None:
    """Parse the models and rulesets most calls need once, then (with `freeze`, only when no
    call is running) move everything built so far out of the garbage collector's reach: the
    parsed models are large, long-lived and acyclic-enough that re-scanning them on every full
    collection was the p95 tail (about 200 ms)."""
    cli = new_driver()
    session = cli.session
    cli._get_command_table()
    _LOADER.load_data("endpoints")
    _LOADER.load_data("partitions")
    for service in services:
        session.get_service_model(service)
        _LOADER.load_service_model(service, "endpoint-rule-set-1")
    if freeze:
        gc.collect()
        gc.freeze()
