"""Started on a terminal, the stdio server says what it is; Ctrl-C and SIGTERM end it even when
no input arrives (before, it lingered until Enter or end of file)."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.mcp_helpers import ROOT


def _start(tmp_path: Path, stdin: int) -> subprocess.Popen[bytes]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aws_mcp_server",
            "--endpoint-url",
            "http://127.0.0.1:9",
            "--workdir",
            str(tmp_path / "work"),
        ],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


def _read_until(proc: subprocess.Popen[bytes], needle: bytes, seconds: float) -> bytes:
    assert proc.stderr is not None
    seen = b""
    deadline = time.monotonic() + seconds
    while needle not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], 0.2)
        if ready:
            chunk = os.read(proc.stderr.fileno(), 4096)
            if not chunk:
                break
            seen += chunk
    return seen


def _wait_for_handler(pid: int, signum: int, seconds: float = 60) -> None:
    """Until the process catches `signum` (its SigCgt mask in /proc): start-up on a loaded
    machine can take longer than any fixed sleep."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/status") as status:
            caught = next(line for line in status if line.startswith("SigCgt:"))
        if int(caught.split()[1], 16) & (1 << (signum - 1)):
            return
        time.sleep(0.05)
    raise AssertionError(f"the server never installed a handler for signal {signum}")


def test_on_a_terminal_it_says_what_it_is_and_ctrl_c_ends_it(tmp_path: Path) -> None:
    controller, terminal = pty.openpty()
    proc = _start(tmp_path, terminal)
    os.close(terminal)
    try:
        banner = _read_until(proc, b"Ctrl-C to quit", 60)
        assert b"speaks MCP on stdin/stdout" in banner
        assert b"aws-mcp-server config" in banner
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 128 + signal.SIGINT
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(controller)
    assert proc.stdout is not None
    assert proc.stdout.read() == b""  # stdout is the protocol: the banner never goes there


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_ends_it_with_no_input_arriving(tmp_path: Path, signum: int) -> None:
    reader, writer = os.pipe()  # stdin stays open and silent: no input, no end of file
    proc = _start(tmp_path, reader)
    os.close(reader)
    try:
        _wait_for_handler(proc.pid, signal.SIGTERM)  # installed with the SIGINT one
        time.sleep(0.5)  # let it reach the transport's read of stdin
        assert proc.poll() is None
        proc.send_signal(signum)
        assert proc.wait(timeout=10) == 128 + signum
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(writer)
    assert proc.stderr is not None
    assert b"Traceback" not in proc.stderr.read()
