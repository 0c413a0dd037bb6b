"""HTTP abuse: malformed JSON-RPC, oversized headers and bodies, unknown sessions, slow-header
clients (slowloris) and a session flood, while a well-behaved client keeps calling a tool.

Promises checked: every answer to a bad request is an HTTP 4xx or a JSON-RPC error (never a
5xx, never a success); the process stays under a memory bound; the well-behaved client keeps
getting correct answers, and how much slower they come is measured.
"""

from __future__ import annotations

import asyncio
import json
import random
import resource
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aws_mcp_server.settings import Settings
from benchmarks.soak import infra
from benchmarks.soak.scale import Scale

MB = 2**20
MEMORY_HEADROOM = 150 * MB
"""The bound: the server's RSS before the abuse plus this much."""
ACCEPT = "application/json, text/event-stream"
CALL = {"name": "execute_aws_read_command", "arguments": {"command": "sts get-caller-identity"}}


def _rpc(method: str, params: Any = None, id_: Any = 1) -> bytes:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": id_, "method": method}
    if params is not None:
        body["params"] = params
    return json.dumps(body).encode()


# Each kind: (path, method, headers, body). All are wrong in some way; none may succeed.
def _kinds(rng: random.Random) -> dict[str, Callable[[], tuple[str, str, dict[str, str], bytes]]]:
    j = {"Content-Type": "application/json", "Accept": ACCEPT}
    sid = lambda: {**j, "Mcp-Session-Id": uuid.uuid4().hex,  # noqa: E731
                   "Mcp-Protocol-Version": "2025-06-18"}
    return {
        "truncated JSON": lambda: ("/", "POST", j, _rpc("tools/list")[: rng.randint(1, 30)]),
        "binary garbage": lambda: ("/", "POST", j, rng.randbytes(rng.randint(1, 4000))),
        "invalid UTF-8": lambda: ("/", "POST", j, b'{"jsonrpc":"2.0","id":1,"method":"\xff\xfe"}'),
        "wrong jsonrpc version": lambda: ("/", "POST", j, json.dumps(
            {"jsonrpc": "1.0", "id": 1, "method": "tools/list"}).encode()),
        "no method": lambda: ("/", "POST", j, b'{"jsonrpc":"2.0","id":1}'),
        "unknown method": lambda: ("/", "POST", j, _rpc(f"no/such/{rng.randint(0, 9**9)}")),
        "unknown tool": lambda: ("/", "POST", j, _rpc("tools/call", {"name": "rm_rf",
                                                                     "arguments": {}})),
        "command of wrong type": lambda: ("/", "POST", j, _rpc(
            "tools/call", {"name": CALL["name"], "arguments": {"command": [1, {"a": None}]}})),
        "params not an object": lambda: ("/", "POST", j, _rpc("tools/call", "x")),
        "id is an object": lambda: ("/", "POST", j, _rpc("tools/list", id_={"a": 1})),
        "id is an array": lambda: ("/", "POST", j, _rpc("tools/call", CALL, id_=[1, 2])),
        "lone surrogate": lambda: ("/", "POST", j, _rpc("tools/call", {
            "name": CALL["name"], "arguments": {"command": "s3 ls"}}).replace(
                b"s3 ls", b"s3 ls file://\\ud800x")),
        "batch of 500": lambda: ("/", "POST", j, json.dumps(
            [{"jsonrpc": "2.0", "id": i, "method": "nope"} for i in range(500)]).encode()),
        "deeply nested": lambda: ("/", "POST", j, b"[" * 100_000 + b"]" * 100_000),
        "nested params": lambda: ("/", "POST", j, b'{"jsonrpc":"2.0","id":1,"method":"tools/call",'
                                  b'"params":' + b'{"a":' * 50_000 + b"1" + b"}" * 50_000 + b"}"),
        "2 MiB body": lambda: ("/", "POST", j, b'{"jsonrpc":"2.0","id":1,"method":"x","p":"'
                               + b"a" * (2 * MB) + b'"}'),
        "unknown session POST": lambda: ("/mcp", "POST", sid(), _rpc("tools/list")),
        "unknown session GET": lambda: ("/mcp", "GET", {**sid(), "Accept": "text/event-stream"},
                                        b""),
        "unknown session DELETE": lambda: ("/mcp", "DELETE", sid(), b""),
        "no session, not initialize": lambda: ("/mcp", "POST", {**j, "Mcp-Protocol-Version":
                                                                "2025-06-18"},
                                               _rpc("tools/call", CALL)),
        "foreign Host": lambda: ("/", "POST", {**j, "Host": "evil.example.com"},
                                 _rpc("tools/list")),
        "foreign Origin": lambda: ("/", "POST", {**j, "Origin": "http://evil.example.com"},
                                   _rpc("tools/list")),
        "unknown path": lambda: (f"/{uuid.uuid4().hex}", "POST", j, _rpc("tools/list")),
        "GET on /": lambda: ("/", "GET", {}, b""),
        # Header abuse carries a bad body too, so that any answer but an error is wrong.
        "64 KiB header": lambda: ("/", "POST", {**j, "X-Big": "a" * 65_536}, _rpc("no/such")),
        "1 MiB header": lambda: ("/", "POST", {**j, "X-Big": "a" * MB}, _rpc("no/such")),
        "1,000 headers": lambda: ("/", "POST", {**j, **{f"X-H{i}": "v" for i in range(1000)}},
                                  _rpc("no/such")),
    }


