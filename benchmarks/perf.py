"""The whole performance table in one command, against one moto process of its own.

    python benchmarks/perf.py [--calls 200] [--inflight-seconds 6] [--soak 1000] [--runs 5]

Rows (every latency is a p50/p95 over `--calls` sequential calls after 20 warm-up calls):

- floor: `list_buckets` on one reused boto3 client, in this process, against the same moto;
  and its calls/s with 8 calls in flight (8 threads sharing the client). Every ratio to the floor
  comes from floor and tool calls made in turn (latency: one floor call before each tool call;
  calls/s: 1 s windows of each), so a change in the machine's load moves both alike.
- stdio: `execute_aws_read_command` through the official MCP client over stdio, one server
  process: `s3api list-buckets` and `s3 ls`, each call right after one floor call, so that the
  ratio compares calls made under the same load; 8 calls in flight on one session (calls/s and
  ratio to the floor's); p95/p50 of the cheap calls.
- HTTP: `--transport http --stateless` with `--workers 1` and `--workers 2`, 8 plain JSON-RPC
  clients (POST /) in flight: calls/s, p50, ratio to the floor's calls/s.
- cold start: process spawn -> `tools/list` answered, and spawn -> first `tools/call` answered
  (initialize included in both), median of `--runs`; `aws-mcp-server classify 's3 ls'` wall
  time, median of `--runs`.
- memory: the stdio server's RSS after `--soak` mixed calls (profiles, regions, services,
  refusals, help), and after as many again.

Prints the machine's load average before and after: the numbers mean little on a busy machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _moto import MotoProcess, fake_aws_environment, free_port  # noqa: E402

import aws_mcp_server.adapter  # noqa: E402, F401  (awscli's botocore before boto3)

INFLIGHT = 8
MIXED: tuple[tuple[str, dict[str, str]], ...] = (
    ("s3api list-buckets", {}),
    ("s3 ls", {"profile": "alt"}),
    ("ec2 describe-instances", {"region": "eu-west-1"}),
    ("sts get-caller-identity", {"profile": "alt", "region": "us-west-2"}),
    ("dynamodb list-tables", {}),
    ("sqs list-queues", {"region": "eu-west-1"}),
    ("iam list-users", {"profile": "alt"}),
    ("s3 ls s3://perf-bucket-0", {}),
    ("ec2 describe-regions --query 'Regions[].RegionName'", {}),
    ("s3 mb s3://refused-on-the-read-tool", {}),  # refused: a write
    ("lambda list-functions", {"region": "us-west-2"}),
    ("cloudformation describe-stacks", {}),
)
"""What the soak cycles through; `s3 ls help` is added once every 50 calls."""


def pct(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[round(0.95 * (len(ordered) - 1))] * 1000


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def children_rss_mib() -> dict[int, float]:
    """RSS of this process's aws_mcp_server children, by pid."""
    found = {}
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid != me or b"aws_mcp_server" not in (entry / "cmdline").read_bytes():
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    found[int(entry.name)] = int(line.split()[1]) / 1024
        except (OSError, ValueError, IndexError):
            continue
    return found


