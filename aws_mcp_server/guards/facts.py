"""What the guards know about the installed awscli: a data file generated from it.

`scripts/gen_awscli_facts.py` writes `aws_mcp_server/data/awscli_facts.json` from the installed
awscli (`aws_mcp_server.adapter.facts`); a test fails when it is stale. The guards read it here
and never import awscli.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def awscli_facts() -> dict[str, Any]:
    """The facts (blocked command classes, client services, CLI names, regions)."""
    text = resources.files("aws_mcp_server").joinpath("data", "awscli_facts.json").read_text("utf-8")
    facts: dict[str, Any] = json.loads(text)
    return facts