RAW = {
    "bad request line": b"GARBAGE / HTTP/9.9\r\n\r\n",
    "CL and TE both": (b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4\r\n"
                       b"Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"
                       b"0\r\n\r\n"),
    "chunked 2 MiB": (b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
                      b"Content-Type: application/json\r\n\r\n"
                      + (b"100000\r\n" + b"a" * 0x100000 + b"\r\n") * 2 + b"0\r\n\r\n"),
    "negative Content-Length": (b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -5\r\n"
                                b"\r\n"),
    "NUL in header": b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\x00b\r\n\r\n",
}


MAY_DROP = {"64 KiB header", "1 MiB header"}
"""A server may close the connection on a header it will not read, before the client finished
sending it: the client then sees no answer. Any other kind must be answered."""


def _verdict(status: int | None, body: bytes) -> str:
    """`error` (a proper refusal), `5xx`, `success` (a bad request that was served),
    `202 ignored` (taken as a notification: no answer at all), or `dropped` (the connection
    closed without any answer)."""
    if status is None:
        return "dropped"
    if status == 202 and not body.strip():
        return "202 ignored"
    if status >= 500:
        return "5xx"
    if 400 <= status < 500:
        return "error"
    try:
        data = json.loads(body.split(b"\n\n")[0].removeprefix(b"event: message\ndata: ")
                          if body.startswith(b"event:") else body)
    except ValueError:
        return "success" if status < 300 else "error"
    items = data if isinstance(data, list) else [data]
    ok = all(isinstance(d, dict) and ("error" in d or d.get("result", {}).get("isError"))
             for d in items)
    return "error" if ok else "success"


async def _raw(port: int, payload: bytes, timeout: float = 10) -> tuple[int | None, bytes]:
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
    except (TimeoutError, OSError):
        return None, b""
    try:
        writer.write(payload)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(65536), timeout)
    except (TimeoutError, OSError):
        data = b""
    finally:
        writer.close()
    if not data.startswith(b"HTTP/"):
        return None, data
    try:
        return int(data.split(b" ", 2)[1]), data.split(b"\r\n\r\n", 1)[-1]
    except (IndexError, ValueError):
        return None, data