def _descendants(root: int) -> list[int]:
    """`root` and every process under it."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(parents.get(pid, []))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by `pids` (those still alive)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, ValueError, IndexError):
            continue
    return total


class CpuShare:
    """Cores used by the server, moto and this benchmark over a measured window."""

    def __init__(self, server_pid: int, moto_pid: int) -> None:
        self._groups = {"server": _descendants(server_pid), "moto": [moto_pid]}
        self._start = self._read()

    def _read(self) -> dict[str, float]:
        readings = {name: cpu_seconds(pids) for name, pids in self._groups.items()}
        times = os.times()
        readings["benchmark"] = times.user + times.system
        readings["wall"] = time.perf_counter()
        return readings

    def text(self) -> str:
        end = self._read()
        wall = end["wall"] - self._start["wall"]
        parts = [
            f"{name} {(end[name] - self._start[name]) / wall:.2f}"
            for name in ("server", "moto", "benchmark")
        ]
        return "cores used: " + ", ".join(parts) + f" (of {os.cpu_count()})"


def text_of(result: Any) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--inflight-seconds", type=float, default=6.0)
    parser.add_argument("--soak", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip", default="", help="comma-separated: http,cold,soak")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))

    import anyio
    import boto3
    import httpx2
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    started_load = loadavg()
    env = {**fake_aws_environment(), "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    moto = MotoProcess()
    endpoint = moto.url
    workdir = Path(env["HOME"]) / "workdir"
    common = ["--endpoint-url", endpoint, "--log-level", "WARNING", "--workdir", str(workdir),
              "--max-concurrency", str(INFLIGHT)]
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "aws_mcp_server", *common], env=env, cwd=str(ROOT)
    )
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    for index in range(5):
        s3.create_bucket(Bucket=f"perf-bucket-{index}")
    s3.put_object(Bucket="perf-bucket-0", Key="a.txt", Body=b"x")
    rows: list[tuple[str, str]] = []

    # --- cold start (first, while the machine is quiet) -------------------------------------
    if "cold" not in skip:

        async def cold(first_call: bool) -> float:
            t = time.perf_counter()
            async with Client(params, mode="legacy") as client:
                if first_call:
                    result = await client.call_tool(
                        "execute_aws_read_command", {"command": "s3api list-buckets"}
                    )
                    if result.is_error:
                        raise RuntimeError(text_of(result))
                else:
                    await client.list_tools()
                took = time.perf_counter() - t
            return took

        # Once unmeasured: the package's bytecode is written as `pip install` writes it.
        subprocess.run([sys.executable, "-m", "aws_mcp_server", "classify", "s3 ls"],
                       env=env, cwd=str(ROOT), check=True, capture_output=True)
        to_list = [anyio.run(cold, False) for _ in range(args.runs)]
        to_call = [anyio.run(cold, True) for _ in range(args.runs)]
        rows.append(("spawn -> tools/list answered (median)",
                     f"{statistics.median(to_list) * 1000:.0f} ms "
                     f"(min {min(to_list) * 1000:.0f}, max {max(to_list) * 1000:.0f})"))
        rows.append(("spawn -> first tools/call answered (median)",
                     f"{statistics.median(to_call) * 1000:.0f} ms "
                     f"(min {min(to_call) * 1000:.0f}, max {max(to_call) * 1000:.0f})"))
        classify = []
        for _ in range(args.runs):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "aws_mcp_server", "classify", "s3 ls"],
                           env=env, cwd=str(ROOT), check=True, capture_output=True)
            classify.append(time.perf_counter() - t)
        rows.append(("`aws-mcp-server classify 's3 ls'` (median)",
                     f"{statistics.median(classify) * 1000:.0f} ms"))

    # --- the floor ---------------------------------------------------------------------------
    for _ in range(20):
        s3.list_buckets()
    floor = []
    for _ in range(args.calls):
        t = time.perf_counter()
        s3.list_buckets()
        floor.append(time.perf_counter() - t)
    f50, f95 = pct(floor)

    def floor_window(seconds: float) -> tuple[int, float]:
        """Calls done and seconds taken by INFLIGHT threads sharing the client for `seconds`."""
        stop_at = time.perf_counter() + seconds
        done = [0] * INFLIGHT

        def hammer(index: int) -> None:
            while time.perf_counter() < stop_at:
                s3.list_buckets()
                done[index] += 1

        threads = [threading.Thread(target=hammer, args=(i,)) for i in range(INFLIGHT)]
        t0 = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return sum(done), time.perf_counter() - t0

    count, took = floor_window(args.inflight_seconds)
    floor_rate = count / took
    rows.append(("floor: reused boto3 client list_buckets p50 / p95", f"{f50:.1f} / {f95:.1f} ms"))
    rows.append((f"floor: {INFLIGHT} in flight", f"{floor_rate:.0f} calls/s"))

    # --- stdio -------------------------------------------------------------------------------
    async def timed(client: Any, command: str, n: int) -> tuple[list[float], list[float]]:
        """`n` tool calls of `command`, each right after one floor call: both see the same
        load, so their ratio holds even while the machine's load drifts."""
        for _ in range(20):
            await client.call_tool("execute_aws_read_command", {"command": command})
        samples, floors = [], []
        for _ in range(n):
            t = time.perf_counter()
            s3.list_buckets()
            floors.append(time.perf_counter() - t)
            t = time.perf_counter()
            result = await client.call_tool("execute_aws_read_command", {"command": command})
            samples.append(time.perf_counter() - t)
            if result.is_error:
                raise RuntimeError(text_of(result))
        return samples, floors

    async def window(call: Callable[[], Awaitable[None]], seconds: float) -> tuple[int, float]:
        """Calls done and seconds taken by INFLIGHT tasks making `call` for `seconds`."""
        count = 0
        deadline = time.perf_counter() + seconds

        async def loop() -> None:
            nonlocal count
            while time.perf_counter() < deadline:
                await call()
                count += 1

        t = time.perf_counter()
        async with anyio.create_task_group() as group:
            for _ in range(INFLIGHT):
                group.start_soon(loop)
        return count, time.perf_counter() - t

    async def inflight(call: Callable[[], Awaitable[None]], seconds: float) -> tuple[float, float]:
        """Calls/s of `call` with INFLIGHT in flight, and its ratio to the floor's, from 1 s
        windows of each in turn: both see the same load, so the ratio holds while it drifts."""
        rounds = max(2, round(seconds))
        calls = calls_took = floors = floors_took = 0.0
        for _ in range(rounds):
            done, took = floor_window(seconds / rounds)  # blocks the loop: nothing else runs
            floors, floors_took = floors + done, floors_took + took
            done, took = await window(call, seconds / rounds)
            calls, calls_took = calls + done, calls_took + took
        rate = calls / calls_took
        return rate, rate / (floors / floors_took)

    soak_rss: list[float] = []

    async def stdio() -> None:
        async with Client(params, mode="legacy") as client:
            lb, lb_floor = await timed(client, "s3api list-buckets", args.calls)
            ls, ls_floor = await timed(client, "s3 ls", args.calls)
            p50, p95 = pct(lb)
            l50, l95 = pct(ls)
            b50, c50 = pct(lb_floor)[0], pct(ls_floor)[0]
            rows.append(("stdio s3api list-buckets p50 / p95", f"{p50:.1f} / {p95:.1f} ms"))
            rows.append(("stdio s3api list-buckets / floor (p50, interleaved)",
                         f"{p50 / b50:.2f}x (floor {b50:.1f} ms)"))
            rows.append(("stdio s3 ls p50 / p95", f"{l50:.1f} / {l95:.1f} ms"))
            rows.append(("stdio s3 ls / floor (p50, interleaved)",
                         f"{l50 / c50:.2f}x (floor {c50:.1f} ms)"))
            rows.append(("p95 / p50: list-buckets, s3 ls", f"{p95 / p50:.2f}, {l95 / l50:.2f}"))

            async def one() -> None:
                result = await client.call_tool(
                    "execute_aws_read_command", {"command": "s3api list-buckets"}
                )
                if result.is_error:
                    raise RuntimeError(text_of(result))

            rate, ratio = await inflight(one, args.inflight_seconds)
            share = CpuShare(max(children_rss_mib()), moto.pid)
            await window(one, 2.0)
            rows.append((f"stdio {INFLIGHT} in flight (one session)",
                         f"{rate:.0f} calls/s = {ratio:.2f}x the floor's (interleaved; "
                         f"{share.text()})"))
            if "soak" in skip:
                return
            for _batch in range(2):
                for index in range(args.soak):
                    if index % 50 == 49:
                        command, extra = "s3 ls help", {}
                    else:
                        command, extra = MIXED[index % len(MIXED)]
                    await client.call_tool(
                        "execute_aws_read_command", {"command": command, **extra}
                    )
                rss = children_rss_mib()
                soak_rss.append(max(rss.values()) if rss else float("nan"))

    anyio.run(stdio)
    if soak_rss:
        rows.append((f"RSS after {args.soak:,} / {2 * args.soak:,} mixed calls",
                     f"{soak_rss[0]:.0f} / {soak_rss[1]:.0f} MiB"))

    # --- HTTP --------------------------------------------------------------------------------
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "execute_aws_read_command",
                       "arguments": {"command": "s3api list-buckets"}}}

    cpu: dict[tuple[int, bool], str] = {}

    def http_rate(workers: int, keep_alive: bool = False) -> tuple[float, float, float]:
        # By default a connection per request: uvicorn's workers share one listening socket and
        # each accepts every connection pending when it wakes, so the few long-lived connections
        # of one client all land on one worker (`keep_alive` measures that); with a connection
        # per request (many clients) they spread over the workers.
        headers = {} if keep_alive else {"connection": "close"}
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "aws_mcp_server", "--transport", "http", "--port", str(port),
             "--stateless", *(["--workers", str(workers)] if workers > 1 else []), *common],
            env=env, cwd=str(ROOT),
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(f"{base}/health", timeout=1).read()
                    break
                except OSError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise RuntimeError(
                            f"the HTTP server ({workers} workers) did not start"
                        ) from None
                    time.sleep(0.1)

            async def go() -> tuple[float, float, float]:
                samples: list[float] = []
                async with httpx2.AsyncClient(base_url=base, timeout=60) as http:

                    async def call() -> None:
                        t = time.perf_counter()
                        response = await http.post("/", json=body, headers=headers)
                        samples.append(time.perf_counter() - t)
                        if response.status_code != 200 or response.json()["result"]["isError"]:
                            raise RuntimeError(response.text)

                    # Every worker warmed (a new connection may land on any of them).
                    for _ in range(4 * workers):
                        async with anyio.create_task_group() as group:
                            for _ in range(INFLIGHT):
                                group.start_soon(call)
                    samples.clear()
                    rate, ratio = await inflight(call, args.inflight_seconds)
                    p50 = pct(samples)[0]
                    # Where the CPU goes while only tool calls run (no floor window).
                    share = CpuShare(proc.pid, moto.pid)
                    await window(call, 2.0)
                    cpu[(workers, keep_alive)] = share.text()
                return rate, ratio, p50

            return anyio.run(go)
        finally:
            proc.terminate()
            proc.wait(30)

    if "http" not in skip:
        runs = [(1, False), (2, False), (2, True)] if "workers" not in skip else [(1, False)]
        for workers, keep_alive in runs:
            rate, ratio, p50 = http_rate(workers, keep_alive)
            how = "one client's kept-alive connections" if keep_alive else "a connection per call"
            rows.append((f"HTTP --stateless --workers {workers}, {INFLIGHT} in flight, {how}",
                         f"{rate:.0f} calls/s = {ratio:.2f}x the floor's, interleaved "
                         f"(p50 {p50:.0f} ms; {cpu.get((workers, keep_alive), '')})"))

    moto.stop()
    print(f"load average before: {started_load}; after: {loadavg()} (2 cores)\n")
    print("| measure | value |")
    print("|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
