"""Per-call stdout, stderr, stdin and cancellation, routed by thread.

awscli writes to `sys.stdout` / `sys.stderr` (and `sys.stdout.buffer` for binary output) and reads
`sys.stdin`. Those are process-wide, so `contextlib.redirect_stdout` mixes the output of
concurrent calls and leaves `sys.stdout` pointing at a dead buffer. Instead, `install()` replaces
the three streams once with proxies that look up the *current thread's* call context. Threads
started while a call runs (s3 transfers print from their own threads) inherit its context.

Outside a call the proxies fall back to the real streams. On stdio the server puts the real
`sys.stdout`/`sys.stdin` back before the transport starts (`restore_real_streams`): the transport
claims file descriptors 0 and 1, serves the protocol from private duplicates and points fd 1 at
stderr, so a stray write by anyone misses the wire; inside a call the proxies are back in place.
"""

from __future__ import annotations

import contextlib
import contextvars
import ctypes
import heapq
import io
import itertools
import logging
import os
import queue
import sys
import threading
import time
import weakref
from collections.abc import Callable
from typing import IO, Any, TypeVar

T = TypeVar("T")

_local = threading.local()
_installed = False
_lock = threading.Lock()


WORKER_THREAD_NAME = "aws-call"
"""The operating system's name for a call's worker thread (Linux: `top -H`, /proc/PID/task/TID/comm),
so that an operator, and the soak, can tell call workers from the server's other threads."""

_PR_SET_NAME = 15


IDLE_THREAD_NAME = "aws-idle"
"""The operating system's name for a worker thread between calls (see `Workers`)."""

_libc: Any = None


def name_native_thread(name: str) -> None:
    """Name the calling OS thread (Linux only; best effort: nothing depends on it). A thread
    started by a named one inherits its name: name every long-lived one."""
    global _libc
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        if _libc is None:
            _libc = ctypes.CDLL(None)
        _libc.prctl(_PR_SET_NAME, name.encode()[:15], 0, 0, 0)


class Workers:
    """Daemon threads that run calls, each kept for a later call once its call has ended.

    Starting a thread makes the starter wait until the new thread runs, which on a busy
    interpreter is a wait for the GIL: the event loop stood still for milliseconds on every
    call it started. A call is handed to an idle worker instead (a queue put); a new thread is
    started only when none is idle. Each call runs in a fresh `contextvars.Context`, as on a new
    thread, so no context variable set by one call is seen by the next; the call context itself
    is set and reset around it (`run_in`). A worker is named `aws-call-N` (the OS thread
    `aws-call`) while it runs a call and `aws-idle` between calls; at most `keep` wait, each
    for at most `idle_seconds`, then end. A call that is abandoned keeps its worker until it
    really ends, as it kept its own thread.
    """

    def __init__(self, keep: int, idle_seconds: float = 60.0) -> None:
        self._keep = keep
        self._idle_seconds = idle_seconds
        self._idle: list[queue.SimpleQueue[Callable[[], None]]] = []
        self._lock = threading.Lock()
        self._counter = itertools.count(1)

    @property
    def idle(self) -> int:
        return len(self._idle)

    def submit(self, job: Callable[[], None]) -> None:
        """Run `job` on an idle worker, or on a new one when none is idle."""
        with self._lock:
            jobs = self._idle.pop() if self._idle else None
        if jobs is None:
            jobs = queue.SimpleQueue()
            threading.Thread(target=self._serve, args=(jobs,), daemon=True).start()
        jobs.put(job)

    def _serve(self, jobs: queue.SimpleQueue[Callable[[], None]]) -> None:
        me = threading.current_thread()
        # Started from inside a call, this thread inherited that call's context: not its own.
        _local.ctx = None
        job: Callable[[], None] | None = jobs.get()
        while job is not None:
            me.name = f"{WORKER_THREAD_NAME}-{next(self._counter)}"
            name_native_thread(WORKER_THREAD_NAME)
            try:
                contextvars.Context().run(job)
            except BaseException:  # a job reports its own failures; a worker never dies of one
                logging.getLogger(__name__).exception("a call's worker failed")
            job = None
            me.name = IDLE_THREAD_NAME
            name_native_thread(IDLE_THREAD_NAME)
            job = self._next(jobs)

    def _next(self, jobs: queue.SimpleQueue[Callable[[], None]]) -> Callable[[], None] | None:
        """The next job for an idle worker, or None when it is to end."""
        with self._lock:
            if len(self._idle) >= self._keep:
                return None
            self._idle.append(jobs)
        try:
            return jobs.get(timeout=self._idle_seconds)
        except queue.Empty:
            with self._lock:
                if jobs in self._idle:
                    self._idle.remove(jobs)
                    return None
            # Taken from the idle list just as the wait ran out: its job is on the way.
            return jobs.get()


