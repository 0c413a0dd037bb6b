"""The HTTP transports: one ASGI app, served by uvicorn, safe by default.

    app = build_app(settings, server)        # for tests and embedding
    run_http(settings, server)               # `aws-mcp-server --transport http`

Routes (every MCP path behind the same Host/Origin check, body limit and optional bearer token):

    /mcp                      streamable HTTP (POST, GET stream, DELETE); both protocol generations
                              (initialize-based up to 2025-11-25, and 2026-07-28); sessions unless
                              --stateless
    POST /                    plain JSON-RPC for simple clients: one request in, one JSON response
                              out, no session, no initialize needed, no SSE framing
    GET  /sse-transport/sse   the legacy SSE transport (2024-11-05); it tells the client to POST
    POST /sse-transport/messages                                          its messages here
    GET  /health              liveness and versions; no token, no MCP

All MCP handling is the SDK's: its session managers (a stateless JSON-response one serves
`POST /`), its SSE transport, its DNS-rebinding check and bearer-auth middleware. This module
wires them together, decides the safety settings, and holds every POST to the limits first
(`_Exchange`): the body size (413), the time to send it (408), a request id the SDK would mistake
for a notification (-32600), and on `POST /` a client that goes away (its call is cancelled).

Limits at the connection level are uvicorn's (`uvicorn_kwargs`): at most --max-connections
connections are served at once (beyond, 503 at once), a request head of at most
`MAX_HEADER_BYTES` (beyond, 400 and the connection closed), `KEEP_ALIVE_SECONDS` between
requests on one connection. uvicorn's h11 protocol has no timeout for reading a request head, so
`_DeadlineH11Protocol` adds one (--request-timeout): a client that sends its headers a byte at a
time (slowloris) is answered 408 and dropped, rather than holding one of those connections for as
long as it likes. `_Exchange` bounds the body by the same time.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import hmac
import importlib.metadata
import ipaddress
import json
import logging
import secrets
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import h11
import uvicorn
import uvicorn.supervisors
from mcp.server import MCPServer
from mcp.server.auth.middleware.bearer_auth import BearerAuthBackend, RequireAuthMiddleware
from mcp.server.auth.provider import AccessToken
from mcp.server.lowlevel.server import Server
from mcp.server.sse import SseServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from mcp_types import INVALID_REQUEST
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from aws_mcp_server import __version__
from aws_mcp_server.errors import ConfigError
from aws_mcp_server.settings import (
    DEFAULT_REQUEST_TIMEOUT,
    Settings,
    connection_limit,
    open_file_limit,
)

log = logging.getLogger("aws_mcp_server.http")

# The version awscli's distribution declares: read without importing awscli, which only the
# adapter does (importing it installs the stream capture and every patch).
AWSCLI_VERSION = importlib.metadata.version("awscli")

MAX_HEADER_BYTES = 16 * 1024
"""Largest request head (request line and headers) uvicorn's h11 parser buffers: above it the
request is answered 400 and the connection closed. h11's own default, stated here so that it is a
decision: a bearer token and a browser's headers take well under 4 KiB."""

KEEP_ALIVE_SECONDS = 5
"""How long an idle keep-alive connection is kept after a response (uvicorn's default). It does
not bound a client that is slow to send a request head (uvicorn stops it at the first byte):
--request-timeout does (`_DeadlineH11Protocol`)."""

GRACEFUL_SHUTDOWN_SECONDS = 10
"""On SIGINT/SIGTERM, plain JSON requests in flight get this long to finish before they are
cancelled. Streamed (SSE) responses are closed at once by sse-starlette, which cancels a command
running on one (the audit log records it `cancelled`) instead of holding shutdown for idle streams."""

_REQUEST_TIMEOUT_BODY = (
    b"Request Timeout: the request head was not received in time (--request-timeout); "
    b"send the whole request at once.\n"
)

# What _DeadlineH11Protocol overrides or reads of uvicorn's and h11's, checked once here: an
# upgrade that renames one fails at import, not silently drops the deadline.
for _owner, _name in ((H11Protocol, "connection_made"), (H11Protocol, "connection_lost"),
                      (H11Protocol, "data_received"), (H11Protocol, "on_response_complete"),
                      (h11.Connection, "their_state"), (h11.Connection, "our_state"),
                      (h11.Connection, "trailing_data")):
    if not hasattr(_owner, _name):
        raise ImportError(
            f"{_owner.__module__}.{_owner.__qualname__}.{_name} is gone: the request-head "
            "deadline (_DeadlineH11Protocol) needs updating for this uvicorn/h11"
        )


