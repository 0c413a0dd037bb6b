"""Runs a decided command (a `RunPlan`) through awscli in-process: one fresh driver per call, on a
daemon worker thread (kept for a later call once it ends: `capture.Workers`).

    plan = decide("s3api list-buckets", settings).plan
    result = Engine(settings).run(plan, profile="alt", timeout=30)

Each call gets its own botocore session (profile and region apply to it alone), its own
captured stdout/stderr/stdin (see `capture`), and a cancel token checked before every API call,
page, waiter poll, retry and transfer part. A thread cannot be killed, and one blocked in a socket
read reaches no check: so the moment a call is cancelled or its deadline passes, every socket it
holds is shut down (`adapter.transport`), which ends the blocked read, and the worker thread ends
at its next check. A call that still does not end within `GRACE_SECONDS` is abandoned (its worker
is a daemon) and reported as timed out; it holds its slot until it really ends, so abandoned
calls count against the cap.

Every outcome is a `RunResult`; awscli's `SystemExit`, `None` and 255 included. The only
exception `run` raises is `EngineError`, when the cap on calls in flight is reached.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio
import anyio.lowlevel

from aws_mcp_server.adapter import capture, cli_handlers, credentials, driver
from aws_mcp_server.errors import EngineError
from aws_mcp_server.guards import modes
from aws_mcp_server.model import RunPlan
from aws_mcp_server.settings import Settings

Status = Literal["ok", "error", "timeout", "cancelled"]

# How long past its deadline we wait for a call to notice before we abandon it.
GRACE_SECONDS = 1.0
# Bytes kept per stream while capturing; what is over the output cap is counted, not kept.
CAPTURE_LIMIT = 64 << 20


@dataclass(frozen=True)
class RunResult:
    exit_code: int
    stdout: bytes
    """At most the output cap, cut at a line boundary where there is one."""
    stderr: str
    duration: float
    status: Status
    stdout_size: int
    """The true size of everything the command wrote to stdout, in bytes."""
    hosts: dict[str, int] = field(default_factory=dict)
    """HTTP requests sent, per `scheme://host:port`."""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def truncated(self) -> bool:
        return self.stdout_size > len(self.stdout)

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", "replace")


def _cut(data: bytes, cap: int) -> bytes:
    """The first `cap` bytes, ending at the last newline in them if there is one in the second half,
    and never in the middle of a UTF-8 sequence."""
    if len(data) <= cap:
        return data
    head = data[:cap]
    newline = head.rfind(b"\n")
    if newline >= cap // 2:
        return head[: newline + 1]
    # Step back over UTF-8 continuation bytes (10xxxxxx) so that the text stays decodable.
    end = cap
    while end > 0 and (data[end] & 0xC0) == 0x80:
        end -= 1
    return data[:end]





class Engine:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._slots = threading.BoundedSemaphore(settings.max_concurrency)
        # Idle workers kept: as many as calls may run at once.
        self._workers = capture.Workers(settings.max_concurrency)
        self._lock = threading.Lock()
        self._in_flight = 0
        # Every call's session set up from the shared handler templates (see `cli_handlers`).
        cli_handlers.prepare()

    def warm_up(self) -> None:
        """Load what most calls need now rather than on the first call (about 0.5 s)."""
        driver.warm_up()

    @property
    def in_flight(self) -> int:
        """Calls whose worker thread is still running, abandoned ones included."""
        return self._in_flight

    def start(
        self,
        plan: RunPlan,
        *,
        profile: str | None = None,
        region: str | None = None,
        stdin: bytes = b"",
        timeout: float | None = None,
        token: capture.CancelToken | None = None,
    ) -> _Call:
        """Start running `plan` on a daemon worker thread and return its handle.

        With every --max-concurrency slot busy it waits up to 30 s for one, then raises
        EngineError. The plan is what `decision.decide` made of the command; the engine adds
        nothing to its argv. Its session sends every client to `plan.endpoint_url` unless a
        client names its own, and refuses clients of services the server's lists exclude.
        """
        limit = self.settings.timeout if timeout is None else timeout
        if not self._slots.acquire(timeout=min(limit, 30.0)):
            raise EngineError(
                f"{self.settings.max_concurrency} AWS commands are already running",
                rule="engine:max-concurrency",
                fix="Wait for one to finish, or raise --max-concurrency.",
            )
        return self._launch(plan, profile, region, stdin, limit, token)

    def try_start(
        self, plan: RunPlan, *, profile: str | None = None, region: str | None = None
    ) -> _Call | None:
        """`start`, or None at once when no slot is free (for a caller on an event loop, which
        then waits for a slot on a worker thread)."""
        if not self._slots.acquire(blocking=False):
            return None
        return self._launch(plan, profile, region, b"", self.settings.timeout, None)

    def _launch(
        self,
        plan: RunPlan,
        profile: str | None,
        region: str | None,
        stdin: bytes,
        limit: float,
        token: capture.CancelToken | None,
    ) -> _Call:
        """Start the worker thread of a call that holds a slot."""
        if token is None:
            token = capture.CancelToken(limit)
        # Something may have replaced sys.stdout since the last call (a test runner does).
        capture.install()
        ctx = capture.CallContext(
            stdin=stdin, limit=CAPTURE_LIMIT, token=token, workdir=self.settings.workdir
        )
        ctx.json_indent = self.settings.json_indent
        call = _Call(self, plan, profile, region, ctx, limit)
        with self._lock:
            self._in_flight += 1
        self._workers.submit(call._work)
        return call

    def run(self, plan: RunPlan, **kwargs: Any) -> RunResult:
        """Run one plan and wait for its result (blocking)."""
        return self.start(plan, **kwargs).wait()

    async def arun(self, plan: RunPlan, **kwargs: Any) -> RunResult:
        """Run one plan without blocking the event loop; cancelling the caller stops the call."""
        call = self.start(plan, **kwargs)
        try:
            await call.wait_async()
        except BaseException:
            call.ctx.token.cancel("cancelled")
            raise
        return call.result()

    def _finished(self) -> None:
        with self._lock:
            self._in_flight -= 1
        self._slots.release()


class _Call:
    """One running command."""

    def __init__(
        self,
        engine: Engine,
        plan: RunPlan,
        profile: str | None,
        region: str | None,
        ctx: capture.CallContext,
        timeout: float,
    ) -> None:
        self.engine = engine
        self.plan = plan
        self.profile = profile
        self.region = region
        self.ctx = ctx
        self.timeout = timeout
        self.done = threading.Event()
        self.started = time.perf_counter()
        self.exit_code: int | None = None
        self.ended: float | None = None
        self.stop_reason: str | None = None
        """Why the call was stopped, as of when its worker ended (None: it was not)."""
        self._waiters: list[tuple[Any, anyio.Event]] = []
        self._waiters_lock = threading.Lock()

    def _work(self) -> None:
        try:
            self.exit_code = capture.run_in(self.ctx, self._invoke)
        finally:
            self.ended = time.perf_counter()
            # The token can still stop after this (its deadline passing, a late cancel): that
            # changes nothing about a call that has ended.
            self.stop_reason = self.ctx.token.reason
            self.engine._finished()
            self.done.set()
            with self._waiters_lock:
                waiters, self._waiters = self._waiters, []
            for loop_token, event in waiters:
                # If the waiting loop has gone away there is nothing to wake.
                with contextlib.suppress(Exception):
                    anyio.from_thread.run_sync(event.set, token=loop_token)

    def _invoke(self) -> int:
        cli: Any = None
        try:
            settings = self.engine.settings
            # The same local-file and URL guards as classification sit inside awscli (on the
            # call's workdir): a command that slipped past them still cannot touch a file
            # outside it.
            cli = driver.new_driver(
                self.profile,
                self.region,
                endpoint_url=self.plan.endpoint_url,
                client_check=lambda service: _check_client(service, settings),
                # Help needs no profile, and must render whatever the config files say.
                user_config=not self.plan.is_help,
            )
            code = cli.main(list(self.plan.argv))
        except SystemExit as exit_:
            code = _exit_code(exit_.code)
        except capture.CallStopped:
            code = 255
        except BaseException as exc:  # a bug in awscli or in us: report it, never lose the thread
            known = driver.explain(exc)
            if known is not None:
                self.ctx.stderr.write(f"{known}\n".encode())
            else:
                self.ctx.stderr.write(
                    f"\nunexpected error: {type(exc).__name__}: {exc}\n".encode()
                )
            code = 255
        finally:
            if cli is not None:
                # A stopped call may have left a request half done: its clients are not kept.
                driver.release(cli, reusable=self.ctx.token.reason is None)
        return 0 if code is None else int(code)

    def wait(self) -> RunResult:
        self.done.wait(self.timeout + GRACE_SECONDS)
        return self.result()

    async def wait_async(self) -> None:
        event = anyio.Event()
        with self._waiters_lock:
            if not self.done.is_set():
                self._waiters.append((anyio.lowlevel.current_token(), event))
            else:
                event.set()
        with anyio.move_on_after(self.timeout + GRACE_SECONDS):
            await event.wait()

    def result(self) -> RunResult:
        """The outcome so far: complete if the call ended, else a timeout with what it printed."""
        token = self.ctx.token
        finished = self.done.is_set()
        if not finished:
            token.cancel("timeout")
        reason = self.stop_reason if finished else token.reason
        end = self.ended if finished and self.ended is not None else time.perf_counter()
        duration = end - self.started
        raw = self.ctx.stdout.getvalue()
        stderr = self.ctx.stderr.getvalue().decode("utf-8", "replace")
        status: Status
        if reason == "timeout":
            status = "timeout"
            stderr = _stopped_note(stderr, f"timed out after {self.timeout:g} s")
            code = 124
        elif reason is not None:
            status = "cancelled"
            stderr = _stopped_note(stderr, "cancelled")
            code = 130
        else:
            code = self.exit_code if self.exit_code is not None else 255
            status = "ok" if code == 0 else "error"
            if status == "error":
                stderr = credentials.explain_stderr(
                    stderr, self.profile, self.ctx.credential_method
                )
        cap = self.engine.settings.output_cap
        return RunResult(
            exit_code=code,
            stdout=_cut(raw, cap),
            stderr=stderr,
            duration=duration,
            status=status,
            stdout_size=self.ctx.stdout.size,
            hosts=dict(self.ctx.hosts),
        )


def _check_client(service: str, settings: Settings) -> None:
    refusal = modes.client_refusal(service, settings)
    if refusal is not None:
        raise modes.as_error(refusal)


def _stopped_note(stderr: str, what: str) -> str:
    # awscli prints our stop signal as an error; replace it with one clear line.
    lines = [line for line in stderr.splitlines() if "the command was stopped" not in line]
    lines.append(f"The command {what}; output up to that point is shown.")
    return "\n".join(line for line in lines if line.strip()) + "\n"


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    # SystemExit("message"): argparse and some customizations exit with text.
    text = str(code)
    ctx = capture.current()
    if ctx is not None and text:
        ctx.stderr.write((text + "\n").encode())
    return 1
