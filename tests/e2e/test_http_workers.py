"""`--workers N` with `--stateless`: one port, N worker processes, any of which answers any
request; the legacy SSE transport (a session in one process) says why it is off."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import AwsFiles, Moto
from tests.http_helpers import HttpServer, start_server


@pytest.fixture(scope="module")
def workers_server(
    aws_files: AwsFiles, moto_server: Moto, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HttpServer]:
    running = start_server(
        aws_files, moto_server, tmp_path_factory.mktemp("http-workers"),
        "--stateless", "--workers", "2",
    )
    yield running
    running.stop()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _call(base: str, arguments: dict[str, str]) -> dict[str, object]:
    body = {
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "execute_aws_read_command", "arguments": arguments},
    }
    response = httpx.post(f"{base}/", json=body, timeout=60)
    assert response.status_code == 200, response.text
    result: dict[str, object] = response.json()["result"]
    return result


def test_two_workers_answer_concurrent_calls_each_with_its_own_profile_and_region(
    workers_server: HttpServer, aws_files: AwsFiles
) -> None:
    assert httpx.get(f"{workers_server.base}/health", timeout=5).json()["workers"] == 2
    assert len(_children(workers_server.proc.pid)) >= 2
    zone = "ec2 describe-availability-zones --query AvailabilityZones[0].RegionName --output text"
    who = "sts get-caller-identity --query Arn --output text"
    cases = [
        ({"command": who, "profile": "alt"}, aws_files.alt_user_arn),
        ({"command": zone, "profile": "alt"}, "eu-west-1"),
        ({"command": zone}, "us-east-1"),
        ({"command": zone, "profile": "alt", "region": "ap-south-1"}, "ap-south-1"),
        ({"command": zone, "profile": "third"}, "ap-southeast-2"),
    ] * 4
    got: list[tuple[str, str]] = []

    def one(arguments: dict[str, str], expected: str) -> None:
        result = _call(workers_server.base, arguments)
        text = "".join(block["text"] for block in result["content"])  # type: ignore[attr-defined,index]
        got.append((text.strip() if not result["isError"] else f"error: {text}", expected))

    threads = [threading.Thread(target=one, args=case) for case in cases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(got) == len(cases)
    assert [answer for answer, _ in got] == [expected for _, expected in got]


def test_legacy_sse_is_off_with_several_workers_and_says_what_to_use(
    workers_server: HttpServer,
) -> None:
    response = httpx.get(workers_server.sse, timeout=5)
    assert response.status_code == 501
    body = response.json()
    assert "--workers" in body["error"]
    assert "/mcp" in body["fix"] and "POST /" in body["fix"]


def _listening_port(base: str) -> int:
    return int(base.rsplit(":", 1)[1].split("/")[0])


def _established(pid: int, port: int) -> int:
    """Connections to `port` that process `pid` holds open."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            link = fd.readlink().as_posix()
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "01" and fields[9] in inodes:  # ESTABLISHED
                count += 1
    return count


def test_one_client_s_kept_alive_connections_spread_over_the_workers(
    workers_server: HttpServer,
) -> None:
    """Each worker listens on a socket of its own (SO_REUSEPORT): the kernel spreads one
    client's connections over them, where a shared socket gave them all to one worker."""
    port = _listening_port(workers_server.base)
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    barrier = threading.Barrier(16)
    with httpx.Client(
        base_url=workers_server.base, timeout=30,
        limits=httpx.Limits(max_connections=16, max_keepalive_connections=16),
    ) as client:

        def one() -> None:
            barrier.wait(10)  # all 16 at once: 16 connections
            assert client.post("/", json=body).status_code == 200

        threads = [threading.Thread(target=one) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        held = {pid: _established(pid, port) for pid in _children(workers_server.proc.pid)}
        serving = [pid for pid, count in held.items() if count]
        assert sum(held.values()) >= 8, held
        # Two of 16 connections on one worker by chance: one in 30,000.
        assert len(serving) == 2, held


def test_a_worker_that_dies_is_replaced_and_no_connection_is_left_unanswered(
    aws_files: AwsFiles, moto_server: Moto, tmp_path: Path
) -> None:
    """Its socket goes with it (the supervisor keeps no copy that would still take a share of
    the connections), and its replacement listens on a socket of its own."""
    import os
    import signal
    import time

    server = start_server(aws_files, moto_server, tmp_path, "--stateless", "--workers", "2")
    try:
        before = _children(server.proc.pid)
        victim = max(before)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while True:
            now = [pid for pid in _children(server.proc.pid) if pid != victim]
            if len(now) >= len(before):
                break
            assert time.monotonic() < deadline, "the dead worker was not replaced"
            time.sleep(0.2)
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
        # Ready: the replacement answers /health (it is listening) before the check below.
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{server.base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline
            time.sleep(0.2)
        time.sleep(3)  # the replacement's load settles
        for _ in range(40):  # a new connection each: each hashed to a listening socket
            response = httpx.post(f"{server.base}/", json=body, timeout=10,
                                  headers={"connection": "close"})
            assert response.status_code == 200
    finally:
        server.stop()