class _DeadlineH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for the request head (--request-timeout).

    The timer runs from the connection's start, and again from the end of each response on a
    kept-alive connection; it stops as soon as h11 has a whole request head (the client's state
    leaves IDLE). When it fires first, the client is answered `408 Request Timeout` and the
    connection closed: a slow-header client (slowloris) otherwise holds its connection, one of
    --max-connections, for as long as it trickles. A kept-alive connection on which nothing at
    all has arrived is closed without a 408, as uvicorn's own keep-alive timeout does: a 408
    there could be read by the client as the answer to the request it is about to send.

    After a response that left part of the request body unread (an early 413 or 408), the timer
    runs too, and closes the connection if the client is still sending it. The response side and
    the time a request takes to be served are not bounded here.
    """

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self._request_timeout: float = getattr(config, "request_timeout", DEFAULT_REQUEST_TIMEOUT)
        self._head_timer: asyncio.TimerHandle | None = None
        self._answered_one = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE and self.conn.our_state is not h11.DONE:
            self._stop_head_timer()  # a whole head is in: the request is being served

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._answered_one = True
        # Their state is IDLE before the next request, or SEND_BODY if this answer came before
        # the whole body (a pipelined request already read leaves ours at SEND_RESPONSE).
        unread_body = self.conn.their_state is h11.SEND_BODY and self.conn.our_state is h11.DONE
        if not self.transport.is_closing() and (self.conn.their_state is h11.IDLE or unread_body):
            self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def _arm_head_timer(self) -> None:
        self._stop_head_timer()
        self._head_timer = self.loop.call_later(self._request_timeout, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        conn = self.conn
        if conn.their_state is h11.IDLE and conn.our_state is h11.IDLE:
            pending, _ = conn.trailing_data
            if self._answered_one and not pending:
                self._close_quietly()
                return
            log.info("%s: no whole request head within %g s (--request-timeout): 408",
                     _peer(self.client), self._request_timeout)
            self._send_408()
        elif conn.our_state is h11.DONE and conn.their_state is h11.SEND_BODY:
            # Answered already; the client is still sending a body nobody will read.
            self._close_quietly()

    def _close_quietly(self) -> None:
        with contextlib.suppress(h11.LocalProtocolError):
            self.conn.send(h11.ConnectionClosed())
        self.transport.close()

    def _send_408(self) -> None:
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(_REQUEST_TIMEOUT_BODY)).encode()),
            (b"connection", b"close"),
        ]
        events = (h11.Response(status_code=408, headers=headers, reason=b"Request Timeout"),
                  h11.Data(data=_REQUEST_TIMEOUT_BODY), h11.EndOfMessage())
        with contextlib.suppress(h11.LocalProtocolError):
            output = b"".join(self.conn.send(event) or b"" for event in events)
            self.transport.write(output)
        self.transport.close()


def _peer(client: tuple[str, int] | None) -> str:
    return f"{client[0]}:{client[1]}" if client else "a client"


MCP_PATH = "/mcp"
SSE_PATH = "/sse-transport/sse"
SSE_MESSAGES_PATH = "/sse-transport/messages"

_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
_WILDCARD_HOSTS = ("0.0.0.0", "::", "")


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback addresses (127.0.0.0/8, ::1); False for anything else."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(settings: Settings) -> None:
    """Refuse a non-loopback bind without a token unless --allow-remote says so."""
    if is_loopback(settings.host) or settings.auth_token or settings.allow_remote:
        return
    raise ConfigError(
        f"refusing to listen on {settings.host!r} without an auth token: anyone who can reach "
        "that address could run AWS commands with this machine's credentials.",
        rule="http:remote-bind",
        fix="Pass --auth-token TOKEN (or set AWS_MCP_AUTH_TOKEN); or --allow-remote if a proxy in "
        "front of this server authenticates every request; or bind --host 127.0.0.1.",
    )


def _host_header_form(host: str) -> str:
    """How `host` appears in a Host header: IPv6 literals are bracketed."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host.lower()
    return f"[{address}]" if address.version == 6 else str(address)


