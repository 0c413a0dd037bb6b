"""Classify every command the installed awscli knows; count verdicts by rule; diff two runs.

    python scripts/sweep_verdicts.py                        # counts by verdict and rule
    python scripts/sweep_verdicts.py --write before.jsonl   # also save command -> verdict
    python scripts/sweep_verdicts.py --baseline before.jsonl [--write after.jsonl]

With `--baseline`, every command whose verdict or sensitive flag differs from the saved run is
listed (and commands that appeared or disappeared), grouped by what changed and the rule that
now decides. Nothing is sent to
AWS: commands are resolved from awscli's command table and classified offline.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aws_mcp_server import classify  # noqa: E402
from aws_mcp_server.adapter import resolution  # noqa: E402


def sweep() -> dict[str, dict[str, Any]]:
    """command name -> {verdict, rule, sensitive, reason} for every command in awscli."""
    rows: dict[str, dict[str, Any]] = {}
    for resolved in resolution.iter_commands():
        verdict = classify.classify(resolved)
        rows[resolved.command_name] = {
            "verdict": verdict.verdict,
            "rule": verdict.rule,
            "sensitive": verdict.sensitive,
            "reason": verdict.reason,
        }
    return rows


def _load(path: Path) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for line in path.read_text("utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            rows[row.pop("command")] = row
    return rows


def _label(row: dict[str, Any] | None) -> str:
    if row is None:
        return "(absent)"
    return f"{row['verdict']}{'+sensitive' if row['sensitive'] else ''}/{row['rule']}"


def _counts(rows: dict[str, dict[str, Any]]) -> list[str]:
    verdicts = Counter(r["verdict"] for r in rows.values())
    by_rule = Counter((r["verdict"], r["rule"]) for r in rows.values())
    sensitive = sum(1 for r in rows.values() if r["sensitive"])
    lines = [f"{len(rows)} commands: " + ", ".join(f"{k} {v}" for k, v in sorted(verdicts.items()))]
    lines.append(f"sensitive reads: {sensitive}")
    lines.append("| verdict | rule | commands |")
    lines.append("|---|---|---:|")
    for (kind, rule), count in sorted(by_rule.items()):
        lines.append(f"| {kind} | {rule} | {count} |")
    return lines


def _changes(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> list[str]:
    groups: dict[str, list[str]] = defaultdict(list)
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if new is None:
            key = "(removed)"
        elif old is None:
            key = "(new)"
        elif old["verdict"] != new["verdict"]:
            key = f"{old['verdict']} -> {new['verdict']} by {new['rule']}"
        elif old["sensitive"] != new["sensitive"]:
            key = f"{new['verdict']}, sensitive {old['sensitive']} -> {new['sensitive']}"
        else:
            continue
        reason = f"  -- {new['reason']}" if new is not None else ""
        groups[key].append(f"{name}: {_label(old)} -> {_label(new)}{reason}")
    total = sum(len(v) for v in groups.values())
    lines = [f"{total} commands changed verdict or sensitive flag"]
    for key in sorted(groups):
        lines.append("")
        lines.append(f"## {key} ({len(groups[key])})")
        lines.extend(groups[key])
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="save command -> verdict as JSONL")
    parser.add_argument("--baseline", type=Path, help="list commands that differ from this run")
    args = parser.parse_args()
    rows = sweep()
    print("\n".join(_counts(rows)))
    if args.write is not None:
        with args.write.open("w", encoding="utf-8") as out:
            for name, row in sorted(rows.items()):
                out.write(json.dumps({"command": name, **row}, sort_keys=True) + "\n")
    if args.baseline is not None:
        print()
        print("\n".join(_changes(_load(args.baseline), rows)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
