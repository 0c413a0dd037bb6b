"""Warm classification throughput in one process: resolve only, decide without and with validation.

    python benchmarks/classify_bench.py [--seconds 2]

Commands come from tests/data/classification.jsonl (all of them, rejects included), cycled.
Never sends anything: validation stops before the request, unsigned.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aws_mcp_server.adapter import resolution  # noqa: E402
from aws_mcp_server.decision import decide  # noqa: E402
from aws_mcp_server.errors import AwsMcpError  # noqa: E402
from aws_mcp_server.guards import tokens  # noqa: E402
from aws_mcp_server.settings import Settings  # noqa: E402


def _rate(label: str, texts: list[str], fn: Callable[[str], object], seconds: float) -> None:
    for text in texts:  # warm: every service's table built, every parser cached
        fn(text)
    done = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for text in texts:
            fn(text)
        done += len(texts)
    elapsed = time.perf_counter() - start
    print(f"| {label:32} | {done / elapsed:12,.0f} | {elapsed / done * 1e3:8.3f} |")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    for name in list(os.environ):
        if name.startswith("AWS_"):
            del os.environ[name]
    scratch = Path(tempfile.mkdtemp())
    os.environ["AWS_CONFIG_FILE"] = str(scratch / "config")
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = str(scratch / "credentials")
    rows = [json.loads(line) for line in (ROOT / "tests/data/classification.jsonl").open()]
    texts = [row["command"] for row in rows]
    valid = [row["command"] for row in rows if row["verdict"] != "reject"]
    settings = Settings(workdir=scratch)

    def resolve_only(text: str) -> object:
        try:
            return resolution.resolve(tokens.tokenize(text))
        except AwsMcpError:
            return None

    print(f"{len(texts)} commands ({len(valid)} read/write), {args.seconds:.0f} s per row\n")
    print(f"| {'path':32} | {'commands/s':>12} | {'ms/cmd':>8} |")
    print(f"|{'-' * 34}|{'-' * 14}|{'-' * 10}|")
    _rate("tokenize + resolve", texts, resolve_only, args.seconds)
    unvalidated = lambda t: decide(t, settings, validate=False)  # noqa: E731
    _rate("decide(validate=False)", texts, unvalidated, args.seconds)
    _rate("decide (with validation)", texts, lambda t: decide(t, settings), args.seconds)
    _rate("decide, read/write rows only", valid, lambda t: decide(t, settings), args.seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
