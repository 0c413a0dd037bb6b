"""Soak: reliability under load, faults and hostile input, through the server's public surfaces.

    python -m benchmarks.soak [--quick] [--only fuzz,concurrency,faults,http,audit] [--json FILE]

Starts its own emulator (moto, in its own process) and its own server processes, on loopback
only, and prints one table: scenario, calls, errors, p50/p99 latency, peak RSS of the server
process, what broke. `--quick` is a sub-minute-per-scenario version; the default is the full
run. Progress goes to stderr; `--json` writes every scenario's raw facts.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

from benchmarks.soak import SCENARIOS, infra
from benchmarks.soak.scale import FULL, QUICK, Scale


def override(scale: Scale, pairs: list[str]) -> Scale:
    """`scale` with NAME=VALUE pairs applied, each value parsed as its field's type."""
    fields = {f.name: f for f in dataclasses.fields(scale)}
    changes: dict[str, object] = {}
    for pair in pairs:
        name, _, text = pair.partition("=")
        if name not in fields:
            raise ValueError(f"--set: no size named {name!r}")
        current = getattr(scale, name)
        if isinstance(current, tuple):
            changes[name] = tuple(float(v) for v in text.split(",") if v)
        else:
            changes[name] = type(current)(text)
    return dataclasses.replace(scale, **changes)  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the short version")
    parser.add_argument("--only", default=",".join(SCENARIOS),
                        help=f"comma-separated scenarios (default all: {','.join(SCENARIOS)})")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None, help="write the raw facts here")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override one size of the chosen scale, e.g. --set fuzz_decide=20000 "
                        f"(names: {', '.join(f.name for f in dataclasses.fields(FULL))})")
    args = parser.parse_args(argv)
    scale = QUICK if args.quick else FULL
    if args.seed is not None:
        scale = dataclasses.replace(scale, seed=args.seed)
    try:
        scale = override(scale, args.set)
    except ValueError as err:
        parser.error(str(err))
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenarios {unknown}; choose from {list(SCENARIOS)}")
    rows: list[infra.Row] = []
    started = time.monotonic()
    for name in chosen:
        t0 = time.monotonic()
        with infra.lab_dir(f"soak-{name}-") as lab:
            try:
                rows += SCENARIOS[name](scale, lab)
            except Exception as exc:  # one scenario failing must not hide the others' rows
                rows.append(infra.Row(name, errors=1,
                                      broke=[f"the harness failed: {type(exc).__name__}: {exc}"]))
        print(f"{name}: {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
    mode = "quick" if args.quick else "full"
    print(f"soak ({mode}, seed {scale.seed}, {time.monotonic() - started:.0f} s)\n")
    print(infra.table(rows))
    if args.json:
        args.json.write_text(json.dumps(
            {"scale": dataclasses.asdict(scale),
             "rows": [{**dataclasses.asdict(r), "p50": r.pct(0.5), "p99": r.pct(0.99)}
                      for r in rows]}, default=str, indent=1))
    return 1 if any(r.errors for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