class GoodClient:
    """A well-behaved client calling `sts get-caller-identity` over POST / in a loop."""

    def __init__(self, base: str, arn: str) -> None:
        self.base = base
        self.arn = arn
        self.samples: list[tuple[float, float, str]] = []
        """(when, seconds, problem or '')"""
        self._stop = asyncio.Event()

    async def run(self) -> None:
        import httpx

        async with httpx.AsyncClient(base_url=self.base, timeout=30) as http:
            while not self._stop.is_set():
                t0 = time.perf_counter()
                problem = ""
                try:
                    answer = await http.post("/", json={"jsonrpc": "2.0", "id": 1,
                                                        "method": "tools/call", "params": CALL})
                    if self.arn not in answer.text:
                        problem = f"HTTP {answer.status_code}: {answer.text[:100]}"
                except Exception as exc:
                    problem = f"{type(exc).__name__}: {exc!s:.80}"
                self.samples.append((time.monotonic(), time.perf_counter() - t0, problem))
                await asyncio.sleep(0.1)

    def stop(self) -> None:
        self._stop.set()

    def window(self, start: float, end: float) -> tuple[list[float], list[str]]:
        got = [s for s in self.samples if start <= s[0] <= end]
        return [s[1] for s in got], [s[2] for s in got if s[2]]


async def _flood(server: infra.HttpServer, scale: Scale, rng: random.Random
                 ) -> tuple[list[float], Counter[tuple[str, str]]]:
    import httpx

    kinds = _kinds(rng)
    names = list(kinds) + list(RAW)
    per_conn = scale.abuse_requests // scale.abuse_connections
    verdicts: Counter[tuple[str, str]] = Counter()
    latencies: list[float] = []

    async def connection() -> None:
        async with httpx.AsyncClient(base_url=server.base, timeout=30,
                                     limits=httpx.Limits(max_connections=1)) as http:
            for _ in range(per_conn):
                name = rng.choice(names)
                t0 = time.perf_counter()
                if name in RAW:
                    status, body = await _raw(server.port, RAW[name])
                else:
                    path, method, headers, payload = kinds[name]()
                    try:
                        answer = await http.request(method, path, headers=headers,
                                                    content=payload or None)
                        status, body = answer.status_code, answer.content
                    except httpx.HTTPError:
                        status, body = None, b""
                latencies.append(time.perf_counter() - t0)
                verdicts[(name, _verdict(status, body))] += 1

    await asyncio.gather(*(connection() for _ in range(scale.abuse_connections)))
    return latencies, verdicts


