"""The HTTP limits end to end, each over a real server process: above a limit a client gets a
clear refusal at once (413, 503, a JSON-RPC error), never a hang, and other clients are still
answered. Also: a request id the SDK would take for a notification gets an error, and a client
that goes away mid-call has its command cancelled (its --max-concurrency slot freed).
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp_types import CLIENT_CAPABILITIES_META_KEY, PROTOCOL_VERSION_META_KEY

from tests.conftest import AwsFiles, Moto
from tests.http_helpers import HttpServer, start_server

JSON = {"Content-Type": "application/json"}
STREAMABLE = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
SMALL = 16 * 1024
"""The smallest --max-request-bytes, which the size tests run with."""
MODERN = "2026-07-28"
READ = "execute_aws_read_command"
# A waiter that never succeeds against moto: it polls until the call's deadline.
WAITING = {"command": "dynamodb wait table-exists --table-name never-made-table"}


def rpc(method: str, id: Any = 1, **params: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": id, "method": method}
    if params:
        message["params"] = params
    return message


def modern_call(arguments: dict[str, Any], id: Any = 1) -> tuple[dict[str, Any], dict[str, str]]:
    """A 2026-07-28 tools/call: its body (with the per-request envelope) and its headers."""
    meta = {PROTOCOL_VERSION_META_KEY: MODERN, CLIENT_CAPABILITIES_META_KEY: {}}
    body = rpc("tools/call", id, name=READ, arguments=arguments, _meta=meta)
    headers = {**STREAMABLE, "Mcp-Protocol-Version": MODERN, "Mcp-Method": "tools/call",
               "Mcp-Name": READ}
    return body, headers


def refusal(response: httpx.Response) -> dict[str, Any]:
    """The JSON-RPC error of a refused request: id null (the request's own is unusable)."""
    assert response.headers["content-type"].startswith("application/json"), response.text
    answer = response.json()
    assert answer["jsonrpc"] == "2.0" and answer["id"] is None, answer
    error: dict[str, Any] = answer["error"]
    assert error["code"] == -32600, answer
    return error


def tools_listed(server: HttpServer) -> bool:
    response = httpx.post(f"{server.base}/", json=rpc("tools/list"), timeout=10)
    return response.status_code == 200 and READ in response.text


@pytest.fixture(scope="module")
def server(
    aws_files: AwsFiles, moto_server: Moto, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HttpServer]:
    running = start_server(aws_files, moto_server, tmp_path_factory.mktemp("http-default"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def small(
    aws_files: AwsFiles, moto_server: Moto, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HttpServer]:
    running = start_server(aws_files, moto_server, tmp_path_factory.mktemp("http-small"),
                           "--max-request-bytes", str(SMALL))
    yield running
    running.stop()


# --- --max-request-bytes -------------------------------------------------------------------------

PATHS = ["/", "/mcp", "/sse-transport/messages?session_id=" + "0" * 32]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_over_max_request_bytes_is_refused_with_413_naming_the_setting(
    small: HttpServer, path: str, chunked: bool
) -> None:
    body = json.dumps(rpc("tools/call", name=READ, arguments={"command": "s3 ls " + "x" * SMALL}))
    payload = body.encode()

    def pieces() -> Iterator[bytes]:  # no Content-Length: the limit is found while reading
        for start in range(0, len(payload), 4096):
            yield payload[start:start + 4096]

    response = httpx.post(f"{small.base}{path}", content=pieces() if chunked else payload,
                          headers=STREAMABLE, timeout=10)
    assert response.status_code == 413
    error = refusal(response)
    assert "--max-request-bytes" in error["message"] and "16384 bytes" in error["message"]
    assert tools_listed(small)


def test_a_body_under_max_request_bytes_reaches_the_tool(small: HttpServer) -> None:
    # Under the limit the request gets through, and the tool refuses the long command itself.
    message = rpc("tools/call", name=READ, arguments={"command": "s3 ls " + "x" * 12_000})
    assert len(json.dumps(message)) < SMALL
    body = httpx.post(f"{small.base}/", json=message, timeout=30).json()
    assert body["result"]["isError"] is True
    assert "limit is 10000" in body["result"]["content"][0]["text"]


def test_the_default_limit_is_one_mib(server: HttpServer) -> None:
    big = rpc("tools/call", name=READ, arguments={"command": "s3 ls " + "x" * (1024 * 1024)})
    response = httpx.post(f"{server.base}/", json=big, timeout=30)
    assert response.status_code == 413
    assert "(1 MiB, its --max-request-bytes)" in refusal(response)["message"]


def test_an_oversized_request_head_is_refused_and_others_are_still_served(
    small: HttpServer,
) -> None:
    # uvicorn's h11 parser buffers at most 16 KiB of request line and headers (MAX_HEADER_BYTES).
    with socket.create_connection(("127.0.0.1", small.port), timeout=10) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 20_000 + b"\r\n")
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 400"), answer
    assert tools_listed(small)


# --- request ids ---------------------------------------------------------------------------------


def open_session(server: HttpServer) -> dict[str, str]:
    """Headers that carry an initialized /mcp session (2025-11-25)."""
    init = rpc("initialize", protocolVersion="2025-11-25", capabilities={},
               clientInfo={"name": "limits-test", "version": "0"})
    response = httpx.post(server.mcp, json=init, headers=STREAMABLE, timeout=10)
    assert response.status_code == 200, response.text
    headers = {**STREAMABLE, "Mcp-Session-Id": response.headers["mcp-session-id"],
               "Mcp-Protocol-Version": "2025-11-25"}
    done = httpx.post(server.mcp, json={"jsonrpc": "2.0", "method": "notifications/initialized"},
                      headers=headers, timeout=10)
    assert done.status_code == 202
    return headers


BAD_IDS = [{"a": 1}, [1, 2], 1.5, True, None]


@pytest.mark.parametrize("bad_id", BAD_IDS, ids=["object", "array", "fraction", "bool", "null"])
@pytest.mark.parametrize("where", ["POST /", "/mcp session", "/mcp no session", "/ 2026-07-28",
                                   "/mcp 2026-07-28"])
def test_a_request_with_an_unusable_id_gets_an_invalid_request_error(
    server: HttpServer, where: str, bad_id: Any
) -> None:
    url = server.base + "/" if where.startswith(("POST /", "/ ")) else server.mcp
    if where.endswith(MODERN):
        body, headers = modern_call({"command": "s3 ls"}, id=bad_id)
    else:
        body = rpc("tools/list", id=bad_id)
        headers = open_session(server) if where == "/mcp session" else STREAMABLE
    started = time.monotonic()
    response = httpx.post(url, json=body, headers=headers, timeout=10)
    assert time.monotonic() - started < 5
    assert response.status_code == 400, response.text
    assert '"id" must be a string or an integer' in refusal(response)["message"]


@pytest.mark.parametrize("good_id", [0, -7, 2**70, "", "x"])
def test_string_and_integer_ids_are_answered_under_them(server: HttpServer, good_id: Any) -> None:
    answer = httpx.post(f"{server.base}/", json=rpc("tools/list", id=good_id), timeout=10).json()
    assert answer["id"] == good_id and "result" in answer


def test_a_notification_is_still_accepted_without_an_answer(server: HttpServer) -> None:
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    response = httpx.post(f"{server.base}/", json=note, timeout=10)
    assert response.status_code == 202 and not response.content


def test_a_foreign_host_is_refused_before_the_id_is_judged(server: HttpServer) -> None:
    response = httpx.post(f"{server.base}/", json=rpc("tools/list", id={"a": 1}),
                          headers={**JSON, "Host": "evil.example.com"}, timeout=10)
    assert response.status_code == 421


# --- --max-connections ---------------------------------------------------------------------------


def slow_client(port: int) -> socket.socket:
    """A connection that has sent half a request head and then nothing (slowloris)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a")
    return sock


def test_connections_beyond_max_connections_are_refused_with_503_at_once(
    aws_files: AwsFiles, moto_server: Moto, tmp_path: Path
) -> None:
    running = start_server(aws_files, moto_server, tmp_path, "--max-connections", "2")
    slow = []
    try:
        slow.append(slow_client(running.port))
        # One slow client of two allowed: everyone else is still served.
        assert tools_listed(running)
        slow.append(slow_client(running.port))
        time.sleep(0.5)  # the server has accepted both
        for path in ("/health", "/"):
            started = time.monotonic()
            refused = httpx.request("GET" if path == "/health" else "POST",
                                    f"{running.base}{path}", json=rpc("tools/list"), timeout=10)
            assert refused.status_code == 503, refused.text
            assert time.monotonic() - started < 5, "a refusal, not a wait"
        slow.pop().close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not tools_listed(running):
            time.sleep(0.2)
        assert tools_listed(running), "a connection that closed frees its place"
    finally:
        for sock in slow:
            sock.close()
        running.stop()
    assert "Exceeded concurrency limit" in running.log()


# --- a client that goes away mid-call -----------------------------------------------------------
# (Not /mcp with a session: there a disconnect is no cancellation, as the transport specifies; see
# docs/http.md.)


def leave_mid_call(running: HttpServer, where: str) -> None:
    """Start the never-ending waiter on `where` and go away after 2 s."""
    if where == "sse":

        async def call() -> None:
            with anyio.move_on_after(2):
                async with Client(sse_client(running.sse), mode="legacy") as client:
                    await client.call_tool(READ, WAITING)

        anyio.run(call)
        return
    url = f"{running.base}/" if where.startswith("POST /") else running.mcp
    if where.endswith(MODERN):
        body, headers = modern_call(WAITING)
    else:
        body = rpc("tools/call", name=READ, arguments=WAITING)
        headers = {**STREAMABLE, "Mcp-Protocol-Version": "2025-11-25"}
    with pytest.raises(httpx.ReadTimeout), httpx.stream(
        "POST", url, json=body, headers=headers, timeout=2
    ) as response:
        response.read()


@pytest.mark.parametrize("where", ["POST / 2025-11-25", f"POST / {MODERN}",
                                   "/mcp --stateless", f"/mcp {MODERN}", "sse"])
def test_a_client_that_goes_away_mid_call_frees_its_slot_at_once(
    aws_files: AwsFiles, moto_server: Moto, tmp_path: Path, where: str
) -> None:
    audit = tmp_path / "audit.jsonl"
    flags = ["--max-concurrency", "1", "--timeout", "60", "--audit-log", str(audit)]
    running = start_server(aws_files, moto_server, tmp_path, *flags,
                           *(["--stateless"] if "stateless" in where else []))
    try:
        leave_mid_call(running, where)
        # The one slot is free again at once, not at the waiter's 60 s deadline. (A call waits
        # up to 30 s for a slot: the client's timeout is longer, so only the time tells.)
        started = time.monotonic()
        answer = httpx.post(f"{running.base}/", json=rpc(
            "tools/call", 2, name=READ, arguments={"command": "s3api list-buckets"}),
            timeout=45).json()
        assert not answer["result"]["isError"], answer
        assert time.monotonic() - started < 10
        records = [json.loads(line) for line in audit.read_text().splitlines()]
    finally:
        running.stop()
    waited = [r for r in records if "dynamodb" in json.dumps(r)]
    assert [r["outcome"] for r in waited] == ["interrupted"], records
    assert waited[0].get("status") == "cancelled", waited
