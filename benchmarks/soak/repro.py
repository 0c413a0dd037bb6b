"""Minimal reproductions of what the soak run found, one per problem, each printing what it saw.

    python -m benchmarks.soak.repro NAME      (NAME: see --help)

Each starts its own moto (own process) and server (console entry), on loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

from benchmarks.soak import infra
from benchmarks.soak.faults import BadEndpoint

READ, WRITE = "execute_aws_read_command", "execute_aws_write_command"


def _stdio(home: infra.AwsHome, flags: list[str], lab: Path) -> infra.StdioServer:
    return infra.stdio_server(home, flags, lab)


def trickle() -> None:
    """A response that trickles 1 byte/s: calls return at the deadline, their threads do not,
    and once they hold every --max-concurrency slot no other call runs (bare error text)."""
    import anyio
    from mcp import Client

    lab = Path(tempfile.mkdtemp(prefix="repro-"))
    with infra.Moto() as moto:
        home = infra.make_aws_home(moto, lab / "aws", count=1)
        server = _stdio(home, ["--endpoint-url", moto.url, "--workdir", str(lab / "w"),
                               "--timeout", "2", "--max-concurrency", "2"], lab)
        slow = BadEndpoint("trickle")

        async def main() -> None:
            async with Client(server.params, mode="legacy") as client:
                pid = server.pid()
                print("threads at start:", infra.threads(pid))
                for _ in range(2):
                    r = await client.call_tool(READ, {
                        "command": f"s3api list-buckets --endpoint-url {slow.url}"})
                    print("trickle call ->", r.is_error, infra.text_of(r).strip())
                for wait in (0, 10):
                    await anyio.sleep(wait)
                    print(f"+{wait} s: threads {infra.threads(pid)}, sockets "
                          f"{infra.sockets(pid)}, held open at the endpoint "
                          f"{slow.open_connections}")
                r = await client.call_tool(READ, {"command": "sts get-caller-identity"})
                print("an ordinary call now ->", r.is_error, repr(infra.text_of(r)))

        anyio.run(main)
        slow.close()
        print("server stderr, last lines:\n" + "\n".join(server.log().splitlines()[-4:]))


def post_disconnect() -> None:
    """POST /: the client goes away, the command runs on to its deadline holding a slot."""
    import httpx

    lab = Path(tempfile.mkdtemp(prefix="repro-"))
    with infra.Moto() as moto:
        home = infra.make_aws_home(moto, lab / "aws", count=1)
        audit = lab / "audit.jsonl"
        server = infra.HttpServer(home, ["--endpoint-url", moto.url, "--workdir", str(lab / "w"),
                                         "--timeout", "10", "--max-concurrency", "1",
                                         "--audit-log", str(audit)], lab)
        call = lambda command: {"jsonrpc": "2.0", "id": 1, "method": "tools/call",  # noqa: E731
                                "params": {"name": READ, "arguments": {"command": command}}}
        try:
            httpx.post(server.base + "/", json=call("dynamodb wait table-exists --table-name x"),
                       timeout=1)
        except httpx.ReadTimeout:
            print("client gave up after 1 s and closed the connection")
        t0 = time.monotonic()
        answer = httpx.post(server.base + "/", json=call("sts get-caller-identity"), timeout=60)
        print(f"the next call (1 slot) answered after {time.monotonic() - t0:.1f} s:",
              answer.json()["result"]["content"][0]["text"][:100])
        time.sleep(0.5)
        for line in audit.read_text().splitlines():
            record = json.loads(line)
            print("audit:", record["operation"], record["outcome"], record.get("status"),
                  record["duration_ms"], "ms")
        server.stop()


def slot_wait() -> None:
    """While a call waits for a --max-concurrency slot, the event loop is blocked: nothing else
    is answered, not even GET /health."""
    import threading

    import httpx

    lab = Path(tempfile.mkdtemp(prefix="repro-"))
    with infra.Moto() as moto:
        home = infra.make_aws_home(moto, lab / "aws", count=1)
        server = infra.HttpServer(home, ["--endpoint-url", moto.url, "--workdir", str(lab / "w"),
                                         "--timeout", "8", "--max-concurrency", "1"], lab)
        call = lambda command: {"jsonrpc": "2.0", "id": 1, "method": "tools/call",  # noqa: E731
                                "params": {"name": READ, "arguments": {"command": command}}}
        threads = [threading.Thread(target=httpx.post, args=(server.base + "/",),
                                    kwargs={"json": call(c), "timeout": 60})
                   for c in ("dynamodb wait table-exists --table-name x", "sts get-caller-identity")]
        threads[0].start()
        time.sleep(1)
        threads[1].start()  # waits for the only slot
        time.sleep(1)
        t0 = time.monotonic()
        httpx.get(server.base + "/health", timeout=60)
        print(f"GET /health took {time.monotonic() - t0:.1f} s")
        for thread in threads:
            thread.join()
        server.stop()


def audit_unwritable() -> None:
    """--audit-log that cannot be written: the write runs, the client is told nothing."""
    import anyio
    from mcp import Client

    lab = Path(tempfile.mkdtemp(prefix="repro-"))
    with infra.Moto() as moto:
        home = infra.make_aws_home(moto, lab / "aws", count=1)
        blocked = lab / "audit-is-a-directory"
        blocked.mkdir()
        server = _stdio(home, ["--endpoint-url", moto.url, "--workdir", str(lab / "w"),
                               "--audit-log", str(blocked)], lab)

        async def main() -> None:
            async with Client(server.params, mode="legacy") as client:
                r = await client.call_tool(WRITE, {"command": "s3 mb s3://unaudited"})
                print("write ->", "error" if r.is_error else "ok", infra.text_of(r).strip())

        anyio.run(main)
        print("buckets in the emulator:", infra.s3_buckets(moto.url))
        print("server stderr:", server.log().strip().splitlines()[-1])


def audit_disk_full() -> None:
    """A full disk leaves half a record; the next record is glued to it (root: tmpfs)."""
    import anyio
    from mcp import Client

    from benchmarks.soak.audit import AuditDisk

    lab = Path(tempfile.mkdtemp(prefix="repro-"))
    disk = AuditDisk.make(lab / "fs")
    if disk is None:
        print("needs root (mount -t tmpfs)")
        return
    try:
        with infra.Moto() as moto:
            home = infra.make_aws_home(moto, lab / "aws", count=1)
            log = disk.path / "audit.jsonl"
            server = _stdio(home, ["--endpoint-url", moto.url, "--workdir", str(lab / "w"),
                                   "--audit-log", str(log)], lab)

            async def main() -> None:
                async with Client(server.params, mode="legacy") as client:
                    await client.call_tool(READ, {"command": "s3 ls"})
                    disk.fill()
                    for i in range(20):
                        await client.call_tool(WRITE, {"command": f"s3 mb s3://full-{i}"})
                    disk.unfill()
                    await client.call_tool(READ, {"command": "s3 ls"})

            anyio.run(main)
            lines = log.read_text().splitlines()
            bad = [line for line in lines if not _parses(line)]
            print(f"buckets made while the disk was full: "
                  f"{len([b for b in infra.s3_buckets(moto.url) if b.startswith('full-')])}/20")
            print(f"{len(lines)} lines in the log (22 calls), {len(bad)} unparsable:")
            for line in bad:
                print("  ", line[:160])
    finally:
        disk.unmount()


def _parses(line: str) -> bool:
    try:
        json.loads(line)
        return True
    except ValueError:
        return False


def invalid_id() -> None:
    """POST / with an id that is an object or array: 202, no answer, nothing runs."""
    import httpx

    lab = Path(tempfile.mkdtemp(prefix="repro-"))
    with infra.Moto() as moto:
        home = infra.make_aws_home(moto, lab / "aws", count=1)
        server = infra.HttpServer(home, ["--endpoint-url", moto.url, "--workdir",
                                         str(lab / "w")], lab)
        for raw in ('{"a": 1}', "[1, 2]", "true"):
            body = b'{"jsonrpc": "2.0", "id": ' + raw.encode() + b', "method": "tools/list"}'
            answer = httpx.post(server.base + "/", content=body,
                                headers={"Content-Type": "application/json"})
            print(f"id {raw}: HTTP {answer.status_code}, body {answer.text!r}")
        server.stop()


def surrogate() -> None:
    """decide() on a local path holding a lone surrogate: the `internal` (bug) reject."""
    os.environ.setdefault("AWS_CONFIG_FILE", "/nonexistent")
    from aws_mcp_server.decision import decide
    from aws_mcp_server.settings import Settings

    decision = decide("s3 cp \ud800x s3://bucket/key", Settings(workdir=Path(tempfile.mkdtemp())))
    print(decision.verdict, decision.rule, decision.reason)


def slowloris() -> None:
    """Connections that never finish their headers are kept open (no header timeout)."""
    lab = Path(tempfile.mkdtemp(prefix="repro-"))
    with infra.Moto() as moto:
        home = infra.make_aws_home(moto, lab / "aws", count=1)
        server = infra.HttpServer(home, ["--endpoint-url", moto.url, "--workdir",
                                         str(lab / "w")], lab)
        conns = []
        for _ in range(50):
            sock = socket.create_connection(("127.0.0.1", server.port))
            sock.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            conns.append(sock)
        for second in range(60):
            for sock in conns:
                sock.sendall(b"a")
            time.sleep(1)
            if second in (0, 29, 59):
                print(f"+{second + 1} s: server sockets {infra.sockets(server.pid)}")
        open_ = 0
        for sock in conns:
            sock.setblocking(False)
            try:
                open_ += 1 if sock.recv(1) else 0
            except BlockingIOError:
                open_ += 1
            except OSError:
                pass
        print(f"{open_}/50 half-sent requests still open after 60 s")
        server.stop()


def session_flood() -> None:
    """Sessions on /mcp that are opened and never closed: memory per session, no cap."""
    import httpx

    lab = Path(tempfile.mkdtemp(prefix="repro-"))
    with infra.Moto() as moto:
        home = infra.make_aws_home(moto, lab / "aws", count=1)
        server = infra.HttpServer(home, ["--endpoint-url", moto.url, "--workdir",
                                         str(lab / "w")], lab)
        body = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                           "clientInfo": {"name": "x", "version": "0"}}}
        headers = {"Accept": "application/json, text/event-stream"}

        async def flood(n: int) -> int:
            async with httpx.AsyncClient(base_url=server.base) as http:
                made = 0
                for _ in range(n // 50):
                    answers = await asyncio.gather(*(http.post("/mcp", json=body, headers=headers)
                                                     for _ in range(50)))
                    made += sum(bool(a.headers.get("mcp-session-id")) for a in answers)
                return made

        before = infra.rss(server.pid) or 0
        made = asyncio.run(flood(5000))
        after = infra.rss(server.pid) or 0
        print(f"{made} sessions open; RSS {before / 2**20:.0f} -> {after / 2**20:.0f} MB")
        time.sleep(30)
        print(f"30 s later: RSS {(infra.rss(server.pid) or 0) / 2**20:.0f} MB, "
              f"threads {infra.threads(server.pid)}")
        server.stop()


REPROS: dict[str, Callable[[], None]] = {
    "trickle": trickle, "post-disconnect": post_disconnect, "slot-wait": slot_wait, "audit-unwritable": audit_unwritable,
    "audit-disk-full": audit_disk_full, "invalid-id": invalid_id, "surrogate": surrogate,
    "slowloris": slowloris, "session-flood": session_flood,
}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak.repro")
    parser.add_argument("name", choices=sorted(REPROS))
    args = parser.parse_args()
    print(REPROS[args.name].__doc__)
    REPROS[args.name]()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
