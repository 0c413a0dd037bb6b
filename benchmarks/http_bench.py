"""HTTP vs stdio under 8 concurrent clients: the same tool call, p50/p95 latency and calls/s.

    python benchmarks/http_bench.py [--clients 8] [--calls 50] [--rounds 3] [--mode auto|legacy]

Every client repeats `execute_aws_read_command("s3api list-buckets")` against one moto process.
Rows:

- HTTP /mcp: one server process, `--clients` official clients, each its own session.
- HTTP POST /: the same server, plain JSON-RPC, one httpx client per worker (no MCP client).
- stdio, one session: one server process, one client, `--clients` calls in flight at once. This
  is the like-for-like baseline (one server process doing the same concurrent work) that the
  target "HTTP within 20% of stdio" is measured against.
- stdio, N sessions: `--clients` server processes, one client each (N interpreters, N GILs).
  Informational: it is what N stdio users would run, but it is not one server under load.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _moto import fake_aws_environment, free_port, start_moto

logging.getLogger("werkzeug").setLevel(logging.ERROR)
ROOT = Path(__file__).resolve().parent.parent
ARGS = {"command": "s3api list-buckets"}


def pct(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[round(0.95 * (len(ordered) - 1))] * 1000


async def drive(
    workers: list[Callable[[], Awaitable[None]]], calls: int, warm: int
) -> tuple[list[float], float]:
    """Run every worker `warm` times, then `calls` times each, all workers at once."""
    import anyio

    samples: list[float] = []

    async def loop(call: Callable[[], Awaitable[None]]) -> None:
        for _ in range(calls):
            started = time.perf_counter()
            await call()
            samples.append(time.perf_counter() - started)

    async with anyio.create_task_group() as group:
        for call in workers:
            for _ in range(warm):
                group.start_soon(call)
    started = time.perf_counter()
    async with anyio.create_task_group() as group:
        for call in workers:
            group.start_soon(loop, call)
    return samples, time.perf_counter() - started


def checked(result: Any) -> None:
    if result.is_error:
        raise RuntimeError("".join(getattr(block, "text", "") for block in result.content))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--calls", type=int, default=50, help="calls per client")
    parser.add_argument("--warm", type=int, default=3, help="warm-up calls per client")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each row once per round")
    parser.add_argument("--mode", choices=("auto", "legacy"), default="auto")
    args = parser.parse_args()

    from contextlib import AsyncExitStack

    import anyio
    import httpx2
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    env = {**fake_aws_environment(), "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    moto, endpoint = start_moto()
    common = ["--endpoint-url", endpoint, "--log-level", "WARNING",
              "--max-concurrency", str(max(8, args.clients))]
    port = free_port()
    http = subprocess.Popen(
        [sys.executable, "-m", "aws_mcp_server", "--transport", "http", "--port", str(port),
         *common],
        env=env, cwd=str(ROOT),
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/health", timeout=1).read()
            break
        except OSError:
            if time.monotonic() > deadline or http.poll() is not None:
                raise RuntimeError("the HTTP server did not start") from None
            time.sleep(0.1)
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "aws_mcp_server", *common], env=env, cwd=str(ROOT)
    )
    def mcp_call(client: Client) -> Callable[[], Awaitable[None]]:
        async def call() -> None:
            checked(await client.call_tool("execute_aws_read_command", ARGS))
        return call

    async def http_mcp() -> tuple[list[float], float]:
        async with AsyncExitStack() as stack:
            clients = [
                await stack.enter_async_context(Client(f"{base}/mcp", mode=args.mode))
                for _ in range(args.clients)
            ]
            return await drive([mcp_call(c) for c in clients], args.calls, args.warm)

    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "execute_aws_read_command", "arguments": ARGS}}

    def post_call(client: httpx2.AsyncClient) -> Callable[[], Awaitable[None]]:
        async def call() -> None:
            response = await client.post("/", json=body)
            if response.status_code != 200 or response.json()["result"]["isError"]:
                raise RuntimeError(response.text)
        return call

    async def http_plain() -> tuple[list[float], float]:
        async with AsyncExitStack() as stack:
            plain = [
                await stack.enter_async_context(httpx2.AsyncClient(base_url=base, timeout=60))
                for _ in range(args.clients)
            ]
            return await drive([post_call(c) for c in plain], args.calls, args.warm)

    async def stdio_one() -> tuple[list[float], float]:
        async with Client(params, mode=args.mode) as client:
            return await drive([mcp_call(client)] * args.clients, args.calls, args.warm)

    async def stdio_many() -> tuple[list[float], float]:
        async with AsyncExitStack() as stack:
            many = [
                await stack.enter_async_context(Client(params, mode=args.mode))
                for _ in range(args.clients)
            ]
            return await drive([mcp_call(c) for c in many], args.calls, args.warm)

    n = args.clients
    runs: dict[str, Callable[[], Awaitable[tuple[list[float], float]]]] = {
        f"HTTP /mcp, 1 server, {n} sessions": http_mcp,
        f"HTTP POST /, 1 server, {n} clients": http_plain,
        f"stdio, 1 server, 1 session, {n} calls in flight": stdio_one,
        f"stdio, {n} servers, 1 session each": stdio_many,
    }
    samples: dict[str, list[float]] = {name: [] for name in runs}
    rates: dict[str, list[float]] = {name: [] for name in runs}

    async def run() -> None:
        names = list(runs)
        for round_ in range(args.rounds):
            # Rotate the order each round so drift (moto's state, the page cache) hits every row.
            for name in names[round_ % len(names):] + names[:round_ % len(names)]:
                got, wall = await runs[name]()
                samples[name] += got
                rates[name].append(len(got) / wall)

    try:
        anyio.run(run)
    finally:
        http.terminate()
        http.wait(30)
        moto.stop()

    baseline = statistics.median(rates[f"stdio, 1 server, 1 session, {n} calls in flight"])
    print(f"{n} concurrent clients x {args.calls} calls x {args.rounds} rounds of "
          f"execute_aws_read_command `s3api list-buckets` (moto), client mode={args.mode}\n")
    print("| transport | p50 (ms) | p95 (ms) | calls/s (median of rounds) | vs stdio 1 server |")
    print("|---|---|---|---|---|")
    for name in runs:
        p50, p95 = pct(samples[name])
        rate = statistics.median(rates[name])
        print(f"| {name} | {p50:.1f} | {p95:.1f} | {rate:.0f} | {rate / baseline:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
