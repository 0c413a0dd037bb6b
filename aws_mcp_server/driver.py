"""The one owner of awscli: process set-up, and a cheap, fresh CLI driver for every call.

Importing this module installs the stdout/stdin proxies (they must be in place before awscli
binds any stream) and then imports awscli *before* botocore: awscli 1.46 ships its own botocore
and aliases `import botocore` to it, and whichever copy loads first wins for the whole process.

Per call we build a new botocore Session and CLIDriver (a reused driver keeps `--region` and the
previous profile's cached credentials). What makes that cheap is shared, immutable or pure work:
one parsed-model `Loader`, one endpoint-ruleset cache, one event-alias cache, and no per-handler
`inspect` signature check. Every handler object is still created per session: several are
stateful (the shorthand parser, the IAM MFA wrapper, a DynamoDB paginator fix).

Process-wide state awscli would otherwise leak or touch, neutralised here once:
  * logger handlers: the driver adds a stream handler to the `awscli` logger on every call;
  * colorama: `--color on` wraps `sys.stdout` for the whole process;
  * CLI history: `cli_history = enabled` adds a sqlite handler to a global recorder per call;
  * aliases (`~/.aws/cli/alias`, where `!cmd` runs a shell) and config `[plugins]` (arbitrary
    imports) are never loaded;
  * help is rendered to plain text in-process instead of through groff and a pager;
  * retry, waiter and live-tail sleeps wait on the call's cancel token.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from aws_mcp_server import capture

capture.install()

import awscli  # noqa: E402  (must come before botocore: see the module docstring)
import awscli.clidriver  # noqa: E402
import awscli.formatter  # noqa: E402
import awscli.handlers  # noqa: E402
import awscli.help  # noqa: E402
import awscli.table  # noqa: E402
import botocore  # noqa: E402
import botocore.client  # noqa: E402
import botocore.credentials  # noqa: E402
import botocore.endpoint  # noqa: E402
import botocore.exceptions  # noqa: E402
import botocore.hooks  # noqa: E402
import botocore.httpsession  # noqa: E402
import botocore.loaders  # noqa: E402
import botocore.regions  # noqa: E402
import botocore.retries.bucket  # noqa: E402
import botocore.session  # noqa: E402
import botocore.tokens  # noqa: E402
import botocore.waiter  # noqa: E402
from awscli.customizations.history import attach_history_handler  # noqa: E402
from awscli.customizations.s3.syncstrategy.base import BaseSync  # noqa: E402
from botocore.config import Config  # noqa: E402

from aws_mcp_server import helptext  # noqa: E402
from aws_mcp_server.errors import AwsMcpError  # noqa: E402

AWSCLI_VERSION: str = awscli.__version__
BOTOCORE_VERSION: str = botocore.__version__

_AWSCLI_DIR = os.path.dirname(os.path.abspath(awscli.__file__))
if not os.path.abspath(botocore.__file__).startswith(_AWSCLI_DIR):
    raise ImportError(
        f"botocore was imported from {botocore.__file__} before awscli could install its own copy; "
        "import aws_mcp_server.driver before anything imports botocore or boto3"
    )

# Upper bounds on socket waits, whatever the command asks (`--cli-read-timeout 0` means forever).
MAX_CONNECT_TIMEOUT = 10
MAX_READ_TIMEOUT = 60


class _Emitter(botocore.hooks.HierarchicalEmitter):  # type: ignore[misc]
    """The stock emitter without its per-registration `inspect` check (~385 handlers per call).

    The check only guards against handlers that do not take **kwargs; every handler registered
    here comes from awscli/botocore themselves or from this package.
    """

    def _verify_accept_kwargs(self, func: Any) -> None:
        return None


_alias_cache: dict[str, str] = {}
_original_aliaser_init = botocore.hooks.EventAliaser.__init__


def _aliaser_init(self: Any, event_emitter: Any, event_aliases: Any = None) -> None:
    _original_aliaser_init(self, event_emitter, event_aliases)
    if event_aliases is None:
        # Aliasing an event name is a pure function of the name under the default alias table.
        self._alias_name_cache = _alias_cache


_provider_cache: dict[tuple[int, int, frozenset[str]], Any] = {}
_provider_lock = threading.Lock()
_OriginalEndpointProvider = botocore.regions.EndpointProvider


def _cached_endpoint_provider(
    ruleset_data: Any, partition_data: Any, excluded_params: Any = None
) -> Any:
    """Build each service's endpoint ruleset once (6 ms for s3); evaluation is pure."""
    key = (id(ruleset_data), id(partition_data), frozenset(excluded_params or ()))
    provider = _provider_cache.get(key)
    if provider is None:
        with _provider_lock:
            provider = _provider_cache.get(key)
            if provider is None:
                provider = _OriginalEndpointProvider(ruleset_data, partition_data, excluded_params)
                # Keep the data alive with the provider so that its id is never reused.
                provider._aws_mcp_keep = (ruleset_data, partition_data)
                _provider_cache[key] = provider
    return provider