def security_settings(settings: Settings) -> TransportSecuritySettings:
    """The DNS-rebinding check: loopback names and the bound host, with any port.

    A web page the user visits can make their browser send requests to 127.0.0.1 under a
    hostname the attacker controls (DNS rebinding); such requests carry that foreign Host, and a
    cross-site Origin, so both are checked against what this server is really called. A wildcard
    bind (0.0.0.0, ::) adds only the machine's own hostname: bind a specific address to be
    reachable under it.
    """
    hosts = list(_LOOPBACK_HOSTS)
    if settings.host in _WILDCARD_HOSTS:
        hosts.append(socket.gethostname().lower())
    else:
        hosts.append(_host_header_form(settings.host))
    hosts = list(dict.fromkeys(hosts))
    allowed_hosts = [form for host in hosts for form in (host, f"{host}:*")]
    allowed_origins = [
        form
        for host in hosts
        for scheme in ("http", "https")
        for form in (f"{scheme}://{host}", f"{scheme}://{host}:*")
    ]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=allowed_hosts,
        allowed_origins=allowed_origins,
    )


class StaticTokenVerifier:
    """The SDK's TokenVerifier for one shared secret (`--auth-token`)."""

    def __init__(self, token: str) -> None:
        self._expected = token.encode("utf-8")

    async def verify_token(self, token: str) -> AccessToken | None:
        # Constant time, so response timing does not reveal how much of a guess was right.
        if not hmac.compare_digest(token.encode("utf-8"), self._expected):
            return None
        # The secret itself is not kept in the request state; every holder is one principal.
        return AccessToken(token="static", client_id="auth-token", scopes=[])


class _Asgi:
    """A raw ASGI callable as a Route endpoint (Route would treat a bound method as a handler)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


class _AlwaysJson:
    """`POST /` answers JSON whatever the client's Accept says.

    Bare clients (curl sends `*/*`, some send nothing) do not ask for `application/json`, which
    the SDK's JSON-response mode otherwise insists on with a 406.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(key, value) for key, value in scope["headers"] if key != b"accept"]
        headers.append((b"accept", b"application/json"))
        await self.app({**scope, "headers": headers}, receive, send)


_REQUEST_EXAMPLE = '{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}'
_SDK_SHAPE_ERROR = "Validation error"
"""How the SDK's message starts when a body is JSON but not one JSON-RPC message; it goes on with
pydantic's dump of every union branch it tried, with documentation URLs."""
_SDK_NO_SESSION = "Bad Request: Missing session ID"
_SDK_TOO_MANY_SESSIONS = "Too many open sessions"


def _message_problem(body: bytes) -> str | None:
    """What keeps `body` from being one JSON-RPC 2.0 message, with a corrected example, or None
    when we cannot tell (the SDK's own answer then stands)."""
    try:
        message = json.loads(body)
    except ValueError:
        return None
    if isinstance(message, list):
        return (
            "JSON-RPC batches (an array of messages) are not supported: send each message in its "
            f"own POST, one JSON object per request, e.g. {_REQUEST_EXAMPLE}."
        )
    if not isinstance(message, dict):
        return f"The body must be one JSON-RPC 2.0 message, an object such as {_REQUEST_EXAMPLE}."
    fixed = {"jsonrpc": "2.0", **{k: v for k, v in message.items() if k != "jsonrpc"}}
    example = json.dumps(fixed, ensure_ascii=False, separators=(", ", ": "))
    if len(example) > 200:
        example = _REQUEST_EXAMPLE
    if "jsonrpc" not in message:
        return (
            'The message has no "jsonrpc" member: JSON-RPC 2.0 needs "jsonrpc": "2.0", '
            f"e.g. {example}."
        )
    if message["jsonrpc"] != "2.0":
        shown = json.dumps(message["jsonrpc"])[:40]
        return f'"jsonrpc" must be "2.0", not {shown}, e.g. {example}.'
    if "method" not in message and "result" not in message and "error" not in message:
        return (
            'The message has no "method": a request names the method to call, e.g. '
            f"{_REQUEST_EXAMPLE}."
        )
    if "method" in message and not isinstance(message["method"], str):
        return f'"method" must be a string such as "tools/list", e.g. {_REQUEST_EXAMPLE}.'
    if ("id" in message and not isinstance(message["id"], (str, int))) or isinstance(
        message.get("id"), bool
    ):
        return f'"id" must be a string or an integer, e.g. {_REQUEST_EXAMPLE}.'
    return None


