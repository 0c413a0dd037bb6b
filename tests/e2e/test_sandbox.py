"""`--sandbox`: the emulator starts with the server, stays quiet on stderr, refuses what it
cannot answer (an unknown region) with a clear error, and the server exits when stdin closes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.mcp_helpers import ROOT


def _send(proc: subprocess.Popen[bytes], message: dict[str, object]) -> None:
    assert proc.stdin is not None
    proc.stdin.write((json.dumps(message) + "\n").encode())
    proc.stdin.flush()


def _receive(proc: subprocess.Popen[bytes]) -> dict[str, object]:
    assert proc.stdout is not None
    answer: dict[str, object] = json.loads(proc.stdout.readline())
    return answer


def _call(
    proc: subprocess.Popen[bytes], ident: int, tool: str, **arguments: str
) -> dict[str, object]:
    _send(
        proc,
        {
            "jsonrpc": "2.0",
            "id": ident,
            "method": "tools/call",
            "params": {"name": tool, "arguments": arguments},
        },
    )
    result = _receive(proc)["result"]
    assert isinstance(result, dict)
    return result


def test_the_sandbox_is_quiet_clear_and_quick_to_leave(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "HOME": str(tmp_path),
        "AWS_MCP_WORKDIR": str(tmp_path / "work"),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "aws_mcp_server", "--sandbox"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    try:
        _send(
            proc,
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-11-25",
                    "capabilities": {},
                    "clientInfo": {"name": "test", "version": "1"},
                },
            },
        )
        assert "result" in _receive(proc)
        _send(proc, {"jsonrpc": "2.0", "method": "notifications/initialized"})
        made = _call(proc, 2, "execute_aws_write_command", command="s3 mb s3://sandbox-quiet")
        assert made["isError"] is False, made
        listed = _call(proc, 3, "execute_aws_read_command", command="s3 ls")
        assert "sandbox-quiet" in json.dumps(listed)
        for region in ("xx-fake-1", "us-eest-1"):
            odd = _call(
                proc, 4, "execute_aws_read_command", command="ec2 describe-vpcs", region=region
            )
            text = json.dumps(odd)
            assert odd["isError"] is True
            assert "not an AWS region" in text and "<html" not in text.lower(), text
        assert proc.stdin is not None
        proc.stdin.close()
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.stderr is not None
    stderr = proc.stderr.read().decode("utf-8", "replace")
    assert "SANDBOX" in stderr
    assert "HTTP/1.1" not in stderr, stderr  # no emulator access log
    assert "\x1b[" not in stderr, stderr  # no ANSI colour
