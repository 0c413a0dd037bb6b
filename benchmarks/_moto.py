"""Shared benchmark set-up: a moto server on loopback and throwaway AWS profile files."""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fake_aws_environment() -> dict[str, str]:
    """Temp config/credentials (two profiles), scrubbed of any real AWS settings; applied to os.environ."""
    home = Path(tempfile.mkdtemp(prefix="aws-mcp-bench-"))
    (home / "config").write_text(
        "[default]\nregion = us-east-1\n\n[profile alt]\nregion = eu-west-1\n"
    )
    (home / "credentials").write_text(
        "[default]\naws_access_key_id = AKIABENCH00000000000\naws_secret_access_key = bench\n"
        "[alt]\naws_access_key_id = AKIABENCH00000000001\naws_secret_access_key = bench\n"
    )
    for name in list(os.environ):
        if name.startswith("AWS_") and name != "AWS_DATA_PATH":
            del os.environ[name]
    env = {
        "AWS_CONFIG_FILE": str(home / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "HOME": str(home),
    }
    os.environ.update(env)
    return env


class MotoProcess:
    """moto in its own process on loopback, as AWS would be: its work does not share our GIL."""

    def __init__(self) -> None:
        import subprocess
        import sys
        import time
        import urllib.request

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        code = (
            "import time, logging\n"
            "logging.getLogger('werkzeug').setLevel(logging.ERROR)\n"
            "from moto.server import ThreadedMotoServer\n"
            f"s = ThreadedMotoServer(ip_address='127.0.0.1', port={self.port}, verbose=False)\n"
            "s.start()\n"
            "while True: time.sleep(3600)\n"
        )
        self._proc = subprocess.Popen([sys.executable, "-c", code])
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(self.url + "/moto-api/", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("moto did not start within 30 s") from None
                time.sleep(0.1)

    @property
    def pid(self) -> int:
        return self._proc.pid

    def stop(self) -> None:
        self._proc.terminate()
        self._proc.wait(10)


def start_moto() -> tuple[MotoProcess, str]:
    server = MotoProcess()
    return server, server.url