class _ExplainedErrors:
    """Answers the SDK's 400s for a body that is not a JSON-RPC message in words a model (or a
    person with curl) can act on: what was wrong and a corrected example, instead of pydantic's
    dump of every union branch with documentation URLs. A missing session on /mcp says how to get
    one, and the SDK's 503 for a session beyond --max-sessions what to do instead. Every other
    response, and every check before these (Host/Origin, token, size, media
    type), is the SDK's, unchanged.
    """

    def __init__(
        self, app: ASGIApp, *, session_hint: bool, max_body: int, settings: Settings | None = None
    ) -> None:
        self.app = app
        self.session_hint = session_hint
        self.max_body = max_body
        self.settings = settings or Settings()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        body = bytearray()
        held: list[Message] = []

        async def recording_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request" and len(body) <= self.max_body:
                body.extend(message.get("body", b""))
            return message

        async def explaining_send(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in (400, 503):
                held.append(message)  # wait for the body: it may need rewording
                return
            if held and message["type"] == "http.response.body":
                start = held.pop()
                payload = message.get("body", b"")
                better = None if message.get("more_body") else self._reworded(payload, bytes(body))
                if better is None:
                    await send(start)
                    await send(message)
                    return
                headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
                headers.append((b"content-length", str(len(better)).encode()))
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": better})
                return
            await send(message)

        await self.app(scope, recording_receive, explaining_send)

    def _reworded(self, payload: bytes, request: bytes) -> bytes | None:
        try:
            answer = json.loads(payload)
            error = answer["error"]
            text = str(error["message"])
        except (ValueError, KeyError, TypeError):
            return None
        if text.startswith(_SDK_SHAPE_ERROR):
            problem = _message_problem(request)
            if problem is None:
                return None
            # -32600: the body is JSON but not a valid request object (JSON-RPC 2.0, 5.1).
            error = {"code": INVALID_REQUEST, "message": problem}
        elif self.session_hint and text == _SDK_TOO_MANY_SESSIONS:
            limits = self.settings
            error = {
                **error,
                "message": (
                    f"{text}: this server keeps at most {limits.max_sessions} sessions "
                    "(--max-sessions) and all are in use; nothing was run. POST one-off requests "
                    "to / (no session needed), end sessions you no longer use (DELETE /mcp with "
                    "their Mcp-Session-Id), or retry later: an idle session is closed after "
                    f"{limits.session_idle_timeout:g} s (--session-idle-timeout)."
                ),
            }
        elif self.session_hint and text == _SDK_NO_SESSION:
            error = {
                **error,
                "message": (
                    f"{text}: send initialize first and repeat the Mcp-Session-Id header it "
                    "returns on every later request, or POST one-off requests to / (no session)."
                ),
            }
        else:
            return None
        request_id = None
        with contextlib.suppress(ValueError, AttributeError):
            candidate = json.loads(request).get("id")
            if isinstance(candidate, (str, int)) and not isinstance(candidate, bool):
                request_id = candidate
        reply = {"jsonrpc": "2.0", "id": request_id, "error": error}
        return json.dumps(reply, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _rpc_error(code: int, message: str) -> bytes:
    """A JSON-RPC error answer with id null: the request's own id is unusable or unread."""
    reply = {"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}}
    return json.dumps(reply, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _id_problem(body: bytes) -> str | None:
    """Why the request in `body` cannot be answered under its `id`, or None.

    The SDK's parser takes a message whose id is neither a string nor an integer (an object, an
    array, a fraction, true, null) for a notification, because the notification shape lets any
    extra member through: the client got 202 and no answer for a request it is waiting on.
    JSON-RPC asks for an Invalid Request error instead; MCP allows only strings and integers (not
    null)."""
    if b'"id"' not in body:  # the common case, without parsing the body a second time
        return None
    try:
        message = json.loads(body)
    except (ValueError, RecursionError):
        return None  # the SDK's parse error stands
    if not isinstance(message, dict) or "method" not in message or "id" not in message:
        return None
    request_id = message["id"]
    if isinstance(request_id, (str, int)) and not isinstance(request_id, bool):
        return None
    shown = json.dumps(request_id, ensure_ascii=False)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return (
        f'"id" must be a string or an integer, not {shown}: this request cannot be answered '
        f"under it. Send e.g. {_REQUEST_EXAMPLE}; leave \"id\" out only for a notification, "
        "which gets no answer."
    )


class _Exchange:
    """Every POST on an MCP path, held to the server's limits before the SDK reads it.

    - A body larger than --max-request-bytes is answered 413 with a JSON-RPC error that names the
      setting: from the declared Content-Length before a byte is read, or as a chunked body
      passes the limit. (The SDK's own limit, set to the same size, answers in plain text.)
    - A request whose id is not a string or an integer gets -32600 (see `_id_problem`), after
      the same Content-Type, Host and Origin checks the SDK makes first.
    - A body that has not arrived whole within --request-timeout of the request head is answered
      408 with a JSON-RPC error that names the setting, and the connection closed: a client
      trickling its body would otherwise hold its connection (and its buffered bytes) forever.
    - With `cancel_on_disconnect` (`POST /`), the request is cancelled when its client goes
      away: a JSON response is written only at the end, so nothing else notices the disconnect,
      and the command would run on to its deadline holding a --max-concurrency slot. Cancelling
      the SDK's handler cancels the tool call, and the engine stops its worker at its next check.
      (Streamed responses notice for themselves, except a session's on /mcp: there the
      transport takes a disconnect for no cancellation, and the client may come back.)
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body: int,
        security: TransportSecuritySettings,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        cancel_on_disconnect: bool = False,
    ) -> None:
        self.app = app
        self.max_body = max_body
        self.request_timeout = request_timeout
        self.security = TransportSecurityMiddleware(security)
        self.cancel_on_disconnect = cancel_on_disconnect

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        declared = Request(scope).headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            await self._too_large(send)
            return
        body = bytearray()
        with anyio.move_on_after(self.request_timeout) as reading:
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    return  # the client went away before its body was in: nobody to answer
                body.extend(message.get("body", b""))
                if len(body) > self.max_body:
                    await self._too_large(send)
                    return
                if not message.get("more_body", False):
                    break
        if reading.cancelled_caught:
            await self._too_slow(send, len(body))
            return
        problem = _id_problem(bytes(body))
        if problem is not None:
            refused = await self.security.validate_request(Request(scope), is_post=True)
            if refused is not None:
                await refused(scope, receive, send)
                return
            await self._answer(send, 400, _rpc_error(INVALID_REQUEST, problem))
            return
        if self.cancel_on_disconnect:
            await self._until_disconnect(scope, bytes(body), receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)

    async def _until_disconnect(
        self, scope: Scope, body: bytes, receive: Receive, send: Send
    ) -> None:
        gone = anyio.Event()
        answered = False
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            await gone.wait()  # the watcher below owns the real channel
            return {"type": "http.disconnect"}

        async def noting_send(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                # Set before the send: uvicorn reports a disconnect as soon as the answer is out,
                # and a finished exchange must not be cancelled in its clean-up.
                answered = True
            await send(message)

        async with anyio.create_task_group() as group:

            async def watch() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                gone.set()
                if not answered:
                    log.debug("client went away from %s: cancelling its request", scope["path"])
                    group.cancel_scope.cancel()

            group.start_soon(watch)
            await self.app(scope, replay, noting_send)
            group.cancel_scope.cancel()

    async def _too_large(self, send: Send) -> None:
        limit = self.max_body
        shown = f"{limit // (1024 * 1024)} MiB" if limit % (1024 * 1024) == 0 else f"{limit} bytes"
        message = (
            f"The request body is larger than this server accepts ({shown}, its "
            "--max-request-bytes): nothing was read or run. A tool call takes a few KiB; shorten "
            "it (a command is at most 10,000 characters), or ask the operator to raise "
            "--max-request-bytes."
        )
        await self._answer(send, 413, _rpc_error(INVALID_REQUEST, message))

    async def _too_slow(self, send: Send, received: int) -> None:
        log.info("request body not received within %g s (--request-timeout): 408",
                 self.request_timeout)
        message = (
            f"The request body did not arrive within {self.request_timeout:g} s of its headers "
            f"(--request-timeout; {received} bytes came): nothing was run. Send the whole body at "
            "once, or ask the operator to raise --request-timeout."
        )
        await self._answer(send, 408, _rpc_error(INVALID_REQUEST, message), close=True)

    @staticmethod
    async def _answer(send: Send, status: int, payload: bytes, *, close: bool = False) -> None:
        headers = [(b"content-type", b"application/json"),
                   (b"content-length", str(len(payload)).encode())]
        if close:  # the rest of the body may still be on its way: do not read it as a request
            headers.append((b"connection", b"close"))
        await send({
            "type": "http.response.start",
            "status": status,
            "headers": headers,
        })
        await send({"type": "http.response.body", "body": payload})


class _SseEndpoint:
    """GET /sse-transport/sse: one legacy SSE connection, served until the client goes away."""

    def __init__(self, transport: SseServerTransport, server: Server[Any]) -> None:
        self.transport = transport
        self.server = server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        connected = False
        try:
            async with self.transport.connect_sse(scope, receive, send) as (read, write):
                connected = True
                await self.server.run(read, write, self.server.create_initialization_options())
        except ValueError:
            # connect_sse has already answered a refused Host/Origin (421/403) and then raises;
            # that is a handled request, not a crash. Anything after connecting is.
            if connected:
                raise


def _lowlevel(server: MCPServer) -> Server[Any]:
    # The session managers and the SSE transport take the low-level Server. MCPServer builds its
    # own apps from it but exposes no public handle; its sse_app mounts messages at a
    # trailing-slash path (so `POST /sse-transport/messages` would be a redirect) and lets the
    # rebinding refusal escape as an exception, and its streamable_http_app keeps one manager.
    return server._lowlevel_server


def build_app(settings: Settings, server: MCPServer) -> Starlette:
    """The whole HTTP surface as one Starlette app; its lifespan runs both session managers."""
    lowlevel = _lowlevel(server)
    security = security_settings(settings)
    limit = settings.max_request_bytes
    streamable = StreamableHTTPSessionManager(
        app=lowlevel,
        stateless=settings.stateless,
        security_settings=security,
        max_request_body_size=limit,
        # Both unused when stateless. Beyond the cap, initialize gets the SDK's 503, reworded by
        # _ExplainedErrors; each session costs about 30 KiB, so 256 hold under 10 MB.
        max_sessions=settings.max_sessions,
        session_idle_timeout=settings.session_idle_timeout,
    )
    # POST / is the same JSON-RPC, one exchange per request: the SDK's stateless, JSON-response
    # mode is exactly that (no session header, no initialize required, no SSE framing).
    plain = StreamableHTTPSessionManager(
        app=lowlevel,
        stateless=True,
        json_response=True,
        security_settings=security,
        max_request_body_size=limit,
    )
    sse = SseServerTransport(
        SSE_MESSAGES_PATH, security_settings=security, max_request_body_size=limit
    )

    def held(app: ASGIApp, *, cancel_on_disconnect: bool = False) -> ASGIApp:
        return _Exchange(
            app, max_body=limit, security=security, request_timeout=settings.request_timeout,
            cancel_on_disconnect=cancel_on_disconnect,
        )

    def guarded(app: ASGIApp) -> ASGIApp:
        if not settings.auth_token:
            return app
        # 401 with `WWW-Authenticate: Bearer ...` unless the AuthenticationMiddleware below
        # accepted the request's bearer token.
        return RequireAuthMiddleware(app, required_scopes=[])

    async def health(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "status": "ok",
                "name": "aws-mcp-server",
                "version": __version__,
                "awscli": AWSCLI_VERSION,
                "stateless": settings.stateless,
                "workers": settings.workers,
            }
        )

    async def one_process_only(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "error": "the legacy SSE transport keeps its session in one process, and this "
                f"server runs {settings.workers} worker processes (--workers): the messages of "
                "a stream could reach another one",
                "fix": f"Use streamable HTTP at {MCP_PATH} or plain JSON-RPC with POST /; or run "
                "the server with --workers 1.",
            },
            status_code=501,
        )

    sse_routes = [
        Route(SSE_PATH, guarded(_SseEndpoint(sse, lowlevel)), methods=["GET"]),
        Route(
            SSE_MESSAGES_PATH, guarded(held(_Asgi(sse.handle_post_message))), methods=["POST"]
        ),
    ]
    if settings.workers > 1:
        sse_routes = [
            Route(SSE_PATH, one_process_only, methods=["GET"]),
            Route(SSE_MESSAGES_PATH, one_process_only, methods=["POST"]),
        ]
    routes = [
        Route("/health", health, methods=["GET"]),
        Route(
            MCP_PATH,
            guarded(held(_ExplainedErrors(
                StreamableHTTPASGIApp(streamable), session_hint=True, max_body=limit,
                settings=settings,
            ))),
        ),
        Route(
            "/",
            guarded(_AlwaysJson(held(
                _ExplainedErrors(StreamableHTTPASGIApp(plain), session_hint=False, max_body=limit),
                cancel_on_disconnect=True,
            ))),
            methods=["POST"],
        ),
        *sse_routes,
    ]
    middleware = []
    if settings.auth_token:
        verifier = StaticTokenVerifier(settings.auth_token)
        middleware.append(Middleware(AuthenticationMiddleware, backend=BearerAuthBackend(verifier)))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Without this the managers' task groups never start and every /mcp request is a 500.
        async with streamable.run(), plain.run():
            yield

    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)


def _log_config(level: str) -> dict[str, Any]:
    # uvicorn's default sends the access log to stdout; everything goes to stderr here. The access
    # log, and the SDK's INFO line for every stateless exchange ("Terminating session: None"),
    # show only at DEBUG.
    config: dict[str, Any] = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "default": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "stream": "ext://sys.stderr",
            },
        },
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {
                "handlers": ["stderr"], "level": "INFO" if level == "DEBUG" else "WARNING",
                "propagate": False,
            },
            "mcp": {"level": "DEBUG" if level == "DEBUG" else "WARNING"},
        },
    }
    return config


def uvicorn_kwargs(settings: Settings) -> dict[str, Any]:
    """uvicorn's settings for this server (one process or each of --workers)."""
    return {
        "host": settings.host,
        "port": settings.port,
        "lifespan": "on",
        "log_config": _log_config(settings.log_level),
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
        "server_header": False,
        # uvicorn counts the connection asking among those open, and refuses at `>=`: one more
        # than --max-connections serves exactly that many. Beyond, a request is answered 503 at
        # once (and its connection closed) rather than queued.
        "limit_concurrency": connection_limit(settings.max_connections, open_file_limit()) + 1,
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
        # uvicorn's h11 protocol with a request-head deadline (it reads --request-timeout from
        # `_Config`): the header limit above is h11's, and httptools (picked by "auto" when
        # installed) has neither.
        "http": _DeadlineH11Protocol,
    }


class _Config(uvicorn.Config):
    """uvicorn's configuration plus --request-timeout, which `_DeadlineH11Protocol` reads from
    it (uvicorn hands each connection's protocol its config, and nothing else of ours)."""

    def __init__(self, *, request_timeout: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.request_timeout = request_timeout


def uvicorn_config(settings: Settings, app: ASGIApp) -> uvicorn.Config:
    return _Config(app=app, request_timeout=settings.request_timeout, **uvicorn_kwargs(settings))


def _startup_warnings(settings: Settings) -> None:
    if not is_loopback(settings.host):
        if settings.auth_token:
            log.warning(
                "listening on %s: the bearer token travels in clear text unless a TLS proxy is "
                "in front", settings.host,
            )
        else:
            log.warning("listening on %s WITHOUT a token (--allow-remote)", settings.host)
    if settings.stateless and settings.confirm_writes and not settings.request_state_keys:
        log.warning(
            "--stateless --confirm-writes without --request-state-keys "
            "(AWS_MCP_REQUEST_STATE_KEYS): a pending confirmation is sealed with a key only this "
            "server knows, so an answer that reaches another replica is refused. With more than "
            "one replica, give them all the same key (see docs/http.md)."
        )
    log.info(
        "HTTP on http://%s:%s (streamable HTTP %s%s, plain JSON-RPC /, SSE %s)%s%s",
        _host_header_form(settings.host), settings.port, MCP_PATH,
        " stateless" if settings.stateless else "",
        SSE_PATH if settings.workers == 1 else "off",
        "; bearer token required" if settings.auth_token else "",
        f"; {settings.workers} worker processes" if settings.workers > 1 else "",
    )


def run_http(settings: Settings, server: MCPServer) -> None:
    """Serve until SIGINT/SIGTERM; raises ConfigError for an unsafe bind before listening."""
    check_bind(settings)
    _startup_warnings(settings)
    uvicorn.Server(uvicorn_config(settings, build_app(settings, server))).run()


# --- several worker processes on one port (--workers N, with --stateless) -------------------

_worker_settings: Settings | None = None
_worker_claims: str | None = None


class _WorkersConfig(_Config):
    """uvicorn's configuration, carrying our Settings to each worker process (the config is
    what uvicorn hands a spawned worker); there it builds the app from them."""

    def __init__(self, settings: Settings, claims: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.aws_mcp_settings = settings
        self.aws_mcp_claims = claims

    def load(self) -> None:
        global _worker_settings, _worker_claims
        _worker_settings = self.aws_mcp_settings
        _worker_claims = self.aws_mcp_claims
        super().load()


def worker_app() -> Starlette:
    """The app of one worker process (uvicorn's factory): its own MCP server, engine and
    awscli, loaded at once (the worker has no handshake to wait for)."""
    from aws_mcp_server import loading
    from aws_mcp_server.cli import configure_logging
    from aws_mcp_server.server import build_server, preload

    loading.tune_allocator()
    settings = _worker_settings
    if settings is None:
        raise RuntimeError("worker_app is started by run_http_workers, with its settings")
    configure_logging(settings.log_level)
    claims = Path(_worker_claims) if _worker_claims else None
    server = build_server(settings, claims=claims)
    preload(server)
    return build_app(settings, server)


def _reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port) that other such sockets of this user may share."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host.strip("[]"), port))
    except BaseException:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class _SocketPerWorker(uvicorn.supervisors.Multiprocess):
    """uvicorn's supervisor, with each worker listening on a socket of its own bound to the port
    (SO_REUSEPORT), so that the kernel spreads connections over the workers.

    With one shared listening socket, the worker that wakes first accepts every connection
    pending (asyncio accepts in a loop): the few kept-alive connections of one client all went
    to one worker while the others idled. Here each new worker process gets a fresh socket
    (uvicorn asks for `self.sockets` once per process it starts), and this process closes its
    copy once the worker has it: a socket left open here after its worker died would keep
    taking its share of connections with no one to accept them.
    """

    def __init__(self, config: uvicorn.Config, first: socket.socket) -> None:
        self._address = first.getsockname()[:2]
        self._made: list[socket.socket] = [first]
        self._next: socket.socket | None = first
        super().__init__(config, sockets=[])

    @property
    def sockets(self) -> list[socket.socket]:
        sock, self._next = self._next, None
        if sock is None:
            sock = _reuse_port_socket(*self._address)
            self._made.append(sock)
        return [sock]

    @sockets.setter
    def sockets(self, value: list[socket.socket]) -> None:
        return None  # uvicorn's __init__ sets the shared list: each worker gets its own instead

    def _release(self) -> None:
        # The processes started since the last release hold their sockets now (multiprocessing
        # duplicated each when it started the process).
        made, self._made = self._made, []
        for sock in made:
            sock.close()

    def init_processes(self) -> None:
        super().init_processes()
        self._release()

    def restart_all(self) -> None:
        super().restart_all()
        self._release()

    def keep_subprocess_alive(self) -> None:
        super().keep_subprocess_alive()
        self._release()

    def handle_ttin(self) -> None:
        super().handle_ttin()
        self._release()


def run_http_workers(settings: Settings) -> None:
    """`--workers N` (N > 1, with --stateless): N uvicorn worker processes serve the port, each
    listening on a socket of its own (`_SocketPerWorker`) and each a whole server (its engine,
    awscli and calls of its own). Every request stands alone (stateless), so any worker can
    answer any request.

    Pending confirmations (2026-07-28) are sealed with a key every worker knows (the given
    `--request-state-keys`, or one made here for this server's lifetime), and the answers acted
    on are claimed in one directory, so that a replayed answer is refused by every worker."""
    check_bind(settings)
    if settings.confirm_writes and not settings.request_state_keys:
        settings = settings.replace(request_state_keys=(secrets.token_hex(32),))
    _startup_warnings(settings)
    claims = tempfile.mkdtemp(prefix="aws-mcp-claims-")
    atexit.register(shutil.rmtree, claims, True)
    config = _WorkersConfig(
        settings,
        claims,
        request_timeout=settings.request_timeout,
        app="aws_mcp_server.http:worker_app",
        factory=True,
        workers=settings.workers,
        **uvicorn_kwargs(settings),
    )
    if hasattr(socket, "SO_REUSEPORT"):
        try:
            first = _reuse_port_socket(settings.host, settings.port)
        except OSError as exc:
            raise ConfigError(
                f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}",
                rule="http:bind",
                fix="Pick another --port, or stop what is listening there.",
            ) from None
        _SocketPerWorker(config, first).run()
        return
    # Without SO_REUSEPORT (Windows): one listening socket, shared by the workers.
    sock = config.bind_socket()
    uvicorn.supervisors.Multiprocess(config, sockets=[sock]).run()
