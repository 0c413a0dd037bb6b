#!/usr/bin/env python3
"""Regenerate aws_mcp_server/data/awscli_facts.json from the installed awscli.

The guards are pure (no awscli import); what they need to know about awscli's command objects is
this data file. tests/fast/test_trust_guards.py fails when it is stale:

    python scripts/gen_awscli_facts.py          # rewrite the file
    python scripts/gen_awscli_facts.py --check  # exit 1 if it differs
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aws_mcp_server.adapter  # noqa: E402,F401  (awscli before botocore)
from aws_mcp_server.adapter import facts as adapter_facts  # noqa: E402

TARGET = ROOT / "aws_mcp_server" / "data" / "awscli_facts.json"


def render() -> str:
    return adapter_facts.render()


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        current = TARGET.read_text("utf-8") if TARGET.exists() else ""
        if current != text:
            print(f"{TARGET} is stale: run python scripts/gen_awscli_facts.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, "utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
