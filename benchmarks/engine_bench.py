"""Engine latency against moto: in-process engine vs a reused boto3 client vs an `aws` subprocess.

    python benchmarks/engine_bench.py [--calls 300] [--subprocess-calls 10]

Prints a Markdown table: p50/p95 per command and path, cold start (import -> first result) and
RSS after 1,000 engine calls.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _moto import fake_aws_environment, start_moto

import aws_mcp_server.adapter  # noqa: F401  (awscli before botocore)

logging.getLogger("werkzeug").setLevel(logging.ERROR)


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


def measure(fn: Callable[[], object], calls: int, warm: int = 20) -> tuple[float, float]:
    for _ in range(warm):
        fn()
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return percentiles(samples)


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cold_start(env: dict[str, str], endpoint: str) -> float:
    code = (
        "import time; t = time.perf_counter()\n"
        "from aws_mcp_server.engine import Engine\n"
        "from aws_mcp_server.settings import Settings\n"
        "from aws_mcp_server.decision import decide\n"
        f"settings = Settings(endpoint_url={endpoint!r})\n"
        "r = Engine(settings).run(decide('s3api list-buckets', settings, validate=False).plan)\n"
        "assert r.ok, r.stderr\n"
        "import sys; sys.stderr.write(repr(time.perf_counter() - t))\n"
    )
    root = str(Path(__file__).resolve().parent.parent)
    runs = []
    for _ in range(3):
        proc = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            env={**os.environ, **env},
            cwd=root,
            check=True,
        )
        runs.append(float(proc.stderr.decode().strip().splitlines()[-1]))
    return statistics.median(runs) * 1000


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--subprocess-calls", type=int, default=10)
    args = parser.parse_args()

    env = fake_aws_environment()
    server, endpoint = start_moto()
    import boto3

    from aws_mcp_server.decision import decide
    from aws_mcp_server.engine import Engine
    from aws_mcp_server.settings import Settings

    engine = Engine(Settings(endpoint_url=endpoint))
    engine.warm_up()

    def planned(argv: list[str]) -> Any:
        plan = decide(shlex.join(argv), engine.settings, validate=False).plan
        assert plan is not None, argv
        return plan

    for argv in (
        ["s3", "mb", "s3://bench-bucket"],
        ["ec2", "run-instances", "--image-id", "ami-12c6146b", "--count", "2"],
    ):
        assert engine.run(planned(argv)).ok
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name="us-east-1")

    commands: list[tuple[str, list[str], Callable[[], object]]] = [
        ("s3api list-buckets", ["s3api", "list-buckets"], s3.list_buckets),
        ("s3 ls", ["s3", "ls"], s3.list_buckets),
        ("ec2 describe-instances", ["ec2", "describe-instances"], ec2.describe_instances),
    ]
    rows = []
    for name, argv, floor in commands:

        plan = planned(argv)

        def run(plan: Any = plan) -> None:
            result = engine.run(plan)
            assert result.ok, result.stderr

        engine_p = measure(run, args.calls)
        floor_p = measure(floor, args.calls)

        def aws_subprocess(argv: list[str] = argv) -> None:
            subprocess.run(
                [sys.executable, "-m", "awscli", *argv, "--endpoint-url", endpoint],
                check=True,
                capture_output=True,
            )

        sub_p = measure(aws_subprocess, args.subprocess_calls, warm=1)
        rows.append((name, engine_p, floor_p, sub_p))

    cold = cold_start(env, endpoint)
    for _ in range(1000):
        engine.run(planned(["s3api", "list-buckets"]))
    rss = rss_mib()

    print(
        "| command | engine p50 / p95 (ms) | reused boto3 client p50 / p95 (ms) | engine / floor (p50) | `aws` subprocess p50 (ms) | subprocess / floor |"
    )
    print("|---|---|---|---|---|---|")
    for name, (e50, e95), (f50, f95), (s50, _s95) in rows:
        print(
            f"| {name} | {e50:.2f} / {e95:.2f} | {f50:.2f} / {f95:.2f} | {e50 / f50:.2f}x | {s50:.0f} | {s50 / f50:.0f}x |"
        )
    print()
    print(f"cold start (python start excluded; import -> first list-buckets result): {cold:.0f} ms")
    print(f"RSS after 1,000 more engine calls: {rss:.0f} MiB")
    server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
