"""The real server, plus the diagnostic fixtures the conformance suite's `server-stateless` calls.

    python -m tests.conformance_server [aws-mcp-server flags]

`server-stateless` (2026-07-28, SEP-2575) can check two of its requirements only through tools it
names itself, which no production server has:

- `test_missing_capability`: a call that needs a client capability (`sampling`) the client did
  not declare must be refused with -32021 MissingRequiredClientCapabilityError and HTTP 400. Here
  the tool asks for sampling through the SDK's own `Sample` resolver, the same mechanism the write
  tool's confirmation uses for elicitation (tests/engine/test_consent.py checks that one directly).
- `test_trigger_tool_change` / `test_trigger_prompt_change`: adding a tool or prompt must reach
  an open `subscriptions/listen` stream as a list-changed notification.

Everything else is `aws-mcp-server` exactly as shipped: its `build_server` builds the server and
these fixtures are added on top, for this test process only.
"""

from __future__ import annotations

import itertools
import sys
from typing import Annotated, Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.resolve import Resolve, Sample
from mcp_types import CreateMessageResult, SamplingMessage, TextContent

from aws_mcp_server import cli
from aws_mcp_server import server as server_module

_build_server = server_module.build_server
_added = itertools.count(1)


def _needs_sampling() -> Sample:
    return Sample(
        [SamplingMessage(role="user", content=TextContent(type="text", text="Say hi."))],
        max_tokens=8,
    )


def _added_item() -> str:
    return "added"


def build_server(*args: Any, **kwargs: Any) -> MCPServer:
    server = _build_server(*args, **kwargs)

    @server.tool(name="test_missing_capability", description="Needs the client's sampling.")
    async def test_missing_capability(
        sampled: Annotated[CreateMessageResult, Resolve(_needs_sampling)],
    ) -> str:
        return "sampled"

    @server.tool(name="test_trigger_tool_change", description="Adds a tool.")
    async def test_trigger_tool_change(ctx: Context) -> str:
        name = f"conformance_added_tool_{next(_added)}"
        server.add_tool(_added_item, name=name, description="Added by the suite.")
        await ctx.notify_tools_changed()
        return name

    @server.tool(name="test_trigger_prompt_change", description="Adds a prompt.")
    async def test_trigger_prompt_change(ctx: Context) -> str:
        name = f"conformance_added_prompt_{next(_added)}"
        server.prompt(name=name, description="Added by the suite.")(_added_item)
        await ctx.notify_prompts_changed()
        return name

    return server


if __name__ == "__main__":
    server_module.build_server = build_server
    sys.exit(cli.main())
