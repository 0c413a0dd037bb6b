"""Interleaved A/B over stdio: this tree's server against an older revision's, and the floor.

    python benchmarks/ab_stdio.py [--before REV] [--calls 200] [--command 's3api list-buckets']

Extracts `aws_mcp_server/` of REV (default HEAD~1) with `git archive` into a temporary directory
and runs it under this venv (the editable install's finder is removed from `sys.meta_path` in
that process only). Both servers and a reused boto3 client call the same moto server in turn,
alternating which goes first, so all three see the same load: on a busy 2-core machine the
ratios hold where the absolute numbers drift.
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _moto import MotoProcess, fake_aws_environment  # noqa: E402

import aws_mcp_server.adapter  # noqa: E402, F401  (awscli before botocore)

_LAUNCH = """\
import runpy, sys
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()
                    and "editable" not in (getattr(f, "__module__", "") or "").lower()]
sys.path.insert(0, {path!r})
sys.argv = ["aws_mcp_server", *sys.argv[1:]]
runpy.run_module("aws_mcp_server", run_name="__main__")
"""


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", default="HEAD~1")
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--command", default="s3api list-buckets")
    args = parser.parse_args()

    import anyio
    import boto3
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    old = Path(tempfile.mkdtemp(prefix="aws-mcp-ab-"))
    archive = subprocess.run(
        ["git", "archive", args.before, "aws_mcp_server"], cwd=ROOT, check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(old)
    (old / "launch.py").write_text(_LAUNCH.format(path=str(old)))

    env = {**fake_aws_environment(), "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    moto = MotoProcess()
    common = ["--endpoint-url", moto.url, "--log-level", "WARNING",
              "--workdir", str(Path(env["HOME"]) / "workdir")]
    before = StdioServerParameters(
        command=sys.executable, args=[str(old / "launch.py"), *common], env=env, cwd=str(old)
    )
    after = StdioServerParameters(
        command=sys.executable, args=["-m", "aws_mcp_server", *common], env=env, cwd=str(ROOT)
    )
    s3 = boto3.client("s3", endpoint_url=moto.url, region_name="us-east-1")
    for index in range(5):
        s3.create_bucket(Bucket=f"perf-bucket-{index}")
    tool = "execute_aws_read_command"

    async def run() -> None:
        async with Client(before, mode="legacy") as b, Client(after, mode="legacy") as a:
            for _ in range(20):
                for client in (b, a):
                    assert not (await client.call_tool(tool, {"command": args.command})).is_error
                s3.list_buckets()
            times: dict[str, list[float]] = {"before": [], "after": []}
            floors: dict[str, list[float]] = {"before": [], "after": []}
            for index in range(args.calls):
                order = [("before", b), ("after", a)]
                for name, client in order if index % 2 else order[::-1]:
                    t = time.perf_counter()
                    s3.list_buckets()
                    floors[name].append(time.perf_counter() - t)
                    t = time.perf_counter()
                    result = await client.call_tool(tool, {"command": args.command})
                    times[name].append(time.perf_counter() - t)
                    assert not result.is_error
            p50 = {k: statistics.median(v) * 1000 for k, v in times.items()}
            f50 = {k: statistics.median(v) * 1000 for k, v in floors.items()}
            for name in ("before", "after"):
                print(f"{args.command} {name} ({args.before if name == 'before' else 'tree'}): "
                      f"p50 {p50[name]:.1f} ms = {p50[name] / f50[name]:.2f}x the floor "
                      f"({f50[name]:.1f} ms, interleaved)")
            print(f"after / before: {p50['after'] / p50['before']:.2f}")

    try:
        anyio.run(run)
    finally:
        moto.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