_client_classes: dict[tuple[str, int], tuple[Any, Any]] = {}
_original_create_client_class = botocore.client.ClientCreator._create_client_class


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
        with _provider_lock:
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
        with _provider_lock:
            session = _http_sessions.get(key)
            if session is None:
                if len(_http_sessions) >= MAX_HTTP_SESSIONS:
                    oldest = next(iter(_http_sessions))
                    botocore.httpsession.URLLib3Session.close(_http_sessions.pop(oldest))
                session = _http_sessions[key] = _SharedHTTPSession(**kwargs)
    return session


_original_create_endpoint = botocore.endpoint.EndpointCreator.create_endpoint


def _create_endpoint(self: Any, *args: Any, **kwargs: Any) -> Any:
    kwargs.setdefault("http_session_cls", _shared_http_session)
    return _original_create_endpoint(self, *args, **kwargs)


class _TokenTime:
    """Stands in for the `time` module where botocore and awscli sleep between attempts."""

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


def _patch_process() -> None:
    botocore.hooks.EventAliaser.__init__ = _aliaser_init
    botocore.regions.EndpointProvider = _cached_endpoint_provider
    botocore.client.ClientCreator._create_client_class = _cached_client_class
    botocore.endpoint.EndpointCreator.create_endpoint = _create_endpoint
    token_time = _TokenTime()
    botocore.waiter.time = token_time
    botocore.endpoint.time = token_time
    botocore.retries.bucket.time = token_time
    try:
        import awscli.customizations.logs.startlivetail as live_tail

        live_tail.time = token_time
    except ImportError:  # pragma: no cover - older awscli without live tail
        pass
    BaseSync.add_sync_argument = _add_sync_argument_once
    awscli.formatter.JSONFormatter._format_response = _json_response
    awscli.table.colorama = _NoColorama(awscli.table.colorama)
    awscli.help.get_renderer = helptext.PlainTextRenderer


_patch_process()

# botocore logs at INFO ("Found credentials in ...") through whatever handlers the host process
# configured; inside a call those write to the call's captured stderr. Only warnings and up.
for _name in ("botocore", "awscli", "s3transfer", "urllib3"):
    logging.getLogger(_name).setLevel(logging.WARNING)
# A failed credential refresh is logged as a warning with its traceback, then raised: the raised
# error is explained to the user (see `credentials`), the traceback is noise.
logging.getLogger("botocore.credentials").setLevel(logging.ERROR)

_DATA_PATH = botocore.session.Session().get_config_variable("data_path")
_LOADER = botocore.loaders.create_loader(_DATA_PATH)


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


