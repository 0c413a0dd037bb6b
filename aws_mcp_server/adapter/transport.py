"""The one guard on the sockets a call's HTTP uses: shut down the moment the call stops.

A thread cannot be killed, and a socket read does not look at the call's deadline: an endpoint
that answers one byte a second never trips the read timeout (it is per read), and one that
accepts and never answers holds the read for the whole timeout. The call returns to the client
at its deadline, but its worker thread, its sockets and its --max-concurrency slot stay.

Every request botocore sends, from any client of any session (the command's, the clients that
customizations build, the credential providers' STS and SSO clients, s3transfer's worker threads,
which inherit the call's context), takes its connection from one of botocore's two urllib3 pool
classes. `patches` replaces those with the subclasses here, which

  * record which call checked each connection out (`_get_conn`) until it comes back
    (`_put_conn`), and the socket each connection opens (`_new_conn`);
  * when the call's token stops (cancelled, or its deadline passed: the token's watcher thread
    stops it on time), `shutdown(SHUT_RDWR)` every socket the call holds, from the stopping
    thread. A `recv` or `send` blocked in the worker returns at once; the request fails, the
    worker meets its token at the next check (`before-send`, a retry's sleep) and ends, and its
    slot is free. A socket the call opens after it stopped is shut down as soon as it exists;
  * cap each request's connect and read timeouts at what is left of the call's deadline, so a
    wait that the shutdown somehow missed still ends with the call.

A connection that was shut down is closed before it goes back to its pool (the pool is shared
with other calls). Connections in the pool belong to no call and are never touched.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import weakref
from typing import Any

import botocore.awsrequest
from urllib3.util.timeout import Timeout

from aws_mcp_server.adapter import capture

_HELD = "_aws_mcp_held"
"""The attribute of a connection that names the `Held` of the call that has it checked out."""
_RAW = "_aws_mcp_socket"
"""The attribute of a connection that keeps the socket it opened (TLS wraps it later)."""

MIN_SOCKET_WAIT = 0.05
"""The shortest socket timeout given to a request (urllib3 refuses zero)."""


def _raw_sockets(conn: Any) -> list[socket.socket]:
    """The sockets under `conn`: its current one (TLS included) and the one it opened."""
    found = []
    for candidate in (getattr(conn, "sock", None), getattr(conn, _RAW, None)):
        # urllib3's SSLTransport (TLS inside a TLS proxy tunnel) keeps its socket in `.socket`.
        for _ in range(3):
            if candidate is None or isinstance(candidate, socket.socket):
                break
            candidate = getattr(candidate, "socket", None)
        if isinstance(candidate, socket.socket):
            found.append(candidate)
    return found


def _shut(conn: Any) -> None:
    """Shut the socket of `conn` down for reading and writing (not close it: the worker thread
    that is using it closes it, and a file descriptor closed under it could be reused)."""
    for sock in _raw_sockets(conn):
        if sock.fileno() < 0:  # closed, or handed over to its TLS wrapper
            continue
        with contextlib.suppress(OSError):
            # socket.socket's own shutdown, also for an SSLSocket: its override would drop the
            # TLS state under the worker thread's feet.
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        return


class Held:
    """The connections one call has checked out of the (shared) pools."""

    def __init__(self) -> None:
        # Reentrant: closing a connection takes it, and closing can happen inside a release.
        self.lock = threading.RLock()
        self._conns: set[Any] = set()
        self.stopped = False
        self.shut = 0
        """Connections shut down because the call stopped (for tests and diagnostics)."""

    def take(self, conn: Any) -> None:
        with self.lock:
            setattr(conn, _HELD, self)
            self._conns.add(conn)
            if self.stopped:
                self._shut(conn)

    def give_back(self, conn: Any) -> bool:
        """Forget `conn`; True when it was shut down (so it must not be reused as it is)."""
        with self.lock:
            self._conns.discard(conn)
            if getattr(conn, _HELD, None) is self:
                setattr(conn, _HELD, None)
            return bool(getattr(conn, "_aws_mcp_shut", False))

    def opened(self, conn: Any, sock: socket.socket) -> None:
        with self.lock:
            setattr(conn, _RAW, sock)
            if self.stopped and conn in self._conns:
                self._shut(conn)

    def stop(self) -> None:
        """The call stopped: shut down every socket it holds, now and from now on."""
        with self.lock:
            self.stopped = True
            for conn in list(self._conns):
                self._shut(conn)

    def _shut(self, conn: Any) -> None:
        conn._aws_mcp_shut = True
        self.shut += 1
        _shut(conn)

    def __len__(self) -> int:
        with self.lock:
            return len(self._conns)


_by_call: weakref.WeakKeyDictionary[capture.CallContext, Held] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def held_by(ctx: capture.CallContext) -> Held:
    """What `ctx`'s call holds (created on its first connection: a call that sends nothing
    costs nothing)."""
    held = _by_call.get(ctx)
    if held is None:
        with _lock:
            held = _by_call.get(ctx)
            created = held is None
            if held is None:
                held = _by_call[ctx] = Held()
        if created:
            # Outside the lock: a token that already stopped runs `stop` at once.
            ctx.token.on_stop(held.stop)
    return held


def _held_here() -> Held | None:
    ctx = capture.current()
    return held_by(ctx) if ctx is not None else None


def _capped(value: Any, cap: float) -> float:
    return min(value, cap) if isinstance(value, (int, float)) else cap


class _GuardedConnection:
    """What both guarded connection classes add (a mixin before botocore's classes)."""

    def _new_conn(self) -> Any:
        sock = super()._new_conn()  # type: ignore[misc]
        held = getattr(self, _HELD, None)
        if held is not None:
            held.opened(self, sock)
        return sock

    def close(self) -> None:
        held = getattr(self, _HELD, None)
        # Never close a socket while the call's stop is shutting it down: its file descriptor
        # could be reused by another socket in between.
        with held.lock if held is not None else contextlib.nullcontext():
            super().close()  # type: ignore[misc]
            self._aws_mcp_shut = False
            setattr(self, _RAW, None)


class _GuardedPool:
    """What both guarded pool classes add (a mixin before botocore's classes)."""

    def _get_conn(self, timeout: float | None = None) -> Any:
        conn = super()._get_conn(timeout)  # type: ignore[misc]
        held = _held_here()
        if held is not None:
            held.take(conn)
        return conn

    def _put_conn(self, conn: Any) -> None:
        if conn is not None:
            held = getattr(conn, _HELD, None)
            if held is not None and held.give_back(conn):
                conn.close()
        super()._put_conn(conn)  # type: ignore[misc]

    def _get_timeout(self, timeout: Any) -> Any:
        found = super()._get_timeout(timeout)  # type: ignore[misc]
        ctx = capture.current()
        left = ctx.token.remaining() if ctx is not None else None
        if left is None or found.total is not None:
            return found
        cap = max(left, MIN_SOCKET_WAIT)
        return Timeout(
            connect=_capped(found.connect_timeout, cap), read=_capped(found.read_timeout, cap)
        )


ORIGINAL_HTTP_POOL: Any = botocore.awsrequest.AWSHTTPConnectionPool
ORIGINAL_HTTPS_POOL: Any = botocore.awsrequest.AWSHTTPSConnectionPool


class GuardedHTTPConnection(_GuardedConnection, ORIGINAL_HTTP_POOL.ConnectionCls):  # type: ignore[misc]
    pass


class GuardedHTTPSConnection(_GuardedConnection, ORIGINAL_HTTPS_POOL.ConnectionCls):  # type: ignore[misc]
    pass


class GuardedHTTPConnectionPool(_GuardedPool, ORIGINAL_HTTP_POOL):  # type: ignore[misc]
    """botocore's HTTP pool, with its connections released when their call stops."""

    ConnectionCls = GuardedHTTPConnection


class GuardedHTTPSConnectionPool(_GuardedPool, ORIGINAL_HTTPS_POOL):  # type: ignore[misc]
    """botocore's HTTPS pool, with its connections released when their call stops."""

    ConnectionCls = GuardedHTTPSConnection
