"""On stdio, stdout is the protocol: raw pipes over a whole session see nothing but JSON-RPC."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from aws_mcp_server.engine import Engine
from aws_mcp_server.settings import Settings
from tests.conftest import AwsFiles, Moto, run, stopped_instance
from tests.mcp_helpers import ROOT, server_env


def _reader(stream: Any, lines: queue.Queue[bytes]) -> None:
    for line in iter(stream.readline, b""):
        lines.put(line)
    lines.put(b"")


def test_a_full_session_puts_only_json_rpc_on_stdout_and_exits_when_stdin_closes(
    aws_env: AwsFiles, moto_server: Moto, tmp_path: Path
) -> None:
    workdir = tmp_path / "workdir"
    workdir.mkdir()
    direct = Engine(Settings(endpoint_url=moto_server.url, workdir=workdir))
    bucket = f"wire-{uuid.uuid4().hex[:8]}"
    assert run(direct, ["s3", "mb", f"s3://{bucket}"]).ok
    body = workdir / "object.bin"
    body.write_bytes(b"raw bytes \x00\x01\x02 to stdout\n")
    assert run(
        direct, ["s3api", "put-object", "--bucket", bucket, "--key", "k", "--body", str(body)]
    ).ok
    instance = stopped_instance(direct)

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aws_mcp_server",
            "--endpoint-url",
            moto_server.url,
            "--workdir",
            str(workdir),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=server_env(aws_env),
        cwd=ROOT,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    lines: queue.Queue[bytes] = queue.Queue()
    threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True).start()
    stderr_chunks: list[bytes] = []
    threading.Thread(target=lambda: stderr_chunks.append(proc.stderr.read()), daemon=True).start()

    def send(message: dict[str, Any]) -> None:
        proc.stdin.write((json.dumps(message) + "\n").encode())  # type: ignore[union-attr]
        proc.stdin.flush()  # type: ignore[union-attr]

    def call(ident: int, command: str) -> None:
        send(
            {
                "jsonrpc": "2.0",
                "id": ident,
                "method": "tools/call",
                "params": {"name": "execute_aws_read_command", "arguments": {"command": command}},
            }
        )

    seen: list[dict[str, Any]] = []

    def wait_for(ident: int, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in seen:
                if message.get("id") == ident:
                    return message
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                continue
            assert line, "server closed stdout early"
            message = json.loads(line)  # every line must be JSON ...
            assert message.get("jsonrpc") == "2.0", line  # ... and JSON-RPC
            seen.append(message)
        raise AssertionError(f"no response to {ident}")

    send(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "raw-pipe-test", "version": "1"},
            },
        }
    )
    assert wait_for(1)["result"]["serverInfo"]["name"] == "aws-mcp-server"
    send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
    assert len(wait_for(2)["result"]["tools"]) == 3
    call(3, "ec2 describe-instances help")
    call(4, f"s3 cp s3://{bucket}/k -")
    call(5, f"s3api get-object --bucket {bucket}-missing --key k /dev/null")
    call(6, "s3 ls | head")
    call(7, f"ec2 wait instance-running --instance-ids {instance}")
    time.sleep(1.0)
    send(
        {
            "jsonrpc": "2.0",
            "method": "notifications/cancelled",
            "params": {"requestId": 7, "reason": "test"},
        }
    )
    help_text = wait_for(3)["result"]["content"][0]["text"]
    assert "describe-instances" in help_text and "--instance-ids" in help_text
    copied = wait_for(4)["result"]
    assert not copied["isError"] and "raw bytes" in copied["content"][0]["text"]
    assert wait_for(5)["result"]["isError"]
    assert wait_for(6)["result"]["isError"]
    call(8, "s3api list-buckets")
    assert bucket in wait_for(8)["result"]["content"][0]["text"]

    proc.stdin.close()
    assert proc.wait(timeout=15) == 0
    # Drain what is left: still nothing but JSON-RPC.
    while True:
        line = lines.get(timeout=5)
        if not line:
            break
        assert json.loads(line).get("jsonrpc") == "2.0"
    time.sleep(0.2)
    stderr = b"".join(stderr_chunks).decode(errors="replace")
    assert "Traceback" not in stderr