class _CallSession(botocore.session.Session):  # type: ignore[misc]
    """One call's session: every client it creates goes to the call's endpoint and is checked.

    awscli passes `--endpoint-url` only to the client of the command's own service; the clients
    customizations build for other services (IAM roles, trail and config subscriptions, S3
    uploads) and the credential providers' STS and SSO clients would go to AWS's own hosts.
    """

    _aws_mcp_endpoint: str | None = None
    _aws_mcp_check: Callable[[str], None] | None = None

    def create_client(self, service_name: str, *args: Any, **kwargs: Any) -> Any:
        from aws_mcp_server import credentials

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
        try:
            return super().create_client(service_name, *args, **kwargs)
        except botocore.exceptions.NoRegionError as exc:
            raise credentials.explain(exc, self) or exc from None

    def _create_credential_resolver(self) -> Any:
        from aws_mcp_server import credentials

        self._aws_mcp_resolver = credentials.harden(super()._create_credential_resolver())
        return self._aws_mcp_resolver

    def get_credentials(self) -> Any:
        """The profile's shared credentials (see `credentials.SharedCredentials`), resolved
        through this session's chain only when no call resolved them before."""
        from aws_mcp_server import credentials

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


def _service_endpoint_configured(service_name: str) -> bool:
    """True when the environment names an endpoint for this one service
    (`AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL_SSO`...): the user's choice beats the server-wide
    endpoint."""
    name = "AWS_ENDPOINT_URL_" + service_name.upper().replace("-", "_").replace(" ", "_")
    return bool(os.environ.get(name))


def new_driver(
    profile: str | None = None,
    region: str | None = None,
    *,
    workdir: str | os.PathLike[str] | None = None,
    endpoint_url: str | None = None,
    client_check: Callable[[str], None] | None = None,
    user_config: bool = True,
) -> Any:
    """A fresh awscli CLIDriver on its own session, with `profile` and `region` if given.

    Every driver, whatever it is for (a run, validation, resolution), carries the runtime guards
    (see `runtime_guards`): local files only inside `workdir` (none at all without one), no URL
    fetched. `endpoint_url` is where every client of the session goes unless it names its own;
    `client_check(service)` runs before each client the command creates (not the credential
    providers') and raises to refuse it. `user_config=False` gives a session that reads neither
    the user's config nor credentials file: for resolving commands and rendering help, which
    must work (and mean the same) whatever those files say, broken ones included.
    """
    from aws_mcp_server import runtime_guards

    emitter = _Emitter()
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
    events = session.get_component("event_emitter")
    # The built-in plugin only: config `[plugins]` would import arbitrary modules.
    awscli.handlers.awscli_initialize(events)
    events.unregister("session-initialized", attach_history_handler)
    # awscli would keep assumed-role credentials in ~/.aws/cli/cache; they stay in memory here.
    events.unregister("session-initialized", unique_id="inject_assume_role_cred_provider_cache")
    events.register("before-call", _check_token)
    events.register("before-send", _count_request)
    events.register_last("top-level-args-parsed", _bound_timeouts)
    # The local-file and URL guards, first on their events so they run before awscli's loaders.
    guard = runtime_guards.register(events, workdir)
    driver = awscli.clidriver.CLIDriver(session=session)
    driver._aws_mcp_guard = guard
    # User aliases can shadow real commands, and `!cmd` aliases run a shell.
    driver._add_aliases = lambda command_table, parser: None
    return driver


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


def guard_of(driver: Any) -> Any:
    """The `runtime_guards.RuntimeGuard` of a driver from `new_driver` (its refusals so far)."""
    return driver._aws_mcp_guard


WARM_SERVICES = ("s3", "ec2", "sts", "iam", "sqs", "dynamodb", "lambda", "cloudformation", "logs")


def warm_up(services: tuple[str, ...] = WARM_SERVICES) -> None:
    """Parse the models and rulesets most calls need once, then move everything built so far out
    of the garbage collector's reach: the parsed models are large, long-lived and acyclic-enough
    that re-scanning them on every full collection was the p95 tail (about 200 ms)."""
    cli = new_driver()
    session = cli.session
    cli._get_command_table()
    _LOADER.load_data("endpoints")
    _LOADER.load_data("partitions")
    for service in services:
        session.get_service_model(service)
        _LOADER.load_service_model(service, "endpoint-rule-set-1")
    gc.collect()
    gc.freeze()
