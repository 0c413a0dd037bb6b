"""Through the official MCP client over stdio: tool-call latency and cold start.

    python benchmarks/stdio_bench.py [--calls 200]

Compares `execute_aws_read_command("s3api list-buckets")` over stdio with the same call on a
reused boto3 client against the same moto server, and times process start -> `tools/list`.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _moto import fake_aws_environment, start_moto

import aws_mcp_server.adapter  # noqa: F401  (awscli before botocore)

logging.getLogger("werkzeug").setLevel(logging.ERROR)
ROOT = Path(__file__).resolve().parent.parent


def pct(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[round(0.95 * (len(ordered) - 1))] * 1000


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--cold-starts", type=int, default=5)
    args = parser.parse_args()

    import anyio
    import boto3
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    env = fake_aws_environment()
    server, endpoint = start_moto()
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "aws_mcp_server", "--endpoint-url", endpoint, "--log-level", "WARNING"],
        env={**env, "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        cwd=str(ROOT),
    )

    async def run() -> tuple[tuple[float, float], list[float]]:
        async with Client(params, mode="legacy") as client:
            for _ in range(20):
                await client.call_tool("execute_aws_read_command", {"command": "s3api list-buckets"})
            samples = []
            for _ in range(args.calls):
                started = time.perf_counter()
                result = await client.call_tool(
                    "execute_aws_read_command", {"command": "s3api list-buckets"}
                )
                samples.append(time.perf_counter() - started)
                assert not result.is_error
        colds = []
        for _ in range(args.cold_starts):
            started = time.perf_counter()
            async with Client(params, mode="legacy") as client:
                await client.list_tools()
                colds.append(time.perf_counter() - started)
        return pct(samples), colds

    (mcp50, mcp95), colds = anyio.run(run)
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    for _ in range(20):
        s3.list_buckets()
    floor = []
    for _ in range(args.calls):
        started = time.perf_counter()
        s3.list_buckets()
        floor.append(time.perf_counter() - started)
    f50, f95 = pct(floor)
    server.stop()
    print("| path | p50 (ms) | p95 (ms) | vs floor (p50) |")
    print("|---|---|---|---|")
    print(f"| MCP stdio `execute_aws_read_command` s3api list-buckets | {mcp50:.2f} | {mcp95:.2f} | {mcp50 / f50:.2f}x |")
    print(f"| reused boto3 client list_buckets (floor) | {f50:.2f} | {f95:.2f} | 1.00x |")
    print()
    print(
        f"cold start, process spawn -> tools/list answer: median {statistics.median(colds) * 1000:.0f} ms "
        f"(min {min(colds) * 1000:.0f}, max {max(colds) * 1000:.0f}, n={len(colds)})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
