"""The HTTP transports end to end: a real server process on loopback, real clients, moto behind it.

Clients: the official Python client on /mcp in both protocol generations and on the legacy SSE
transport, raw httpx and curl on `POST /`, the MCP Inspector CLI and the MCP conformance suite.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from aws_mcp_server import __version__
from aws_mcp_server.adapter import AWSCLI_VERSION
from aws_mcp_server.errors import ConfigError
from aws_mcp_server.http import check_bind, is_loopback, security_settings
from aws_mcp_server.settings import Settings
from tests.conftest import AwsFiles, Moto
from tests.http_helpers import (
    NODE_TOOLS_MISSING,
    HttpServer,
    NodeTools,
    find_node_tools,
    start_server,
)
from tests.mcp_helpers import ROOT, text_of

TOKEN = "test-token-5f1d0c"
TOOLS = {"execute_aws_read_command", "execute_aws_write_command", "list_aws_profiles"}
LIST_BUCKETS = {"command": "s3api list-buckets"}
CURL_BODY = '{"jsonrpc":"2.0","method":"tools/list","id":1}'
JSON = {"Content-Type": "application/json"}
STREAMABLE = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


@pytest.fixture(scope="module")
def server(
    aws_files: AwsFiles, moto_server: Moto, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HttpServer]:
    running = start_server(aws_files, moto_server, tmp_path_factory.mktemp("http"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def token_server(
    aws_files: AwsFiles, moto_server: Moto, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HttpServer]:
    running = start_server(
        aws_files, moto_server, tmp_path_factory.mktemp("http-token"),
        extra_env={"AWS_MCP_AUTH_TOKEN": TOKEN},
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def stateless_server(
    aws_files: AwsFiles, moto_server: Moto, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HttpServer]:
    running = start_server(
        aws_files, moto_server, tmp_path_factory.mktemp("http-stateless"), "--stateless"
    )
    yield running
    running.stop()


def assert_lists_buckets(result: Any) -> None:
    assert not result.is_error, text_of(result)
    assert "Buckets" in json.loads(text_of(result)), text_of(result)


def rpc(method: str, id: int | None = 1, **params: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if id is not None:
        message["id"] = id
    if params:
        message["params"] = params
    return message


# --- /mcp with the official client ---------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(("mode", "version"), [("legacy", "2025-11-25"), ("auto", "2026-07-28")])
async def test_official_client_on_mcp_in_both_protocol_generations(
    server: HttpServer, mode: str, version: str
) -> None:
    async with Client(server.mcp, mode=mode) as client:  # type: ignore[arg-type]
        assert client.session.protocol_version == version
        tools = {tool.name for tool in (await client.list_tools()).tools}
        listed = await client.call_tool("execute_aws_read_command", LIST_BUCKETS)
    assert tools == TOOLS
    assert_lists_buckets(listed)


@pytest.mark.anyio
async def test_sse_transport_with_the_sdk_sse_client(server: HttpServer) -> None:
    async with Client(sse_client(server.sse), mode="legacy") as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        listed = await client.call_tool("execute_aws_read_command", LIST_BUCKETS)
    assert tools == TOOLS
    assert_lists_buckets(listed)


@pytest.mark.anyio
async def test_sse_endpoint_event_names_the_messages_path(server: HttpServer) -> None:
    async with httpx.AsyncClient(timeout=5) as http, http.stream("GET", server.sse) as response:
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line.startswith("data:"):
                endpoint = line.split(":", 1)[1].strip()
                assert endpoint.startswith("/sse-transport/messages?session_id=")
                break


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_stateless_mode_serves_the_official_client(
    stateless_server: HttpServer, mode: str
) -> None:
    async with Client(stateless_server.mcp, mode=mode) as client:  # type: ignore[arg-type]
        tools = {tool.name for tool in (await client.list_tools()).tools}
        listed = await client.call_tool("execute_aws_read_command", LIST_BUCKETS)
    assert tools == TOOLS
    assert_lists_buckets(listed)


def test_stateless_mode_hands_out_no_session(stateless_server: HttpServer) -> None:
    initialize = rpc("initialize", protocolVersion="2025-11-25", capabilities={},
                     clientInfo={"name": "t", "version": "0"})
    response = httpx.post(stateless_server.mcp, json=initialize, headers=STREAMABLE, timeout=10)
    assert response.status_code == 200
    assert "mcp-session-id" not in response.headers
    assert httpx.get(f"{stateless_server.base}/health", timeout=5).json()["stateless"] is True


def test_sessions_are_on_by_default(server: HttpServer) -> None:
    initialize = rpc("initialize", protocolVersion="2025-11-25", capabilities={},
                     clientInfo={"name": "t", "version": "0"})
    response = httpx.post(server.mcp, json=initialize, headers=STREAMABLE, timeout=10)
    assert response.status_code == 200
    assert response.headers.get("mcp-session-id")


@pytest.mark.anyio
async def test_eight_concurrent_clients_fifty_calls_each_without_an_error(
    server: HttpServer,
) -> None:
    failures: list[str] = []
    done = 0

    async def one_client() -> None:
        nonlocal done
        async with Client(server.mcp) as client:
            for _ in range(50):
                try:
                    result = await client.call_tool("execute_aws_read_command", LIST_BUCKETS)
                except Exception as exc:
                    failures.append(repr(exc))
                    continue
                if result.is_error or "Buckets" not in text_of(result):
                    failures.append(text_of(result))
                else:
                    done += 1

    with anyio.fail_after(300):
        async with anyio.create_task_group() as group:
            for _ in range(8):
                group.start_soon(one_client)
    assert failures == []
    assert done == 8 * 50


# --- POST / : plain JSON-RPC ---------------------------------------------------------------------


def test_plain_post_answers_the_bare_curl_request_with_plain_json(server: HttpServer) -> None:
    response = httpx.post(f"{server.base}/", content=CURL_BODY, headers=JSON, timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert "mcp-session-id" not in response.headers
    body = response.json()  # a plain JSON body: no `event:`/`data:` framing
    assert body["jsonrpc"] == "2.0" and body["id"] == 1
    assert {tool["name"] for tool in body["result"]["tools"]} == TOOLS


def test_plain_post_with_real_curl(server: HttpServer) -> None:
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    done = subprocess.run(
        [curl, "-sS", "-X", "POST", f"{server.base}/", "-H", "Content-Type: application/json",
         "-d", CURL_BODY],
        capture_output=True, text=True, timeout=30, check=True,
    )
    body = json.loads(done.stdout)
    assert {tool["name"] for tool in body["result"]["tools"]} == TOOLS


def test_plain_post_initialize(server: HttpServer) -> None:
    message = rpc("initialize", id=7, protocolVersion="2025-11-25", capabilities={},
                  clientInfo={"name": "curl", "version": "0"})
    body = httpx.post(f"{server.base}/", json=message, timeout=10).json()
    assert body["id"] == 7
    assert body["result"]["serverInfo"]["name"] == "aws-mcp-server"
    assert body["result"]["protocolVersion"] == "2025-11-25"
    assert "tools" in body["result"]["capabilities"]


def test_plain_post_tools_call_runs_against_moto(server: HttpServer) -> None:
    message = rpc("tools/call", id="c1", name="execute_aws_read_command", arguments=LIST_BUCKETS)
    response = httpx.post(f"{server.base}/", json=message, timeout=60)
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == "c1"
    assert body["result"]["isError"] is False
    assert "Buckets" in json.loads(body["result"]["content"][0]["text"])


def test_plain_post_refusal_is_a_tool_error_not_an_http_error(server: HttpServer) -> None:
    message = rpc("tools/call", name="execute_aws_read_command",
                  arguments={"command": "s3 mb s3://not-made-by-a-read"})
    body = httpx.post(f"{server.base}/", json=message, timeout=60).json()
    assert body["result"]["isError"] is True
    assert "execute_aws_write_command" in body["result"]["content"][0]["text"]


@pytest.mark.parametrize("accept", ["text/event-stream", "text/html", "*/*"])
def test_plain_post_answers_json_whatever_accept_says(server: HttpServer, accept: str) -> None:
    response = httpx.post(f"{server.base}/", content=CURL_BODY,
                          headers={**JSON, "Accept": accept}, timeout=10)
    assert response.status_code == 200
    assert response.json()["result"]["tools"]


def test_plain_post_notification_is_accepted_without_a_body(server: HttpServer) -> None:
    notification = rpc("notifications/initialized", id=None)
    response = httpx.post(f"{server.base}/", json=notification, timeout=10)
    assert response.status_code == 202


# --- health --------------------------------------------------------------------------------------


def test_health_reports_liveness_and_versions(server: HttpServer) -> None:
    response = httpx.get(f"{server.base}/health", timeout=5)
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok", "name": "aws-mcp-server", "version": __version__,
        "awscli": AWSCLI_VERSION, "stateless": False, "workers": 1,
    }


# --- bad requests --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/mcp"])
@pytest.mark.parametrize("body", ['{"jsonrpc": "2.0", "method": ', "not json at all", "\x00\xff"])
def test_malformed_json_is_a_parse_error_not_a_500(
    server: HttpServer, path: str, body: str
) -> None:
    response = httpx.post(f"{server.base}{path}", content=body.encode("latin-1"),
                          headers=STREAMABLE, timeout=10)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32700


@pytest.mark.parametrize("path", ["/", "/mcp", "/sse-transport/messages?session_id=" + "0" * 32])
def test_oversized_body_is_refused_with_413(server: HttpServer, path: str) -> None:
    big = rpc("tools/call", name="execute_aws_read_command",
              arguments={"command": "s3 ls " + "x" * (2 * 1024 * 1024)})
    response = httpx.post(f"{server.base}{path}", json=big, headers=STREAMABLE, timeout=30)
    assert response.status_code == 413


def test_a_body_just_under_the_limit_is_read(server: HttpServer) -> None:
    # Under 1 MiB the request gets through to the tool, which refuses the long command itself.
    message = rpc("tools/call", name="execute_aws_read_command",
                  arguments={"command": "s3 ls " + "x" * 500_000})
    body = httpx.post(f"{server.base}/", json=message, timeout=30).json()
    assert body["result"]["isError"] is True
    assert "limit is 10000" in body["result"]["content"][0]["text"]


# --- DNS rebinding: Host and Origin --------------------------------------------------------------


REQUESTS = [
    ("POST", "/mcp"),
    ("POST", "/"),
    ("GET", "/sse-transport/sse"),
    ("POST", "/sse-transport/messages?session_id=" + "0" * 32),
]


@pytest.mark.parametrize(("method", "path"), REQUESTS)
def test_foreign_host_is_refused(server: HttpServer, method: str, path: str) -> None:
    response = httpx.request(method, f"{server.base}{path}", content=CURL_BODY,
                             headers={**STREAMABLE, "Host": f"attacker.example:{server.port}"},
                             timeout=10)
    assert response.status_code == 421


@pytest.mark.parametrize(("method", "path"), REQUESTS)
def test_foreign_origin_is_refused(server: HttpServer, method: str, path: str) -> None:
    response = httpx.request(method, f"{server.base}{path}", content=CURL_BODY,
                             headers={**STREAMABLE, "Origin": "http://attacker.example"},
                             timeout=10)
    assert response.status_code == 403


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "localhost:{port}"},
        {"Host": "127.0.0.1:{port}", "Origin": "http://localhost:{port}"},
        {"Origin": "http://127.0.0.1:{port}"},
    ],
)
def test_loopback_host_and_origin_are_allowed(server: HttpServer, headers: dict[str, str]) -> None:
    sent = {name: value.format(port=server.port) for name, value in headers.items()}
    response = httpx.post(f"{server.base}/", content=CURL_BODY, headers={**JSON, **sent},
                          timeout=10)
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("host", "allowed", "refused"),
    [
        ("127.0.0.1", ["127.0.0.1:8000", "localhost:8000", "[::1]:8000"], ["evil.example:8000"]),
        ("10.1.2.3", ["10.1.2.3:8000", "10.1.2.3", "localhost:9"], ["10.1.2.4:8000", "evil:80"]),
        ("::1", ["[::1]:8000"], ["::1:8000"]),
    ],
)
def test_allowed_hosts_are_loopback_names_and_the_bound_host(
    host: str, allowed: list[str], refused: list[str]
) -> None:
    from mcp.server.transport_security import TransportSecurityMiddleware

    check = TransportSecurityMiddleware(security_settings(Settings(host=host, allow_remote=True)))
    assert all(check._validate_host(value) for value in allowed)
    assert not any(check._validate_host(value) for value in refused)
    assert check._validate_origin(f"http://{allowed[0]}")
    assert not check._validate_origin("https://evil.example")


# --- bearer token --------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), REQUESTS)
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Basic {TOKEN}", "Bearer", f"Bearer {TOKEN}x",
     f"Bearer {TOKEN[:-1]}"],
)
def test_token_required_on_every_mcp_path(
    token_server: HttpServer, method: str, path: str, authorization: str | None
) -> None:
    headers = dict(STREAMABLE)
    if authorization is not None:
        headers["Authorization"] = authorization
    response = httpx.request(method, f"{token_server.base}{path}", content=CURL_BODY,
                             headers=headers, timeout=10)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer ")


def test_right_token_is_let_through(token_server: HttpServer) -> None:
    response = httpx.post(f"{token_server.base}/", content=CURL_BODY,
                          headers={**JSON, "Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert response.status_code == 200
    assert {tool["name"] for tool in response.json()["result"]["tools"]} == TOOLS


def test_health_needs_no_token(token_server: HttpServer) -> None:
    assert httpx.get(f"{token_server.base}/health", timeout=5).status_code == 200


def test_without_a_token_configured_no_header_is_needed(server: HttpServer) -> None:
    response = httpx.post(f"{server.base}/", content=CURL_BODY, headers=JSON, timeout=10)
    assert response.status_code == 200


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_official_client_with_the_token(token_server: HttpServer, mode: str) -> None:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"})
    async with http, Client(streamable_http_client(token_server.mcp, http_client=http),
                            mode=mode) as client:  # type: ignore[arg-type]
        listed = await client.call_tool("execute_aws_read_command", LIST_BUCKETS)
    assert_lists_buckets(listed)


@pytest.mark.anyio
async def test_sse_client_with_the_token(token_server: HttpServer) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with Client(sse_client(token_server.sse, headers=headers), mode="legacy") as client:
        listed = await client.call_tool("execute_aws_read_command", LIST_BUCKETS)
    assert_lists_buckets(listed)


# --- binding -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "token", "allow_remote", "refused"),
    [
        ("127.0.0.1", None, False, False),
        ("127.0.0.2", None, False, False),
        ("localhost", None, False, False),
        ("::1", None, False, False),
        ("0.0.0.0", None, False, True),
        ("::", None, False, True),
        ("192.168.1.10", None, False, True),
        ("myhost.example", None, False, True),
        ("0.0.0.0", "secret", False, False),
        ("0.0.0.0", None, True, False),
    ],
)
def test_non_loopback_bind_needs_a_token_or_allow_remote(
    host: str, token: str | None, allow_remote: bool, refused: bool
) -> None:
    settings = Settings(transport="http", host=host, auth_token=token, allow_remote=allow_remote)
    if refused:
        with pytest.raises(ConfigError) as caught:
            check_bind(settings)
        assert "--auth-token" in str(caught.value) and "--allow-remote" in str(caught.value)
    else:
        check_bind(settings)
    assert is_loopback(host) is (host in ("127.0.0.1", "127.0.0.2", "localhost", "::1"))


def test_cli_refuses_a_non_loopback_bind_without_a_token(
    aws_files: AwsFiles, moto_server: Moto, tmp_path: Path
) -> None:
    from tests.mcp_helpers import server_env

    done = subprocess.run(
        [sys.executable, "-m", "aws_mcp_server", "--transport", "http", "--host", "0.0.0.0",
         "--port", "9", "--workdir", str(tmp_path / "workdir")],
        env=server_env(aws_files), cwd=str(ROOT), capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    assert "refusing to listen on '0.0.0.0'" in done.stderr
    assert "--auth-token" in done.stderr
    assert done.stdout == ""


# --- process behaviour ---------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_shuts_down_promptly_and_stdout_stays_empty(
    aws_files: AwsFiles, moto_server: Moto, tmp_path: Path, sig: signal.Signals
) -> None:
    running = start_server(aws_files, moto_server, tmp_path)
    response = httpx.post(f"{running.base}/", content=CURL_BODY, headers=JSON, timeout=10)
    assert response.status_code == 200
    started = time.monotonic()
    code = running.stop(sig)
    assert time.monotonic() - started < 5
    assert code in (-sig, 128 + sig), running.log()  # uvicorn re-raises the signal it handled
    assert running.stdout.read_bytes() == b""
    assert "Application shutdown complete" in running.log()


@pytest.mark.anyio
async def test_sigterm_during_a_long_call_cancels_it_cleanly(
    aws_files: AwsFiles, moto_server: Moto, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    running = start_server(aws_files, moto_server, tmp_path, "--audit-log", str(audit))
    # The waiter polls a bucket that never appears: 20 attempts, 5 seconds apart.
    waiting = {"command": "s3api wait bucket-exists --bucket never-made-bucket-for-http-test"}
    outcome: list[str] = []

    async def call() -> None:
        try:
            async with Client(running.mcp, mode="legacy") as client:
                result = await client.call_tool("execute_aws_read_command", waiting)
                outcome.append("error" if result.is_error else "ok")
        except Exception as exc:
            outcome.append(type(exc).__name__)

    async with anyio.create_task_group() as group:
        group.start_soon(call)
        await anyio.sleep(2)
        started = time.monotonic()
        running.proc.send_signal(signal.SIGTERM)
        code = await anyio.to_thread.run_sync(running.proc.wait, 30)
        elapsed = time.monotonic() - started
    assert elapsed < 15, running.log()
    assert code == -signal.SIGTERM
    assert outcome and outcome != ["ok"]
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [record.get("status") for record in records] == ["cancelled"], records


# --- MCP Inspector CLI and the conformance suite -------------------------------------------------


@pytest.fixture(scope="module")
def node_tools() -> NodeTools:
    tools = find_node_tools()
    if tools is None:
        pytest.skip(NODE_TOOLS_MISSING)
    return tools


def run_node(
    tools: NodeTools, argv: list[str], home: Path, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    home.mkdir(parents=True, exist_ok=True)
    return subprocess.run(argv, env=tools.env(home), cwd=str(home), capture_output=True, text=True,
                          timeout=timeout)


def test_inspector_cli_lists_tools_on_mcp(
    server: HttpServer, node_tools: NodeTools, tmp_path: Path
) -> None:
    done = run_node(node_tools, [*node_tools.inspector, "--cli", server.mcp, "--transport", "http",
                                 "--method", "tools/list"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert {tool["name"] for tool in json.loads(done.stdout)["tools"]} == TOOLS


def test_inspector_cli_calls_a_tool_over_sse(
    server: HttpServer, node_tools: NodeTools, tmp_path: Path
) -> None:
    argv = [*node_tools.inspector, "--cli", server.sse, "--transport", "sse",
            "--method", "tools/call", "--tool-name", "execute_aws_read_command",
            "--tool-arg", "command=s3api list-buckets"]
    done = run_node(node_tools, argv, tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result.get("isError") in (None, False), result
    assert "Buckets" in json.loads(result["content"][0]["text"])


def test_inspector_cli_calls_a_tool_on_mcp_with_the_token(
    token_server: HttpServer, node_tools: NodeTools, tmp_path: Path
) -> None:
    argv = [*node_tools.inspector, "--cli", token_server.mcp, "--transport", "http",
            "--method", "tools/call", "--tool-name", "list_aws_profiles"]
    refused = run_node(node_tools, argv, tmp_path)
    assert refused.returncode != 0
    done = run_node(node_tools, [*argv, "--header", f"Authorization: Bearer {TOKEN}"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "default" in done.stdout


EXPECTED_FAILURES = Path(__file__).resolve().parents[1] / "conformance-expected-failures.yml"
REQUIREMENTS = "2026-07-28"


@pytest.fixture(scope="module")
def conformance_server(
    aws_files: AwsFiles, moto_server: Moto, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HttpServer]:
    """The shipped server with --confirm-writes, plus the suite's `server-stateless` fixtures."""
    running = start_server(
        aws_files, moto_server, tmp_path_factory.mktemp("conformance"), "--confirm-writes",
        module="tests.conformance_server",
    )
    yield running
    running.stop()