class CallStopped(Exception):
    """Raised inside a call's threads at its next check once it is cancelled or past its deadline."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"the command was stopped: {reason}")
        self.reason = reason


class CancelToken:
    """A deadline and a cancel flag, checked by the engine before every request and sleep.

    A check only helps a thread that reaches it: one blocked in a socket read does not. So a
    token also runs callbacks (`on_stop`) the moment it stops, whether by `cancel()` or by its
    deadline passing; for the deadline, one shared watcher thread cancels it on time (see
    `_Deadlines`). The callbacks run on whichever thread stopped the token and must not block:
    they release what the call holds (`transport` shuts its sockets down).
    """

    def __init__(self, timeout: float | None = None) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._on_stop: list[Callable[[], None]] = []
        self._watched = False
        self.timeout = timeout
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.reason: str | None = None

    def cancel(self, reason: str = "cancelled") -> None:
        with self._lock:
            if self.reason is None:
                self.reason = reason
            callbacks, self._on_stop = self._on_stop, []
        self._event.set()
        for callback in callbacks:
            _run_callback(callback)

    def on_stop(self, callback: Callable[[], None]) -> None:
        """Run `callback` once, as soon as the token stops (now, if it has stopped already).
        A token with a deadline is watched from then on, so that the deadline alone stops it."""
        with self._lock:
            stopped = self.reason is not None
            if not stopped:
                self._on_stop.append(callback)
            watch = not stopped and self.deadline is not None and not self._watched
            self._watched = self._watched or watch
        if stopped:
            _run_callback(callback)
        elif watch:
            _DEADLINES.watch(self)

    def remaining(self) -> float | None:
        if self.deadline is None:
            return None
        return self.deadline - time.monotonic()

    @property
    def stopped(self) -> bool:
        if self._event.is_set():
            return True
        left = self.remaining()
        if left is not None and left <= 0:
            self.cancel("timeout")
            return True
        return False

    def check(self) -> None:
        if self.stopped:
            raise CallStopped(self.reason or "cancelled")

    def sleep(self, seconds: float) -> None:
        """Sleep, but wake as soon as the call is stopped, and then raise."""
        left = self.remaining()
        wait = seconds if left is None else max(0.0, min(seconds, left))
        self._event.wait(wait)
        self.check()


def _run_callback(callback: Callable[[], None]) -> None:
    try:
        callback()
    except Exception:  # a release that failed must not stop the others, nor the canceller
        logging.getLogger(__name__).warning("a stop callback failed", exc_info=True)


class _Deadlines:
    """One daemon thread that stops each watched token when its deadline passes.

    Without it a deadline is noticed only at a thread's next check, which a thread blocked in
    a read of a trickling response never reaches. Tokens are held weakly: a finished call's
    token goes away with its call, and its entry with the next compaction (deadlines can be a
    day away: the entries of calls long gone must not pile up until then).
    """

    COMPACT_AFTER = 256
    """Entries of tokens gone before the heap is rebuilt without them (when they are half)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, weakref.ref[CancelToken]]] = []
        self._cond = threading.Condition(threading.Lock())
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._gone = 0

    def _forget(self, ref: weakref.ref[CancelToken]) -> None:
        # A weakref callback: it may run in any thread, at any allocation, with the lock held
        # by that very thread. It only counts; `watch` compacts under the lock.
        self._gone += 1

    def watch(self, token: CancelToken) -> None:
        assert token.deadline is not None
        with self._cond:
            if self._gone > self.COMPACT_AFTER and self._gone * 2 > len(self._heap):
                self._heap = [entry for entry in self._heap if entry[2]() is not None]
                heapq.heapify(self._heap)
                self._gone = 0
            entry = (token.deadline, next(self._seq), weakref.ref(token, self._forget))
            heapq.heappush(self._heap, entry)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="aws-call-deadlines", daemon=True
                )
                self._thread.start()
            else:
                self._cond.notify()

    def _run(self) -> None:
        # Started from inside a call, this thread inherited the call's context (and its worker's
        # OS name): it is no part of that call.
        _local.ctx = None
        name_native_thread("aws-deadlines")
        while True:
            with self._cond:
                while True:
                    now = time.monotonic()
                    if self._heap and self._heap[0][0] <= now:
                        break
                    self._cond.wait(self._heap[0][0] - now if self._heap else None)
                _, _, ref = heapq.heappop(self._heap)
            token = ref()
            if token is not None and token.reason is None:
                token.cancel("timeout")

    def _after_fork(self) -> None:
        # A forked child has none of the parent's threads and may have inherited a held lock.
        self._cond = threading.Condition(threading.Lock())
        self._heap = []
        self._thread = None
        self._gone = 0


