"""Regression: a timed-out or cancelled call frees its thread, its sockets and its slot at once.

The bug (tests/e2e/test_soak.py, TRICKLE_BUG before it was fixed): an endpoint that answers one
byte a second never trips the socket read timeout, and nothing looked at the deadline while
the body was read. The calls came back to the client at their deadline, but their worker
threads and sockets stayed (up to the 60 s read cap, or for ever at one byte a second), holding
every --max-concurrency slot, so the next call was refused.

Each test runs the in-process Engine against a loopback server started here (misbehaving on
its own, or a relay in front of moto that stalls mid-call), then checks, right after the
deadline: the worker thread (and s3transfer's threads) ended, no socket to the server is open
in this process, and the slot is free for the next call.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from aws_mcp_server.adapter.capture import IDLE_THREAD_NAME
from aws_mcp_server.engine import Engine
from aws_mcp_server.model import RunPlan
from aws_mcp_server.settings import Settings
from tests.conftest import AwsFiles, Moto, run, wait_until

DEADLINE = 2.5
# (not one of the fixed socket timeouts, 1, 2, 5...: a read timeout rounded up to 5 s would
# outlast it)
# How long after its deadline a stopped call may take to end, and the server's threads to see it.
PROMPT = 0.5
SERVER_THREAD = "bad-endpoint"


class BadEndpoint:
    """A loopback listener that reads a request's head, then misbehaves in one of these ways:
    `hang` (never answers), `trickle` (one byte a second of a long answer), `reset` (RST), or
    `relay` to `upstream` until `stall()` (then holds every connection open, both ways)."""

    def __init__(
        self, mode: str, upstream: int | None = None, tls: ssl.SSLContext | None = None
    ) -> None:
        self.mode = mode
        self.upstream = upstream
        self.tls = tls
        self.stalled = threading.Event()
        self.closed = threading.Event()
        self.sent_up = 0
        """Bytes relayed to the upstream (request bodies included)."""
        self.requests: list[bytes] = []
        """The first line of every request seen (relay mode)."""
        self.on_traffic: Callable[[BadEndpoint], None] = lambda endpoint: None
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._server.getsockname()[1])
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self._thread(self._accept)

    def _thread(self, target: Callable[..., None], *args: object) -> None:
        threading.Thread(target=target, args=args, name=SERVER_THREAD, daemon=True).start()

    def stall(self) -> None:
        self.stalled.set()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            self._thread(self._relay if self.mode == "relay" else self._serve, conn)

    def _serve(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            if self.mode == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
                return
            if self.mode == "trickle":
                reply = (b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\n"
                         b"Content-Length: 100000\r\n\r\n" + b"<" * 100000)
                for byte in reply:
                    if self.closed.wait(1.0):
                        return
                    conn.send(bytes([byte]))
            else:
                # Until the client goes away (or the test ends): then close our side too.
                conn.settimeout(0.1)
                while not self.closed.is_set():
                    with contextlib.suppress(TimeoutError):
                        if not conn.recv(65536):
                            return

    def _relay(self, client: socket.socket) -> None:
        assert self.upstream is not None
        upstream = socket.create_connection(("127.0.0.1", self.upstream))
        for sock in (client, upstream):
            sock.settimeout(0.1)

        def pump(src: socket.socket, dst: socket.socket, up: bool) -> None:
            with contextlib.suppress(OSError):
                while not self.closed.is_set():
                    if self.stalled.is_set():
                        # Hold the connection, read nothing: until the client goes away.
                        if _peer_gone(client):
                            return
                        time.sleep(0.05)
                        continue
                    try:
                        data = src.recv(65536)
                    except TimeoutError:
                        continue
                    if not data:
                        return
                    if up:
                        with self._lock:
                            self.sent_up += len(data)
                            self.requests += [
                                line for line in data.split(b"\r\n")
                                if line.endswith(b" HTTP/1.1")
                            ]
                    dst.sendall(data)
                    self.on_traffic(self)
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

        self._thread(pump, upstream, client, False)
        pump(client, upstream, True)
        client.close()
        upstream.close()

    def close(self) -> None:
        self.closed.set()
        self._server.close()


def _peer_gone(sock: socket.socket) -> bool:
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def client_sockets_to(port: int) -> int:
    """Sockets this process holds open whose far end is `port` (the client side of each
    connection to the test server; the server's own side has `port` as its local end)."""
    inodes = set()
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                if int(fields[2].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            link = os.readlink(f"/proc/self/fd/{fd}")
            if link.startswith("socket:[") and link[8:-1] in inodes:
                count += 1
    return count


NOT_CALLS = (SERVER_THREAD, "aws-call-deadlines", "(process_request_thread)", IDLE_THREAD_NAME)
"""Threads that are no part of a call: the test server's, the one process-wide deadline
watcher, moto's (werkzeug's per-connection threads), workers waiting for a next call (a worker
still in a call is named `aws-call-N`)."""


def call_threads(before: set[int]) -> list[str]:
    """Threads started since `before` that belong to calls."""
    return [
        thread.name for thread in threading.enumerate()
        if thread.ident not in before and not thread.name.endswith(NOT_CALLS)
    ]


@pytest.fixture
def endpoint_for() -> Iterator[Callable[..., BadEndpoint]]:
    made: list[BadEndpoint] = []

    def make(
        mode: str, upstream: int | None = None, tls: ssl.SSLContext | None = None
    ) -> BadEndpoint:
        made.append(BadEndpoint(mode, upstream, tls))
        return made[-1]

    yield make
    for endpoint in made:
        endpoint.close()


SLOTS = 2


@pytest.fixture
def engine(aws_env: AwsFiles, moto_server: Moto, tmp_path: Path) -> Engine:
    return Engine(Settings(endpoint_url=moto_server.url, workdir=tmp_path, max_concurrency=SLOTS))


def plan(argv: list[str], endpoint: str) -> RunPlan:
    return RunPlan(argv=(*argv, "--endpoint-url", endpoint), endpoint_url=endpoint)


def assert_released(engine: Engine, endpoint: BadEndpoint, before: set[int]) -> None:
    """Right after the calls came back: their threads ended, their sockets are closed, every
    slot is free, and the next call works."""
    assert wait_until(lambda: not call_threads(before), PROMPT), call_threads(before)
    assert wait_until(lambda: client_sockets_to(endpoint.port) == 0, PROMPT), (
        client_sockets_to(endpoint.port)
    )
    assert engine.in_flight == 0
    calls = [engine.try_start(plan(["s3api", "list-buckets"], engine.settings.endpoint_url or ""))
             for _ in range(SLOTS)]
    assert None not in calls, "a --max-concurrency slot is still held"
    for call in calls:
        assert call is not None
        result = call.wait()
        assert result.ok, result.stderr


@pytest.mark.parametrize("mode", ["hang", "trickle", "reset"])
def test_calls_to_a_bad_endpoint_release_threads_sockets_and_slots_at_the_deadline(
    engine: Engine, endpoint_for: Callable[..., BadEndpoint], mode: str
) -> None:
    endpoint = endpoint_for(mode)
    before = {thread.ident for thread in threading.enumerate()}
    started = time.monotonic()
    calls = [engine.start(plan(["s3api", "list-buckets"], endpoint.url), timeout=DEADLINE)
             for _ in range(SLOTS)]
    results = [call.wait() for call in calls]
    for call, result in zip(calls, results, strict=True):
        assert result.status == "timeout", (result.status, result.stderr)
        assert f"timed out after {DEADLINE:g} s" in result.stderr
        assert "Traceback" not in result.stderr
        assert call.done.is_set() and call.ended is not None
        assert call.ended - call.started < DEADLINE + PROMPT
    assert time.monotonic() - started < DEADLINE + PROMPT
    assert_released(engine, endpoint, before)


def test_cancelling_a_call_stuck_in_a_trickling_read_ends_it_at_once(
    engine: Engine, endpoint_for: Callable[..., BadEndpoint]
) -> None:
    endpoint = endpoint_for("trickle")
    before = {thread.ident for thread in threading.enumerate()}
    call = engine.start(plan(["s3api", "list-buckets"], endpoint.url), timeout=60)
    assert wait_until(lambda: client_sockets_to(endpoint.port) == 1, 5)
    time.sleep(1.5)  # a few bytes into the answer: blocked in the body read
    cancelled = time.monotonic()
    call.ctx.token.cancel()
    assert call.done.wait(PROMPT)
    assert time.monotonic() - cancelled < PROMPT
    assert call.result().status == "cancelled"
    assert_released(engine, endpoint, before)


def _self_signed(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context for 127.0.0.1 and the CA bundle (in the workdir) that trusts it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    bundle = directory / "ca.pem"
    bundle.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile = directory / "key.pem"
    keyfile.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(bundle, keyfile)
    return context, bundle


def test_a_call_stuck_in_a_trickling_tls_read_is_released_at_the_deadline(
    engine: Engine, endpoint_for: Callable[..., BadEndpoint], tmp_path: Path
) -> None:
    context, bundle = _self_signed(tmp_path)
    endpoint = endpoint_for("trickle", tls=context)
    before = {thread.ident for thread in threading.enumerate()}
    call = engine.start(
        plan(["s3api", "list-buckets", "--ca-bundle", str(bundle)], endpoint.url),
        timeout=DEADLINE,
    )
    result = call.wait()
    assert result.status == "timeout", (result.status, result.stderr)
    assert call.ended is not None and call.ended - call.started < DEADLINE + PROMPT
    assert_released(engine, endpoint, before)


def _bucket(engine: Engine) -> str:
    bucket = f"stall-{uuid.uuid4().hex[:10]}"
    assert run(engine, ["s3api", "create-bucket", "--bucket", bucket]).ok
    return bucket


def test_a_paginated_listing_stalled_mid_way_releases_everything_at_the_deadline(
    engine: Engine, endpoint_for: Callable[..., BadEndpoint], moto_server: Moto
) -> None:
    bucket = _bucket(engine)
    for index in range(12):
        assert run(engine, ["s3api", "put-object", "--bucket", bucket, "--key", f"k{index:02d}"]).ok
    endpoint = endpoint_for("relay", moto_server.port)

    def stall_on_the_fourth_page(endpoint: BadEndpoint) -> None:
        if sum(b"list-type=2" in line for line in endpoint.requests) >= 4:
            endpoint.stall()

    endpoint.on_traffic = stall_on_the_fourth_page
    before = {thread.ident for thread in threading.enumerate()}
    call = engine.start(
        plan(["s3api", "list-objects-v2", "--bucket", bucket, "--page-size", "2"], endpoint.url),
        timeout=DEADLINE,
    )
    result = call.wait()
    assert endpoint.stalled.is_set(), "the listing ended before the relay stalled"
    assert result.status == "timeout", (result.status, result.stderr)
    assert call.ended is not None and call.ended - call.started < DEADLINE + PROMPT
    assert_released(engine, endpoint, before)


def test_s3_cp_stalled_mid_upload_ends_its_transfer_threads_at_the_deadline(
    engine: Engine, endpoint_for: Callable[..., BadEndpoint], moto_server: Moto, tmp_path: Path
) -> None:
    bucket = _bucket(engine)
    (tmp_path / "big.bin").write_bytes(os.urandom(40 << 20))
    endpoint = endpoint_for("relay", moto_server.port)

    def stall_after_12_mib(endpoint: BadEndpoint) -> None:
        if endpoint.sent_up > 12 << 20:
            endpoint.stall()

    endpoint.on_traffic = stall_after_12_mib
    before = {thread.ident for thread in threading.enumerate()}
    seen: set[str] = set()
    call = engine.start(
        plan(["s3", "cp", str(tmp_path / "big.bin"), f"s3://{bucket}/big.bin"], endpoint.url), timeout=DEADLINE + 1
    )
    while not call.done.wait(0.05):
        seen.update(call_threads(before))
    result = call.result()
    assert endpoint.stalled.is_set(), "the upload ended before the relay stalled"
    assert result.status == "timeout", (result.status, result.stderr)
    assert len(seen) > 2, f"s3transfer ran no threads of its own: {sorted(seen)}"
    assert call.ended is not None and call.ended - call.started < DEADLINE + 1 + PROMPT
    assert_released(engine, endpoint, before)


def test_s3_cp_stalled_mid_download_ends_at_the_deadline(
    engine: Engine, endpoint_for: Callable[..., BadEndpoint], moto_server: Moto, tmp_path: Path
) -> None:
    bucket = _bucket(engine)
    (tmp_path / "up.bin").write_bytes(os.urandom(24 << 20))
    assert run(engine, ["s3", "cp", str(tmp_path / "up.bin"), f"s3://{bucket}/big.bin"]).ok
    endpoint = endpoint_for("relay", moto_server.port)
    relayed = {"down": 0}

    def stall_once_the_body_flows(endpoint: BadEndpoint) -> None:
        relayed["down"] += 1
        if relayed["down"] > 40:
            endpoint.stall()

    endpoint.on_traffic = stall_once_the_body_flows
    before = {thread.ident for thread in threading.enumerate()}
    call = engine.start(
        plan(["s3", "cp", f"s3://{bucket}/big.bin", str(tmp_path / "down.bin")], endpoint.url), timeout=DEADLINE
    )
    result = call.wait()
    assert endpoint.stalled.is_set(), "the download ended before the relay stalled"
    assert result.status == "timeout", (result.status, result.stderr)
    assert call.ended is not None and call.ended - call.started < DEADLINE + PROMPT
    assert_released(engine, endpoint, before)
