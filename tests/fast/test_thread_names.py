"""Call workers carry an OS thread name, so an operator (`top -H`) and the soak can count them;
and a worker kept for the next call carries nothing of the last one into it."""

from __future__ import annotations

import contextvars
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from aws_mcp_server.adapter import capture
from tests.conftest import wait_until


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


def _comm() -> str:
    return Path(f"/proc/self/task/{threading.get_native_id()}/comm").read_text().strip()


def _run(workers: capture.Workers, job: Callable[[], object]) -> threading.Thread:
    """Run `job` on `workers` and wait for it; the thread it ran on."""
    done = threading.Event()
    ran: list[threading.Thread] = []

    def wrapped() -> None:
        ran.append(threading.current_thread())
        try:
            job()
        finally:
            done.set()

    workers.submit(wrapped)
    assert done.wait(10)
    return ran[0]


def test_a_worker_runs_the_next_call_and_is_named_by_what_it_does() -> None:
    workers = capture.Workers(keep=2)
    names: list[str] = []
    first = _run(workers, lambda: names.append(threading.current_thread().name))
    assert wait_until(lambda: workers.idle == 1, 20)
    assert first.name == capture.IDLE_THREAD_NAME
    second = _run(workers, lambda: names.append(threading.current_thread().name))
    assert second is first
    assert wait_until(lambda: workers.idle == 1, 20)
    assert all(name.startswith(capture.WORKER_THREAD_NAME + "-") for name in names)
    assert names[0] != names[1]
    if sys.platform.startswith("linux"):
        seen: list[str] = []
        _run(workers, lambda: seen.append(_comm()))
        assert seen == [capture.WORKER_THREAD_NAME]
        assert wait_until(lambda: workers.idle == 1, 20)
        comm = Path(f"/proc/self/task/{first.native_id}/comm").read_text().strip()
        assert comm == capture.IDLE_THREAD_NAME


def test_nothing_one_call_sets_is_seen_by_the_next_on_the_same_worker() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    workers = capture.Workers(keep=1)
    seen: list[object] = []
    ctx = capture.CallContext(stdin=b"", limit=1 << 10, token=capture.CancelToken(5))

    def first() -> None:
        var.set("first call's")
        capture.run_in(ctx, lambda: seen.append(capture.current()))

    a = _run(workers, first)
    assert wait_until(lambda: workers.idle == 1, 20)
    b = _run(workers, lambda: seen.extend([var.get(), capture.current()]))
    assert a is b
    assert seen == [ctx, "unset", None]


def test_a_failing_call_leaves_its_worker_serving() -> None:
    workers = capture.Workers(keep=1)

    def fail() -> None:
        raise RuntimeError("boom")

    a = _run(workers, fail)
    assert wait_until(lambda: workers.idle == 1, 20)
    assert _run(workers, lambda: None) is a


def test_workers_beyond_the_idle_limit_end_and_idle_ones_end_after_a_while() -> None:
    workers = capture.Workers(keep=2, idle_seconds=0.3)
    release = threading.Event()
    started = threading.Barrier(5)
    threads: list[threading.Thread] = []

    def job() -> None:
        threads.append(threading.current_thread())
        started.wait(5)
        release.wait(5)

    for _ in range(4):
        workers.submit(job)
    started.wait(5)  # four calls run at once: none waits for another's worker
    assert len({id(t) for t in threads}) == 4
    release.set()
    assert wait_until(lambda: sum(t.is_alive() for t in threads) == 2, 20)
    assert workers.idle == 2
    assert wait_until(lambda: not any(t.is_alive() for t in threads), 20)
    assert workers.idle == 0
    # And a call after that gets a new worker.
    assert _run(workers, lambda: None) not in threads
