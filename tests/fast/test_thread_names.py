"""Call workers carry an OS thread name, so an operator (`top -H`) and the soak can count them."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from aws_mcp_server.adapter import capture


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc thread names are Linux's")
def test_a_named_thread_shows_its_name_to_the_operating_system() -> None:
    seen: list[str] = []

    def work() -> None:
        capture.name_native_thread(capture.WORKER_THREAD_NAME)
        seen.append(Path(f"/proc/self/task/{threading.get_native_id()}/comm").read_text().strip())

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen == ["aws-call"]
    # The thread that named another keeps its own name.
    main = Path(f"/proc/self/task/{threading.get_native_id()}/comm").read_text().strip()
    assert main != "aws-call"