def _baseline() -> set[str]:
    listed = set()
    for line in EXPECTED_FAILURES.read_text().splitlines():
        match = re.match(r"^\s+- ([\w:-]+)", line)
        if match:
            listed.add(match.group(1))
    return listed


def test_conformance_suite_against_mcp(
    conformance_server: HttpServer, node_tools: NodeTools, tmp_path: Path
) -> None:
    """Every scenario the 2026-07-28 revision requires passes, except those in the baseline.

    The suite fails on a failure (or warning) not listed and on a listed scenario that now
    passes; the summary is checked against the baseline here as well, so a change in how the
    suite reports cannot turn either into a silent pass.
    """
    done = run_node(node_tools, [*node_tools.conformance, "server", "--url", conformance_server.mcp,
                                 "--requirements", REQUIREMENTS,
                                 "--expected-failures", str(EXPECTED_FAILURES),
                                 "-o", str(tmp_path / "results")], tmp_path, timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Baseline check passed" in output, output
    # The suite's own reading, redone from its saved checks: a scenario is clean when none of
    # its checks is a FAILURE or a WARNING.
    clean: set[str] = set()
    unclean: set[str] = set()
    for checks in (tmp_path / "results").glob("server-*/checks.json"):
        scenario = re.sub(r"^server-|-\d{4}-\d\d-\d\dT.*$", "", checks.parent.name)
        statuses = {check["status"] for check in json.loads(checks.read_text())}
        (unclean if statuses & {"FAILURE", "WARNING"} else clean).add(scenario)
    baseline = _baseline()
    assert unclean <= baseline, f"not in the baseline: {sorted(unclean - baseline)}"
    assert not clean & baseline, f"clean now, remove from the baseline: {sorted(clean & baseline)}"
    assert {"server-stateless", "tools-list", "tools-call-error", "dns-rebinding-protection",
            "http-header-validation", "server-sse-multiple-streams"} <= clean, output
