"""`--sandbox`: an in-memory AWS emulator (moto) on a free loopback port, with fake credentials.

Lets anyone try the server with no AWS account. The emulator, its fake profiles and everything
created in it live only as long as the server process.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import socket
import tempfile
from pathlib import Path

from aws_mcp_server.errors import ConfigError

SANDBOX_PROFILES = (
    "[default]\nregion = us-east-1\noutput = json\n\n[profile sandbox-eu]\nregion = eu-west-1\n"
)
SANDBOX_CREDENTIALS = (
    "[default]\naws_access_key_id = AKIASANDBOX000000000\naws_secret_access_key = sandbox\n\n"
    "[sandbox-eu]\naws_access_key_id = AKIASANDBOX000000001\naws_secret_access_key = sandbox\n"
)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_sandbox() -> str:
    """Start the emulator and point this process's AWS config at fake profiles; return its URL."""
    # moto imports botocore: awscli's own copy must be the one loaded (see the adapter package).
    import aws_mcp_server.adapter  # noqa: F401

    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        raise ConfigError(
            "--sandbox needs the AWS emulator, which is not installed",
            rule="sandbox:missing",
            fix="Install it into the server's environment: python -m pip install "
            "'awscli-mcp-server[sandbox]' (from a clone of this repository: "
            "python -m pip install '.[sandbox]')",
        ) from None
    home = Path(tempfile.mkdtemp(prefix="aws-mcp-sandbox-"))
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    (home / "config").write_text(SANDBOX_PROFILES)
    (home / "credentials").write_text(SANDBOX_CREDENTIALS)
    for name in list(os.environ):
        if name.startswith("AWS_") and name not in ("AWS_DATA_PATH",):
            del os.environ[name]
    os.environ["AWS_CONFIG_FILE"] = str(home / "config")
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = str(home / "credentials")
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    # The emulator's access log (with ANSI colours) would land on the server's stderr.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    # Its thread is a daemon: it ends with the process, without the half-second shutdown poll
    # that stopping it would cost every exit.
    server.start()
    return f"http://127.0.0.1:{port}"