_DEADLINES = _Deadlines()
os.register_at_fork(after_in_child=_DEADLINES._after_fork)


class Output:
    """A byte sink that keeps at most `limit` bytes but counts everything written."""

    def __init__(self, limit: int) -> None:
        self._data = bytearray()
        self._limit = limit
        self._lock = threading.Lock()
        self.size = 0

    def write(self, data: bytes) -> None:
        with self._lock:
            self.size += len(data)
            room = self._limit - len(self._data)
            if room > 0:
                self._data += data[:room]

    def getvalue(self) -> bytes:
        with self._lock:
            return bytes(self._data)



class CallContext:
    """What one call sees as its standard streams, plus its cancel token."""

    def __init__(
        self,
        *,
        stdin: bytes = b"",
        limit: int = 64 << 20,
        token: CancelToken | None = None,
        workdir: str | os.PathLike[str] | None = None,
    ):
        self.workdir = os.path.realpath(workdir) if workdir is not None else None
        """The one directory the call may read and write local files in; None: none at all."""
        self.refusals: list[Exception] = []
        """What the runtime guards refused during the call (`PolicyError`s), in order."""
        self.stdout = Output(limit)
        self.stderr = Output(limit)
        self.stdin = io.BytesIO(stdin)
        self.stdin_text = io.TextIOWrapper(self.stdin, encoding="utf-8", errors="replace")
        self.token = token or CancelToken()
        self.requests = 0
        """HTTP requests sent so far (pages, polls, retries, transfer parts), for progress."""
        self.hosts: dict[str, int] = {}
        """Requests sent so far per `scheme://host:port`: where the call went."""
        self.json_indent = 0
        """Indentation of awscli's JSON output (0: compact)."""
        self.credential_method: str | None = None
        """Where the call's credentials came from (botocore's method name: `assume-role`...)."""


def current() -> CallContext | None:
    ctx: CallContext | None = getattr(_local, "ctx", None)
    return ctx


def run_in(ctx: CallContext, fn: Callable[[], T]) -> T:
    """Run `fn` on this thread with `ctx` as its call context."""
    previous = current()
    _local.ctx = ctx
    try:
        return fn()
    finally:
        _local.ctx = previous


class _BinaryOut(io.RawIOBase):
    def __init__(self, proxy: _TextOut) -> None:
        self._proxy = proxy

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        ctx = current()
        if ctx is None:
            stream = self._proxy.fallback.buffer
            written = stream.write(data)
            return int(written) if written is not None else len(data)
        out = ctx.stdout if self._proxy.name == "stdout" else ctx.stderr
        out.write(bytes(data))
        return len(data)

    def flush(self) -> None:
        if current() is None:
            self._proxy.fallback.buffer.flush()


