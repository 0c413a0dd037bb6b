"""Through the official MCP client over stdio: tool-call latency, response sizes and cold start.

    python benchmarks/stdio_bench.py [--calls 200] [--size-calls 30]

Compares `execute_aws_read_command("s3api list-buckets")` over stdio with the same call on a
reused boto3 client against the same moto server, times process start -> `tools/list`, and for
each of COMMANDS prints the latency and the size of the text a model reads (characters), with
the server's compact JSON and with `--json-indent 4` (the CLI's own indentation). moto holds 20
instances and 10 buckets. A response over the cap (100,000 bytes) is cut, and says so.
"""

from __future__ import annotations

import argparse
import logging
import re
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

COMMANDS = (
    "s3api list-buckets",
    "ec2 describe-instances",
    "ec2 describe-regions",
    "ec2 describe-images --owners amazon",
)
"""What the size table runs: small, medium (20 instances) and large listings."""


def pct(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[round(0.95 * (len(ordered) - 1))] * 1000


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--cold-starts", type=int, default=5)
    parser.add_argument("--size-calls", type=int, default=30)
    args = parser.parse_args()

    import anyio
    import boto3
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    env = fake_aws_environment()
    server, endpoint = start_moto()

    def server_params(*flags: str) -> StdioServerParameters:
        return StdioServerParameters(
            command=sys.executable,
            args=["-m", "aws_mcp_server", "--endpoint-url", endpoint, "--log-level", "WARNING",
                  *flags],
            env={**env, "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
            cwd=str(ROOT),
        )

    params = server_params()
    ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name="us-east-1")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    ec2.run_instances(ImageId=image, MinCount=20, MaxCount=20, InstanceType="t3.micro")
    for index in range(10):
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(
            Bucket=f"bench-bucket-{index}"
        )

    async def sizes(flags: tuple[str, ...]) -> dict[str, tuple[float, float, int, int | None]]:
        """Per command: p50 and p95 latency (ms), characters of text, and the bytes the command
        printed when the text was cut at the cap (None when it was not)."""
        measured = {}
        async with Client(server_params(*flags), mode="legacy") as client:
            for command in COMMANDS:
                samples, text = [], ""
                for attempt in range(args.size_calls + 3):
                    started = time.perf_counter()
                    result = await client.call_tool("execute_aws_read_command", {"command": command})
                    if attempt >= 3:  # the first calls load the service's model
                        samples.append(time.perf_counter() - started)
                    assert not result.is_error, result
                    text = "".join(getattr(block, "text", "") for block in result.content)
                p50, p95 = pct(samples)
                cut = re.search(r"\[output truncated: showing the first [\d,]+ of ([\d,]+) bytes", text)
                printed = int(cut.group(1).replace(",", "")) if cut else None
                measured[command] = (p50, p95, len(text), printed)
        return measured

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
    compact = anyio.run(sizes, ())
    indented = anyio.run(sizes, ("--json-indent", "4"))
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
    print()
    print(f"response size per command (characters of tool text; n={args.size_calls} calls each)")
    print()
    print("| command | compact p50 / p95 (ms) | compact chars | `--json-indent 4` p50 / p95 (ms) "
          "| `--json-indent 4` chars | printed, compact / indented |")
    print("|---|---|---|---|---|---|")

    def size(chars: int, printed: int | None) -> str:
        return f"{chars:,}" + (f" (cut; {printed:,} bytes printed)" if printed else "")

    for command in COMMANDS:
        c50, c95, cchars, cprinted = compact[command]
        i50, i95, ichars, iprinted = indented[command]
        ratio = (cprinted or cchars) / (iprinted or ichars)
        print(f"| `{command}` | {c50:.1f} / {c95:.1f} | {size(cchars, cprinted)} | {i50:.1f} / {i95:.1f} "
              f"| {size(ichars, iprinted)} | {ratio:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
