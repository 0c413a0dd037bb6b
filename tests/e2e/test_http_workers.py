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