async def _slowloris(port: int, count: int, seconds: float) -> dict[str, Any]:
    """`count` connections that send a request line, then one header byte a second."""
    conns: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    refused = 0
    for _ in range(count):
        try:
            conns.append(await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5))
        except (TimeoutError, OSError):
            refused += 1
    for _, writer in conns:
        writer.write(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    deadline = time.monotonic() + seconds
    header = b"X-Slow: " + b"a" * 10_000
    position = 0
    while time.monotonic() < deadline:
        for _, writer in conns:
            if not writer.is_closing():
                writer.write(header[position:position + 1])
        position = (position + 1) % len(header)
        await asyncio.sleep(1.0)
    open_at_end = 0
    for reader, writer in conns:
        try:
            writer.write(b"a")
            await writer.drain()
            closed = reader.at_eof()
            if not closed:
                try:
                    # Closed, or answered (a 408) and about to be: either way, dropped.
                    data = await asyncio.wait_for(reader.read(65536), 0.05)
                    closed = data == b"" or data.startswith(b"HTTP/1.1 408") or reader.at_eof()
                except TimeoutError:
                    closed = False
            open_at_end += 0 if closed else 1
        except OSError:
            pass
    for _, writer in conns:
        writer.close()
    return {"opened": len(conns), "refused": refused, "open_at_end": open_at_end,
            "seconds": seconds}


MAX_SESSIONS = Settings().max_sessions
"""The server's --max-sessions default, which this scenario leaves as it is."""


async def _session_flood(base: str, count: int) -> tuple[int, int]:
    """Open `count` sessions on /mcp (initialize) and never close them: how many were made, and
    how many were refused with a 503 that says what to do (the --max-sessions cap)."""
    import httpx

    made = refused = 0
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for start in range(0, count, 20):
            async def one() -> bool:
                answer = await http.post("/mcp", headers={"Accept": ACCEPT,
                                                          "Content-Type": "application/json"},
                                         content=_rpc("initialize", {
                                             "protocolVersion": "2025-06-18", "capabilities": {},
                                             "clientInfo": {"name": "flood", "version": "0"}}))
                if answer.status_code == 503 and "--max-sessions" in answer.text:
                    return "refused"
                return "made" if answer.headers.get("mcp-session-id") else "other"
            ends = await asyncio.gather(*(one() for _ in range(min(20, count - start))))
            made += ends.count("made")
            refused += ends.count("refused")
    return made, refused


def run(scale: Scale, lab: Path, log: Any = None) -> list[infra.Row]:
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    rows: list[infra.Row] = []
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with infra.Moto() as moto:
        home = infra.make_aws_home(moto, lab / "aws-abuse", count=1)
        # A request deadline that ends within the slow clients' time (10 s, the default, for
        # the full run's 20 s): they must be dropped by then.
        deadline = max(0.5, min(10.0, scale.slowloris_seconds / 2))
        server = infra.HttpServer(home, ["--endpoint-url", moto.url, "--workdir",
                                         str(lab / "abuse-workdir"), "--log-level", "ERROR",
                                         "--request-timeout", f"{deadline:g}"], lab)
        try:
            asyncio.run(_abuse(server, home, scale, rows, log))
        finally:
            alive = server.alive()
            server.stop()
            if rows:
                rows[-1].broke += ([] if alive else ["the server died"])
                rows[0].broke += infra.log_problems(server.log())
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return rows


async def _abuse(server: infra.HttpServer, home: infra.AwsHome, scale: Scale,
                 rows: list[infra.Row], log: Any) -> None:
    rng = random.Random(scale.seed + 40)
    good = GoodClient(server.base, home.profiles[0].arn)
    good_task = asyncio.create_task(good.run())
    sampler = infra.Sampler(server.pid, interval=0.25).__enter__()
    try:
        await asyncio.sleep(3)
        base_rss = infra.rss(server.pid) or 0
        calm = (time.monotonic() - 3, time.monotonic())

        phases: list[tuple[str, float, float]] = []
        log(f"HTTP abuse: {scale.abuse_requests} bad requests from "
            f"{scale.abuse_connections} connections ...")
        t0 = time.monotonic()
        latencies, verdicts = await _flood(server, scale, rng)
        phases.append(("flood", t0, time.monotonic()))
        row = infra.Row("HTTP abuse: malformed/oversized/unknown-session requests",
                        calls=sum(verdicts.values()), latencies=latencies)
        bad = {k: v for k, v in verdicts.items() if k[1] != "error"
               and not (k[1] == "dropped" and k[0] in MAY_DROP)}
        row.errors = sum(bad.values())
        by_kind: dict[str, Counter[str]] = {}
        for (name, verdict), n in verdicts.items():
            by_kind.setdefault(name, Counter())[verdict] += n
        for name, counts in sorted(by_kind.items()):
            wrong = {v: n for v, n in counts.items() if v != "error"
                     and not (v == "dropped" and name in MAY_DROP)}
            if wrong:
                row.broke.append(f"{name}: " + ", ".join(f"{n} {v}" for v, n in wrong.items()))
        row.facts = {"by_kind": {k: dict(v) for k, v in by_kind.items()}}
        rows.append(row)

        log(f"HTTP abuse: {scale.slowloris} slow-header connections for "
            f"{scale.slowloris_seconds:g} s ...")
        t0 = time.monotonic()
        sockets_before = infra.sockets(server.pid)
        slow_task = asyncio.create_task(_slowloris(server.port, scale.slowloris,
                                                   scale.slowloris_seconds))
        await asyncio.sleep(scale.slowloris_seconds / 2)
        sockets_during = infra.sockets(server.pid)
        slow = await slow_task
        phases.append(("slowloris", t0, time.monotonic()))
        row = infra.Row(f"HTTP abuse: slowloris ({scale.slowloris} conns)", calls=slow["opened"])
        if slow["open_at_end"]:
            row.broke.append(f"{slow['open_at_end']}/{slow['opened']} half-sent requests still "
                             f"held open after {slow['seconds']:g} s")
        slow.update(sockets_before=sockets_before, sockets_during=sockets_during)
        row.facts = slow
        rows.append(row)

        log(f"HTTP abuse: {scale.session_flood} sessions opened and never closed ...")
        t0 = time.monotonic()
        rss_before = infra.rss(server.pid) or 0
        made, refused = await _session_flood(server.base, scale.session_flood)
        await asyncio.sleep(1)
        rss_after = infra.rss(server.pid) or 0
        phases.append(("sessions", t0, time.monotonic()))
        # The server's --max-sessions (default) is the most it may keep; every initialize
        # beyond it is refused, saying so.
        cap = min(scale.session_flood, MAX_SESSIONS)
        row = infra.Row(f"HTTP abuse: session flood ({scale.session_flood} initialize)",
                        calls=scale.session_flood,
                        errors=scale.session_flood - made - refused)
        per = (rss_after - rss_before) / max(made, 1)
        if made > cap:
            row.broke.append(f"{made} sessions kept (cap {MAX_SESSIONS}), RSS "
                             f"+{(rss_after - rss_before) / MB:.0f} MB ({per / 1024:.0f} KiB each)")
        elif made < cap:
            row.broke.append(f"only {made}/{cap} sessions created below the cap")
        if row.errors:
            row.broke.append(f"{row.errors} initialize answers neither a session nor a 503 "
                             "naming --max-sessions")
        row.facts = {"sessions": made, "refused": refused, "cap": MAX_SESSIONS,
                     "rss_before": rss_before, "rss_after": rss_after}
        rows.append(row)
    finally:
        good.stop()
        await good_task
        sampler.__exit__()

    peak = sampler.peak or 0
    for row in rows:
        row.peak_rss = peak
    if peak > base_rss + MEMORY_HEADROOM:
        rows[0].broke.append(f"peak RSS {peak / MB:.0f} MB over the bound "
                             f"{(base_rss + MEMORY_HEADROOM) / MB:.0f} MB")
    calm_lat, calm_problems = good.window(*calm)
    during_lat, during_problems = good.window(phases[0][1], phases[-1][2])
    row = infra.Row("HTTP abuse: well-behaved client meanwhile", calls=len(during_lat),
                    errors=len(during_problems), latencies=during_lat, peak_rss=peak)
    if during_problems:
        row.broke.append(f"{len(during_problems)} failed, e.g. {during_problems[0]}")
    per_phase = {}
    for name, start, end in phases:
        lat, probs = good.window(start, end)
        per_phase[name] = {"calls": len(lat), "p50_ms": round(infra.median_ms(lat), 1),
                           "max_ms": round(max(lat, default=0) * 1000, 1), "failed": len(probs)}
    calm_p50 = infra.median_ms(calm_lat)
    row.broke.append(f"p50 before the abuse {calm_p50:.0f} ms; during: " + ", ".join(
        f"{k} {v['p50_ms']:.0f} ms (max {v['max_ms']:.0f})" for k, v in per_phase.items()))
    row.facts = {"calm_p50_ms": calm_p50, "calm_problems": calm_problems, "phases": per_phase,
                 "base_rss": base_rss}
    rows.append(row)

