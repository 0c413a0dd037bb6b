"""Where one warm tool call's time goes: cProfile over N calls of `decide` + `Engine.run`.

    python benchmarks/profile_call.py [--calls 100] [--command 's3api list-buckets'] [--top 25]

Runs against its own moto process (see `_moto.MotoProcess`), after warm-up. Prints the p50 of
`Engine.run` alone and of `decide` alone (unprofiled), then the profile of the calls (decide and
run), sorted by internal time, and the cumulative share of a few functions of interest.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _moto import MotoProcess, fake_aws_environment

import aws_mcp_server.adapter  # noqa: F401  (awscli before botocore)

WATCH = (
    "__copy__",
    "_recursive_copy",
    "register",
    "awscli_initialize",
    "_alias_event_name",
    "proxy_url_for",
    "getproxies",
    "create_client",
    "new_driver",
    "_make_api_call",
    "_send",
    "decide",
    "main",
)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--command", default="s3api list-buckets")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--callers", default="", help="comma-separated function names")
    parser.add_argument("--dump", default="", help="write the raw profile here")
    args = parser.parse_args()
    fake_aws_environment()
    moto = MotoProcess()
    try:
        from aws_mcp_server.decision import decide
        from aws_mcp_server.engine import Engine
        from aws_mcp_server.settings import Settings

        settings = Settings(endpoint_url=moto.url, workdir=Path.home() / "workdir")
        engine = Engine(settings)
        engine.warm_up()
        plan = decide(args.command, settings, validate=False).plan
        assert plan is not None
        for _ in range(30):
            assert engine.run(plan).ok
        runs, decides = [], []
        for _ in range(args.calls):
            t = time.perf_counter()
            decide(args.command, settings, validate=False)
            decides.append(time.perf_counter() - t)
            t = time.perf_counter()
            result = engine.run(plan)
            runs.append(time.perf_counter() - t)
            assert result.ok, result.stderr
        print(f"{args.command}: Engine.run p50 {statistics.median(runs) * 1000:.2f} ms, "
              f"decide p50 {statistics.median(decides) * 1000:.2f} ms (n={args.calls})\n")
        # The call runs on a worker thread, which a profiler enabled here would not see: the
        # worker's body is profiled in its own thread, decide here, into one profile.
        from aws_mcp_server import engine as engine_module

        profile = cProfile.Profile()
        work = engine_module._Call._work

        def profiled_work(self: object) -> None:
            profile.runcall(work, self)

        engine_module._Call._work = profiled_work  # type: ignore[method-assign]
        for _ in range(args.calls):
            profile.runcall(decide, args.command, settings, validate=False)
            engine.run(plan)
        engine_module._Call._work = work  # type: ignore[method-assign]
    finally:
        moto.stop()
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("tottime").print_stats(args.top)
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip()))
    if args.dump:
        stats.dump_stats(args.dump)
    for name in filter(None, args.callers.split(",")):
        out = io.StringIO()
        pstats.Stats(profile, stream=out).print_callers(name)
        print("\n".join(line for line in out.getvalue().splitlines()[4:] if line.strip()))
    total = stats.total_tt  # type: ignore[attr-defined]
    print(f"\ncumulative share of {total * 1000 / args.calls:.1f} ms per call:")
    for (filename, line, name), row in sorted(stats.stats.items(), key=lambda kv: -kv[1][3]):  # type: ignore[attr-defined]
        if name in WATCH:
            where = f"{Path(filename).parent.name}/{Path(filename).name}:{line}"
            print(f"  {row[3] / total * 100:5.1f}%  {row[3] * 1000 / args.calls:6.2f} ms  "
                  f"{name} ({where})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
