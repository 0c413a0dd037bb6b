"""Faults: endpoints that hang, trickle or reset, and an emulator killed mid-transfer.

Every call must end by its deadline (`--timeout`) with an error that says what happened, and
the next call must work. What a timed-out call leaves behind is counted from outside: the
server's threads and sockets (/proc/PID/task, /proc/PID/fd) and the connections the hung
endpoint still sees open, right after the calls returned and later.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import sys
import threading
import time
from pathlib import Path
from typing import Any

from aws_mcp_server.adapter.capture import WORKER_THREAD_NAME
from benchmarks.soak import infra
from benchmarks.soak.scale import Scale

READ, WRITE = "execute_aws_read_command", "execute_aws_write_command"
GRACE = 3.0
IDLE_WORKER_SECONDS = 10.0
"""anyio's idle worker threads are stopped by the first off-loop call after this long."""
"""Seconds past `--timeout` a call may take to come back (the server's own grace, and ours)."""


TITLES = {"hang": "never answers", "trickle": "answers 1 byte/s", "reset": "resets"}


class BadEndpoint:
    """A loopback listener that misbehaves in one of three ways once a request arrived:
    `hang` (never answers), `trickle` (answers one byte a second, forever) or `reset` (RST)."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self._server = socket.socket()
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(128)
        self.port = int(self._server.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.accepted = 0
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def open_connections(self) -> int:
        """Connections the client has not closed yet (probed without reading data away)."""
        with self._lock:
            conns = list(self._open)
        alive = 0
        for conn in conns:
            try:
                conn.setblocking(False)
                data = conn.recv(1, socket.MSG_PEEK)
                alive += 1 if data else 0
            except BlockingIOError:
                alive += 1
            except OSError:
                pass
        return alive

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            conn.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            conn.settimeout(None)
            if self.mode == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
                return
            with self._lock:
                self._open.add(conn)
            if self.mode == "trickle":
                reply = (b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\n"
                         b"Content-Length: 100000\r\n\r\n" + b"<" * 100000)
                for byte in reply:
                    if self._closed.wait(1.0):
                        return
                    conn.send(bytes([byte]))
            else:
                self._closed.wait()

    def close(self) -> None:
        self._closed.set()
        self._server.close()
        with self._lock:
            for conn in self._open:
                with contextlib.suppress(OSError):
                    conn.close()


PROTOCOL = "protocol error: "


async def _call(client: Any, tool: str, command: str) -> tuple[bool, str, float]:
    """(is_error, text, seconds); a call that got no tool result says `protocol error: ...`."""
    t0 = time.perf_counter()
    try:
        result = await client.call_tool(tool, {"command": command})
    except Exception as exc:
        return True, f"{PROTOCOL}{type(exc).__name__}: {exc}", time.perf_counter() - t0
    return bool(result.is_error), infra.text_of(result), time.perf_counter() - t0


def _clear(text: str) -> bool:
    """An error a user can act on: it says timeout / connection / endpoint, without a traceback."""
    low = text.lower()
    words = ("timed out", "timeout", "deadline", "connect", "connection", "reset", "endpoint",
             "could not", "refused")
    return any(w in low for w in words) and infra.TRACEBACK not in text


def run(scale: Scale, lab: Path, log: Any = None) -> list[infra.Row]:
    import anyio
    from mcp import Client

    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    rows: list[infra.Row] = []
    timeout = scale.fault_timeout
    with infra.Moto() as moto:
        home = infra.make_aws_home(moto, lab / "aws-faults", count=1)
        relay = infra.Relay(moto.port)
        workdir = lab / "faults-workdir"
        workdir.mkdir(parents=True, exist_ok=True)
        audit = lab / "faults-audit.jsonl"
        flags = ["--endpoint-url", relay.url, "--workdir", str(workdir), "--timeout",
                 str(timeout), "--log-level", "ERROR", "--audit-log", str(audit)]
        stdio = infra.stdio_server(home, flags, lab)

        async def scenario() -> None:
            async with Client(stdio.params, mode="legacy",
                              read_timeout_seconds=timeout * 4 + 60) as client:
                pid = stdio.pid()
                with infra.Sampler(pid, interval=0.5) as sampler:
                    await _bad_endpoints(client, stdio, pid, sampler, timeout, scale, rows, log)
                    await _killed(client, moto, relay, workdir, stdio, pid, sampler, scale, rows,
                                  log)

        anyio.run(scenario)
        relay.close()
        log("faults: every --max-concurrency slot busy (HTTP) ...")
        rows.append(_slots_busy(scale, lab, moto, home))
    return rows


SLOTS = 2


def _slots_busy(scale: Scale, lab: Path, moto: infra.Moto, home: infra.AwsHome) -> infra.Row:
    """Over HTTP with `--max-concurrency 2`: two calls that run to their deadline take both
    slots, a third call waits for one. Meanwhile another client asks GET /health and
    `tools/list`: neither needs a slot, so both must be answered before the slots free up."""
    import anyio
    import httpx

    deadline = max(6.0, scale.fault_timeout * 2)
    server = infra.HttpServer(home, ["--endpoint-url", moto.url, "--workdir",
                                     str(lab / "slots-workdir"), "--timeout", f"{deadline:g}",
                                     "--max-concurrency", str(SLOTS), "--log-level", "ERROR"],
                              lab)
    row = infra.Row(f"faults: every slot busy (HTTP, --max-concurrency {SLOTS})")
    ends: dict[str, float] = {}
    texts: dict[str, str] = {}

    def body(command: str) -> dict[str, Any]:
        return {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": READ, "arguments": {"command": command}}}

    async def main() -> None:
        async with httpx.AsyncClient(base_url=server.base, timeout=deadline * 4 + 30) as http:
            t0 = time.perf_counter()

            async def call(name: str, payload: dict[str, Any], path: str = "/",
                           method: str = "POST") -> None:
                answer = await http.request(method, path, json=payload if payload else None)
                ends[name] = time.perf_counter() - t0
                texts[name] = answer.text[:300]

            async with anyio.create_task_group() as group:
                for index in range(SLOTS):
                    group.start_soon(call, f"waiter{index}",
                                     body(f"dynamodb wait table-exists --table-name w{index}"))
                await anyio.sleep(1.0)
                group.start_soon(call, "queued", body("sts get-caller-identity"))
                await anyio.sleep(0.5)
                started = time.perf_counter() - t0
                group.start_soon(call, "health", {}, "/health", "GET")
                group.start_soon(call, "tools/list", {"jsonrpc": "2.0", "id": 2,
                                                      "method": "tools/list"})
                ends["asked"] = started

    try:
        anyio.run(main)
    finally:
        log = server.log()
        server.stop()
    first_free = min(ends[f"waiter{i}"] for i in range(SLOTS))
    # Answered in the first half of the time until a slot freed up: not waiting for one.
    prompt = ends["asked"] + (first_free - ends["asked"]) / 2
    row.calls = len(ends) - 1
    for name in ("health", "tools/list"):
        waited = ends[name] - ends["asked"]
        row.latencies.append(waited)
        if ends[name] >= prompt:
            row.errors += 1
            row.broke.append(f"{name} answered only when a slot freed up ({waited:.1f} s): the "
                             "event loop is blocked while a call waits for a slot")
    # A call that finds every slot busy waits for one (up to 30 s or --timeout), then runs, or
    # is refused saying why: never a hang.
    queued = texts.get("queued", "")
    queued_waited = ends["queued"] - 1.0
    queued_ran = '"isError":false' in queued.replace(" ", "")
    if not queued_ran and "already running" not in queued:
        row.errors += 1
        row.broke.append(f"the queued call neither ran nor said why: {queued[:100]!r}")
    if queued_waited > min(deadline, 30.0) + GRACE + (first_free - 1.0):
        row.broke.append(f"the queued call waited {queued_waited:.1f} s for a slot")
    row.broke += infra.log_problems(log)
    row.facts = {"ends": ends, "texts": texts, "first_slot_free": first_free,
                 "queued_ran": queued_ran, "queued_waited": queued_waited,
                 "health_prompt": ends["health"] < prompt,
                 "list_prompt": ends["tools/list"] < prompt}
    return row


SETTLE = 3.0


def _sample(pid: int, at: float, endpoint: BadEndpoint) -> dict[str, Any]:
    """What the server holds now: its threads (and, by the OS name the server gives them, its
    call workers), its sockets, and the connections still open at the bad endpoint."""
    return {"t": at, "threads": infra.threads(pid),
            "call_threads": infra.threads_named(pid, WORKER_THREAD_NAME),
            "sockets": infra.sockets(pid), "held_open": endpoint.open_connections}


def _released(sample: dict[str, Any], threads: int | None, sockets: int | None) -> bool:
    """No call worker left, and nothing beyond the baseline (and one spare) in `sample`. (The
    total can stay higher by idle workers of the pool that decides calls off the event loop.)"""
    return (not sample["call_threads"]
            and (sockets is None or (sample["sockets"] or 0) <= sockets + 1)
            and not sample["held_open"])


async def _next_call_works(client: Any) -> str | None:
    err, text, _ = await _call(client, READ, "s3api list-buckets")
    return None if not err else f"the next call failed: {text[:100]!r}"


async def _bad_endpoints(client: Any, stdio: infra.StdioServer, pid: int,
                         sampler: infra.Sampler, timeout: float, scale: Scale,
                         rows: list[infra.Row], log: Any) -> None:
    import anyio

    await _call(client, READ, "s3api list-buckets")  # warm
    # As many refused calls at once as hung ones will come: the pool of threads that decide
    # off the event loop grows to that now, so the baselines below already count it.
    async with anyio.create_task_group() as group:
        for index in range(scale.fault_hung_calls):
            group.start_soon(_call, client, READ, f"s3api create-bucket --bucket soak-warm-{index}")
    for mode in ("hang", "trickle", "reset"):
        endpoint = BadEndpoint(mode)
        row = infra.Row(f"faults: endpoint that {TITLES[mode]}")
        log(f"{row.scenario} ...")
        command = f"s3api list-buckets --endpoint-url {endpoint.url}"
        mark = len(stdio.log())
        base_threads, base_sockets = infra.threads(pid), infra.sockets(pid)
        # One call alone, then `fault_hung_calls` at once.
        results: list[tuple[bool, str, float]] = [await _call(client, READ, command)]

        async def one(results: list[tuple[bool, str, float]] = results,
                      command: str = command) -> None:
            results.append(await _call(client, READ, command))

        async with anyio.create_task_group() as group:
            for _ in range(scale.fault_hung_calls):
                group.start_soon(one)
        first = results[0][1]
        problems = []
        for err, text, took in results:
            row.calls += 1
            row.latencies.append(took)
            if not err:
                problems.append(f"succeeded: {text[:80]!r}")
            if took > timeout + GRACE:
                problems.append(f"took {took:.1f} s (deadline {timeout:g} s)")
            if err and not _clear(text):
                problems.append(f"unclear error: {text[:100]!r}")
        after = await _next_call_works(client)
        row.calls += 1
        if after:
            problems.append(after)
        # What the timed-out calls left behind, now and later.
        watch = []
        started = time.monotonic()
        for index, at in enumerate(scale.fault_watch):
            await anyio.sleep(max(0.0, started + at - time.monotonic()))
            if index == len(scale.fault_watch) - 1 and at > IDLE_WORKER_SECONDS:
                # anyio keeps the worker threads of off-loop work (deciding, reading profiles)
                # until the next such call finds them idle 10 s: one call, so that what is
                # counted is what the timed-out calls left, not the pool's idle workers. (A
                # write on the read tool: decided off the loop, refused, nothing run.)
                await _call(client, READ, "s3api create-bucket --bucket soak-idle-probe")
                await anyio.sleep(1.0)  # the stopped workers exit
            sample = _sample(pid, at, endpoint)
            # The last count may wait up to SETTLE s for threads that are ending (a loaded
            # machine schedules them late); what is still held then is held.
            settle_by = time.monotonic() + SETTLE
            while (index == len(scale.fault_watch) - 1 and time.monotonic() < settle_by
                   and not _released(sample, base_threads, base_sockets)):
                await anyio.sleep(0.25)
                sample = {**_sample(pid, at, endpoint),
                          "settled_after_s": round(SETTLE - (settle_by - time.monotonic()), 2)}
            watch.append(sample)
        endpoint.close()
        row.peak_rss = sampler.peak
        row.errors = len(problems)
        row.broke += problems[:3]
        last = watch[-1]
        if last["call_threads"]:
            row.broke.append(f"{watch[0]['call_threads']} call worker threads right after, "
                             f"{last['call_threads']} at +{last['t']:g} s (threads "
                             f"{base_threads} -> {last['threads']})")
        if base_sockets is not None and (last["sockets"] or 0) > base_sockets + 1:
            row.broke.append(f"sockets {base_sockets} -> {watch[0]['sockets']} right after, "
                             f"{last['sockets']} at +{last['t']:g} s")
        if last["held_open"]:
            row.broke.append(f"{watch[0]['held_open']} connections still open at the endpoint "
                             f"right after, {last['held_open']} at +{last['t']:g} s")
        row.broke += infra.log_problems(stdio.log()[mark:])
        row.facts = {"first_error": first[:300], "baseline_threads": base_threads,
                     "baseline_sockets": base_sockets, "watch": watch,
                     "accepted": endpoint.accepted, "problems": problems,
                     "calls": [{"error": e, "clear": _clear(t), "took": d, "text": t[:200]}
                               for e, t, d in results],
                     "next_call_ok": after is None, "next_call": after}
        rows.append(row)


async def _killed(client: Any, moto: infra.Moto, relay: infra.Relay, workdir: Path,
                  stdio: infra.StdioServer, pid: int,
                  sampler: infra.Sampler, scale: Scale, rows: list[infra.Row], log: Any) -> None:
    import anyio

    big = workdir / "big.bin"
    with big.open("wb") as handle:
        block = bytes(range(256)) * 4096
        for _ in range(scale.big_file_mb):
            handle.write(block)
    for name, command, tool, threshold in (
        ("faults: emulator killed mid `s3 cp` (large file)", "s3 cp big.bin s3://soak-big/big.bin",
         WRITE, 8 * 2**20),
        ("faults: emulator killed mid paginated listing",
         "s3api list-objects-v2 --bucket soak-list --page-size 2", READ, 0),
    ):
        log(f"{name} ...")
        row = infra.Row(name)
        if "soak-big" in command:
            infra.s3_raw(moto.url, "PUT", "/soak-big")
        else:
            infra.s3_raw(moto.url, "PUT", "/soak-list")
            for i in range(scale.list_objects):
                infra.s3_raw(moto.url, "PUT", f"/soak-list/obj-{i:05d}", b"x")
        start_bytes = len(relay.sent())
        mark = len(stdio.log())
        outcome: list[tuple[bool, str, float]] = []

        async def go(command: str = command, tool: str = tool,
                     outcome: list[tuple[bool, str, float]] = outcome) -> None:
            outcome.append(await _call(client, tool, command))

        killed_at = None
        async with anyio.create_task_group() as group:
            t0 = time.perf_counter()
            group.start_soon(go)
            # Kill once the transfer is well under way: bytes (upload) or pages (listing).
            while not outcome:
                sent = relay.sent()[start_bytes:]
                progress = (len(sent) > threshold) if threshold else (
                    sent.count(b"GET /soak-list") >= 10)
                if progress:
                    moto.kill()
                    killed_at = time.perf_counter() - t0
                    break
                await anyio.sleep(0.02)
            if killed_at is not None:
                await anyio.sleep(1.0)
                await anyio.to_thread.run_sync(moto.start)
        err, text, took = outcome[0]
        row.calls = 1
        row.latencies.append(took)
        problems = []
        if killed_at is None:
            problems.append("the call ended before the emulator could be killed")
        if not err:
            problems.append(f"reported success after the emulator died: {text[:100]!r}")
        if took > scale.fault_timeout + GRACE:
            problems.append(f"took {took:.1f} s (deadline {scale.fault_timeout:g} s)")
        if err and not _clear(text) and "error occurred" not in text.lower():
            problems.append(f"unclear error: {text[:100]!r}")
        after = await _next_call_works(client)
        row.calls += 1
        if after:
            problems.append(after)
        row.errors = len(problems)
        row.broke += problems + infra.log_problems(stdio.log()[mark:])
        row.peak_rss = sampler.peak
        row.facts = {"killed_at_s": killed_at, "error": text[-400:], "took": took,
                     "reported_error": err, "next_call_ok": after is None,
                     "threads": infra.threads(pid), "sockets": infra.sockets(pid),
                     "problems": problems}
        rows.append(row)
    big.unlink()
