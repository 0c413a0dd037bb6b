"""Credentials per call: a role profile against a static one, through the MCP stdio server.

    python benchmarks/credentials_bench.py [--calls 100]

moto (in its own process) answers STS behind a counting proxy. For each profile, `--calls` calls
of `sts get-caller-identity` go through `execute_aws_read_command` over stdio; the table gives the
p50/p95 per call and how many AssumeRole and GetCallerIdentity requests reached STS.
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
from tests import aws_fakes

logging.getLogger("werkzeug").setLevel(logging.ERROR)
ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=100)
    args = parser.parse_args()

    import anyio
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    env = fake_aws_environment()
    config = Path(env["AWS_CONFIG_FILE"])
    config.write_text(
        config.read_text()
        + "\n[profile role]\nrole_arn = arn:aws:iam::123456789012:role/bench\n"
        "source_profile = default\nregion = us-east-1\n"
    )
    server, _ = start_moto()
    port = int(server.url.rsplit(":", 1)[1])
    rows = []
    with aws_fakes.counting_proxy(port) as (proxy, recorder):
        params = StdioServerParameters(
            command=sys.executable,
            args=["-m", "aws_mcp_server", "--endpoint-url", proxy, "--log-level", "WARNING"],
            env={**env, "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
            cwd=str(ROOT),
        )

        async def run(profile: str) -> list[float]:
            samples = []
            async with Client(params, mode="legacy") as client:
                for _ in range(args.calls):
                    started = time.perf_counter()
                    result = await client.call_tool(
                        "execute_aws_read_command",
                        {"command": "sts get-caller-identity", "profile": profile},
                    )
                    samples.append(time.perf_counter() - started)
                    assert not result.is_error, result
            return samples

        for profile in ("default", "role"):
            before = dict(recorder.actions)
            samples = anyio.run(run, profile)
            after = recorder.actions
            ordered = sorted(samples)
            rows.append(
                (
                    profile,
                    statistics.median(ordered) * 1000,
                    ordered[round(0.95 * (len(ordered) - 1))] * 1000,
                    after["AssumeRole"] - before.get("AssumeRole", 0),
                    after["GetCallerIdentity"] - before.get("GetCallerIdentity", 0),
                )
            )
    server.stop()
    print(f"{args.calls} calls of `sts get-caller-identity` per profile, stdio, moto on loopback\n")
    print("| profile | p50 (ms) | p95 (ms) | AssumeRole requests | GetCallerIdentity requests |")
    print("|---|---|---|---|---|")
    for profile, p50, p95, assume, who in rows:
        kind = "assume-role" if profile == "role" else "static keys"
        print(f"| {profile} ({kind}) | {p50:.1f} | {p95:.1f} | {assume} | {who} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
