"""The fast lane: no subprocess, no emulator, no network, no Node. It answers in under a minute.

    python -m pytest tests/fast

Enforced, not only promised: in this directory starting a process, connecting a socket (other
than a Unix one, or 127.0.0.1:9, a closed port the runtime-guard tests aim requests at to show
they got as far as sending) or asking for the moto fixtures fails the test that does it.
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest


class _NotInTheFastLane(AssertionError):
    pass


@pytest.fixture(autouse=True)
def _no_processes_or_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def no_process(*args: Any, **kwargs: Any) -> Any:
        raise _NotInTheFastLane("the fast lane starts no process: move the test to tests/e2e")

    real_connect = socket.socket.connect

    def no_network(self: socket.socket, address: Any) -> Any:
        if self.family == getattr(socket, "AF_UNIX", None) or tuple(address)[:2] == (
            "127.0.0.1",
            9,
        ):
            return real_connect(self, address)
        raise _NotInTheFastLane("the fast lane opens no connection: move the test to tests/engine")

    monkeypatch.setattr(subprocess.Popen, "__init__", no_process)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    yield


@pytest.fixture
def moto_server() -> None:
    raise _NotInTheFastLane("the fast lane has no emulator: move the test to tests/engine")


@pytest.fixture
def aws_files() -> None:
    raise _NotInTheFastLane("the fast lane has no emulator: move the test to tests/engine")


@pytest.fixture
def aws_env() -> None:
    raise _NotInTheFastLane("the fast lane has no emulator: move the test to tests/engine")