class _TextOut(io.TextIOBase):
    def __init__(self, name: str, fallback: IO[str]) -> None:
        self.name = name
        self.fallback: Any = fallback
        self._buffer = _BinaryOut(self)

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    @property
    def errors(self) -> str:  # type: ignore[override]
        return "strict"

    @property
    def buffer(self) -> Any:
        return self._buffer

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        ctx = current()
        if ctx is None:
            return int(self.fallback.write(text))
        out = ctx.stdout if self.name == "stdout" else ctx.stderr
        out.write(text.encode("utf-8", "replace"))
        return len(text)

    def flush(self) -> None:
        if current() is None:
            self.fallback.flush()

    def isatty(self) -> bool:
        return False if current() is not None else bool(self.fallback.isatty())

    def fileno(self) -> int:
        if current() is not None:
            # Code that reaches for the file descriptor would write past our capture onto the
            # real fd 1 (on stdio: into the protocol). Refuse instead.
            raise io.UnsupportedOperation("fileno is not available inside a captured call")
        return int(self.fallback.fileno())


class _TextIn(io.TextIOBase):
    def __init__(self, real: IO[str]) -> None:
        self._real: Any = real

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    @property
    def buffer(self) -> Any:
        ctx = current()
        return self._real.buffer if ctx is None else ctx.stdin

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> str:
        ctx = current()
        return str(self._real.read(size) if ctx is None else ctx.stdin_text.read(size))

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        ctx = current()
        if ctx is None:
            return str(self._real.readline(size))
        return ctx.stdin_text.readline(-1 if size is None else size)

    def isatty(self) -> bool:
        return False if current() is not None else bool(self._real.isatty())

    def fileno(self) -> int:
        if current() is not None:
            raise io.UnsupportedOperation("fileno is not available inside a captured call")
        return int(self._real.fileno())


_real_stdout: Any = None
_real_stderr: Any = None
_real_stdin: Any = None
_stdout_proxy: _TextOut | None = None


def install() -> None:
    """Route sys.stdout/stderr/stdin through thread-aware proxies. Call before importing awscli.

    Idempotent, and cheap enough to call before every call: if something replaced a stream since
    (a test runner's capture does, per test), the proxy is put back with that stream as fallback.
    """
    global _installed, _real_stdout, _real_stderr, _real_stdin, _stdout_proxy
    if (
        _installed
        and isinstance(sys.stdout, _TextOut)
        and isinstance(sys.stderr, _TextOut)
        and isinstance(sys.stdin, _TextIn)
    ):
        return
    with _lock:
        if not isinstance(sys.stdout, _TextOut):
            _real_stdout = sys.stdout
            _stdout_proxy = _TextOut("stdout", _real_stdout)
            sys.stdout = _stdout_proxy
        if not isinstance(sys.stderr, _TextOut):
            _real_stderr = sys.stderr
            sys.stderr = _TextOut("stderr", _real_stderr)
        if not isinstance(sys.stdin, _TextIn):
            _real_stdin = sys.stdin
            sys.stdin = _TextIn(_real_stdin)
        if not _installed:
            _patch_thread_start()
            _installed = True


def _patch_thread_start() -> None:
    original_start = threading.Thread.start

    def start(self: threading.Thread) -> None:
        ctx = current()
        if ctx is not None:
            run = self.run

            def run_with_context() -> None:
                _local.ctx = ctx
                try:
                    run()
                finally:
                    _local.ctx = None

            self.run = run_with_context  # type: ignore[method-assign]
        original_start(self)

    threading.Thread.start = start  # type: ignore[method-assign]


def restore_real_streams() -> None:
    """Put the real sys.stdout/stdin back (the proxies return on the next `install()`).

    The stdio transport needs them to claim file descriptors 0 and 1: it serves the protocol
    from private duplicates and points fd 1 at stderr, so that a stray write by anyone, a child
    process included, misses the wire.
    """
    if _real_stdout is not None:
        sys.stdout = _real_stdout
    if _real_stdin is not None:
        sys.stdin = _real_stdin
