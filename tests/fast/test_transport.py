"""The stop guard's parts, without a network: a token stops at its deadline on its own and runs
its callbacks; a stopped call's connections are shut down (a blocked read returns at once) and
closed before they go back to the shared pool; socket timeouts never outlast the deadline.

The same guard against real endpoints: tests/engine/test_deadline_sockets.py.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

from urllib3.util.timeout import Timeout

from aws_mcp_server.adapter import capture, transport


def test_a_token_stops_at_its_deadline_without_anyone_checking_it() -> None:
    token = capture.CancelToken(0.2)
    stopped = threading.Event()
    started = time.monotonic()
    token.on_stop(stopped.set)
    assert stopped.wait(2)
    assert 0.15 < time.monotonic() - started < 0.5
    assert token.reason == "timeout"


def test_a_stop_callback_runs_once_and_at_once_on_a_stopped_token() -> None:
    token = capture.CancelToken()
    calls: list[str] = []
    token.on_stop(lambda: calls.append("first"))
    token.cancel()
    token.cancel("again")
    assert calls == ["first"]
    assert token.reason == "cancelled"
    token.on_stop(lambda: calls.append("late"))
    assert calls == ["first", "late"]


def test_a_failing_stop_callback_does_not_stop_the_others() -> None:
    token = capture.CancelToken()
    calls: list[str] = []

    def broken() -> None:
        raise RuntimeError("boom")

    token.on_stop(broken)
    token.on_stop(lambda: calls.append("ran"))
    token.cancel()
    assert calls == ["ran"]


class _Conn:
    """What the guard reads of a urllib3 connection: its socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock


def test_stopping_a_call_ends_a_read_blocked_on_one_of_its_connections() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        held = transport.Held()
        held.take(_Conn(ours))
        got: list[bytes] = []
        reader = threading.Thread(target=lambda: got.append(ours.recv(10)))
        reader.start()
        time.sleep(0.1)
        assert reader.is_alive()
        stopped = time.monotonic()
        held.stop()
        reader.join(1)
        assert not reader.is_alive()
        assert time.monotonic() - stopped < 0.5
        assert got == [b""]


def test_a_connection_given_back_is_no_longer_the_calls() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        held = transport.Held()
        conn = _Conn(ours)
        held.take(conn)
        assert not held.give_back(conn)
        held.stop()
        theirs.send(b"x")
        assert ours.recv(1) == b"x"  # untouched: it is in the pool, another call may use it


def test_a_connection_taken_after_the_call_stopped_is_shut_down_at_once() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        held = transport.Held()
        held.stop()
        conn = _Conn(ours)
        held.take(conn)
        assert ours.recv(1) == b""
        assert held.give_back(conn), "a shut-down connection must be closed, not pooled"


def _pool() -> Any:
    return transport.GuardedHTTPConnectionPool("127.0.0.1", 9, timeout=Timeout(connect=10, read=60))


def test_socket_timeouts_never_outlast_the_calls_deadline() -> None:
    ctx = capture.CallContext(token=capture.CancelToken(1.5))
    timeout = capture.run_in(ctx, lambda: _pool()._get_timeout(Timeout.DEFAULT_TIMEOUT))
    assert 1.0 < timeout.connect_timeout <= 1.5
    assert 1.0 < timeout.read_timeout <= 1.5


def test_outside_a_call_socket_timeouts_are_the_pools() -> None:
    timeout = _pool()._get_timeout(Timeout.DEFAULT_TIMEOUT)
    assert (timeout.connect_timeout, timeout.read_timeout) == (10, 60)


def test_a_shut_down_connection_is_closed_before_it_goes_back_to_the_pool() -> None:
    pool = _pool()
    ctx = capture.CallContext(token=capture.CancelToken())
    conn = capture.run_in(ctx, pool._get_conn)
    ours, theirs = socket.socketpair()
    with theirs:
        conn.sock = ours
        ctx.token.cancel()
        assert ours.recv(1) == b""
        pool._put_conn(conn)
        assert conn.sock is None
        assert ours.fileno() == -1
        assert transport.held_by(ctx).shut == 1


def test_the_deadline_watcher_forgets_the_tokens_of_calls_long_gone() -> None:
    # Deadlines can be a day away: entries for tokens already gone must not pile up until then.
    for _ in range(3000):
        capture.CancelToken(86_400).on_stop(lambda: None)
    assert len(capture._DEADLINES._heap) < 1000
