"""--request-timeout, --max-sessions and --session-idle-timeout end to end, each over a real
server process: a client slow to send its request head or body is answered 408 and dropped (so
slow clients cannot hold the server's connections), the session cap refuses a new session with a
503 that says what to do while the open ones keep working, and an idle session is closed.
"""

from __future__ import annotations

import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import AwsFiles, Moto, free_port
from tests.e2e.test_http_limits import READ, STREAMABLE, open_session, refusal, rpc, tools_listed
from tests.http_helpers import HttpServer, start_server
from tests.mcp_helpers import ROOT, server_env


def slow_head(port: int) -> socket.socket:
    """A connection that has sent part of a request head and then nothing (slowloris)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=15)
    sock.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a")
    return sock


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    return data


@pytest.fixture(scope="module")
def quick(
    aws_files: AwsFiles, moto_server: Moto, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HttpServer]:
    running = start_server(aws_files, moto_server, tmp_path_factory.mktemp("http-quick"),
                           "--request-timeout", "1", "--max-connections", "16")
    yield running
    running.stop()


# --- --request-timeout ---------------------------------------------------------------------------


@pytest.mark.parametrize("sent", [b"", b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a"],
                         ids=["nothing", "half a head"])
def test_a_client_that_does_not_send_a_whole_head_in_time_gets_408_and_is_closed(
    quick: HttpServer, sent: bytes
) -> None:
    with socket.create_connection(("127.0.0.1", quick.port), timeout=15) as sock:
        started = time.monotonic()
        sock.sendall(sent)
        answer = read_all(sock)
        took = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), answer
    assert b"--request-timeout" in answer
    assert 0.8 < took < 5, took


def test_a_head_trickled_byte_by_byte_is_cut_off_at_the_deadline(quick: HttpServer) -> None:
    head = b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100
    with socket.create_connection(("127.0.0.1", quick.port), timeout=15) as sock:
        started = time.monotonic()
        answer = b""
        for byte in head:  # each byte well inside the deadline, the whole head not
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break
            time.sleep(0.1)
            if time.monotonic() - started > 3:
                break
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert time.monotonic() - started < 4


def test_a_body_that_does_not_arrive_in_time_gets_408_naming_the_setting(
    quick: HttpServer,
) -> None:
    body = b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}'
    with socket.create_connection(("127.0.0.1", quick.port), timeout=15) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body[:10])
        started = time.monotonic()
        answer = read_all(sock)
    assert 0.8 < time.monotonic() - started < 5
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer
    assert b"connection: close" in head.lower()
    response = httpx.Response(408, content=payload, headers={"content-type": "application/json"})
    error = refusal(response)
    assert "--request-timeout" in error["message"] and "10 bytes came" in error["message"]


def test_a_kept_alive_connection_gets_the_deadline_again_after_each_response(
    quick: HttpServer,
) -> None:
    body = b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}'
    request = (b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    with socket.create_connection(("127.0.0.1", quick.port), timeout=15) as sock:
        sock.sendall(request)
        first = b""
        while READ.encode() not in first:
            first += sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200"), first
        sock.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # the next head, never finished
        started = time.monotonic()
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert time.monotonic() - started < 5


def test_an_idle_kept_alive_connection_is_closed_without_a_stray_408(quick: HttpServer) -> None:
    # Nothing of a next request came: a 408 there could be read as the answer to the request
    # the client is about to send, so the connection is closed as keep-alive closes it.
    body = b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}'
    with socket.create_connection(("127.0.0.1", quick.port), timeout=15) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        first = b""
        while READ.encode() not in first:
            first += sock.recv(65536)
        started = time.monotonic()
        assert read_all(sock) == b""
    assert 0.8 < time.monotonic() - started < 5


def test_an_open_event_stream_outlives_the_request_timeout(quick: HttpServer) -> None:
    headers = open_session(quick)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items() if k != "Content-Type")
    with socket.create_connection(("127.0.0.1", quick.port), timeout=15) as sock:
        sock.sendall(f"GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}"
                     "Accept: text/event-stream\r\n\r\n".encode())
        answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 200"), answer
        time.sleep(2.5)  # past --request-timeout 1
        sock.settimeout(0.5)
        try:
            more = sock.recv(4096)
        except TimeoutError:
            more = None
    assert more is None or (more and b"408" not in more), "the stream was closed"


def test_a_well_behaved_client_keeps_its_connection_for_a_long_call_and_between_calls(
    quick: HttpServer,
) -> None:
    # The deadline is for receiving the request: neither the time to answer nor a quick
    # keep-alive reuse is cut short.
    with httpx.Client(base_url=quick.base, timeout=30) as client:
        for _ in range(3):
            answer = client.post("/", json=rpc("tools/call", name=READ, arguments={
                "command": "s3api list-buckets"})).json()
            assert answer["result"]["isError"] is False, answer
            time.sleep(0.5)


def test_slow_clients_beyond_max_connections_are_dropped_and_others_get_through(
    quick: HttpServer,
) -> None:
    # 20 slow-header clients against --max-connections 16: while they hold every place a
    # well-behaved request is refused 503 at once; after --request-timeout (1 s) they are gone.
    slow = [slow_head(quick.port) for _ in range(20)]
    try:
        time.sleep(0.3)
        refused = httpx.post(f"{quick.base}/", json=rpc("tools/list"), timeout=10)
        assert refused.status_code == 503
        started = time.monotonic()
        while not tools_listed(quick):
            assert time.monotonic() - started < 5, "the slow clients were not dropped"
            time.sleep(0.2)
        for sock in slow:
            assert read_all(sock).startswith(b"HTTP/1.1 408")
    finally:
        for sock in slow:
            sock.close()


def test_with_the_default_limit_a_hundred_slow_clients_do_not_block_others(
    aws_files: AwsFiles, moto_server: Moto, tmp_path: Path
) -> None:
    running = start_server(aws_files, moto_server, tmp_path)
    slow: list[socket.socket] = []
    try:
        slow = [slow_head(running.port) for _ in range(100)]
        time.sleep(0.5)
        for _ in range(5):
            started = time.monotonic()
            assert tools_listed(running)
            assert time.monotonic() - started < 5
        assert all(sock.fileno() != -1 for sock in slow)
    finally:
        for sock in slow:
            sock.close()
        running.stop()
    assert "Exceeded concurrency limit" not in running.log()


# --- --max-connections and the open-file limit ---------------------------------------------------


def under_ulimit(aws: AwsFiles, tmp: Path, files: int, *flags: str) -> subprocess.Popen[str]:
    """`aws-mcp-server --transport http` started with at most `files` open files."""
    port = free_port()
    command = [sys.executable, "-m", "aws_mcp_server", "--transport", "http", "--port", str(port),
               "--workdir", str(tmp / "workdir"), *flags]
    return subprocess.Popen(["sh", "-c", f"ulimit -n {files} && exec {shlex.join(command)}"],
                            env=server_env(aws, None), cwd=str(ROOT), text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.mark.skipif(sys.platform == "win32", reason="no ulimit")
def test_max_connections_that_do_not_fit_the_open_file_limit_stop_the_start(
    aws_files: AwsFiles, tmp_path: Path
) -> None:
    proc = under_ulimit(aws_files, tmp_path, 600, "--max-connections", "500")
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 2, stderr
    assert "--max-connections 500 does not fit this process's open-file limit of 600" in stderr
    assert "--max-connections 472 or less" in stderr


@pytest.mark.skipif(sys.platform == "win32", reason="no ulimit")
@pytest.mark.parametrize("limit", [640, 256])
def test_the_default_max_connections_start_under_a_low_open_file_limit(
    aws_files: AwsFiles, tmp_path: Path, limit: int
) -> None:
    # 640: exactly the default 512 connections and the 128 files kept beside them; 256 (macOS's
    # default): the default adapts to 128 connections.
    proc = under_ulimit(aws_files, tmp_path, limit)
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=5)  # past the start-up checks (they refuse within a second)
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=30)
    assert "open-file limit" not in stderr, stderr


# --- --max-sessions, --session-idle-timeout ------------------------------------------------------


def initialize(server: HttpServer) -> httpx.Response:
    init = rpc("initialize", protocolVersion="2025-11-25", capabilities={},
               clientInfo={"name": "cap-test", "version": "0"})
    return httpx.post(server.mcp, json=init, headers=STREAMABLE, timeout=10)


def listed(server: HttpServer, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(server.mcp, json=rpc("tools/list", 2), headers=headers, timeout=10)


def test_a_session_beyond_max_sessions_gets_503_saying_what_to_do(
    aws_files: AwsFiles, moto_server: Moto, tmp_path: Path
) -> None:
    running = start_server(aws_files, moto_server, tmp_path, "--max-sessions", "3")
    try:
        sessions = [open_session(running) for _ in range(3)]
        refused = initialize(running)
        assert refused.status_code == 503, refused.text
        message = refused.json()["error"]["message"]
        assert "--max-sessions" in message and "POST one-off requests to /" in message
        assert "DELETE" in message
        for headers in sessions:  # the open sessions are unaffected
            answer = listed(running, headers)
            assert answer.status_code == 200 and READ in answer.text
        assert tools_listed(running)  # and POST / needs no session
        ended = httpx.delete(running.mcp, headers=sessions.pop(), timeout=10)
        assert ended.status_code == 200
        assert initialize(running).status_code == 200, "an ended session frees its place"
    finally:
        running.stop()


def test_an_idle_session_is_closed_after_session_idle_timeout(
    aws_files: AwsFiles, moto_server: Moto, tmp_path: Path
) -> None:
    running = start_server(aws_files, moto_server, tmp_path, "--session-idle-timeout", "2")
    try:
        headers = open_session(running)
        assert listed(running, headers).status_code == 200
        time.sleep(1)
        assert listed(running, headers).status_code == 200  # a request restarts the clock
        time.sleep(3.5)
        assert listed(running, headers).status_code == 404
    finally:
        running.stop()
