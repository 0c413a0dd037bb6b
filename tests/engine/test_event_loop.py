"""Blocking work stays off the event loop: resolving and deciding a command (up to a few hundred
ms on a service's first use) and reading the profile files run on worker threads, so one slow
call never stalls the others."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from aws_mcp_server import server as server_module
from aws_mcp_server.engine import Engine
from aws_mcp_server.server import build_server
from aws_mcp_server.settings import Settings
from tests.conftest import AwsFiles, Moto

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_deciding_and_profiles_run_off_the_event_loop(
    moto_server: Moto,
    aws_env: AwsFiles,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
) -> None:
    loop_thread = threading.current_thread()
    seen: list[tuple[str, bool]] = []
    real_decide = server_module.decide
    real_resolve = server_module.profiles.resolve

    def watched_decide(*args: Any, **kwargs: Any) -> Any:
        seen.append(("decide", threading.current_thread() is loop_thread))
        return real_decide(*args, **kwargs)

    def watched_resolve(*args: Any, **kwargs: Any) -> Any:
        seen.append(("profiles", threading.current_thread() is loop_thread))
        return real_resolve(*args, **kwargs)

    monkeypatch.setattr(server_module, "decide", watched_decide)
    monkeypatch.setattr(server_module.profiles, "resolve", watched_resolve)
    settings = Settings(endpoint_url=moto_server.url, workdir=tmp_path)
    async with Client(build_server(settings, Engine(settings)), mode=mode) as client:  # type: ignore[arg-type]
        read = await client.call_tool("execute_aws_read_command", {"command": "s3api list-buckets"})
        write = await client.call_tool("execute_aws_write_command", {"command": "s3 ls"})
    assert not read.is_error and not write.is_error
    assert {name for name, _ in seen} == {"decide", "profiles"}
    assert [name for name, on_loop in seen if on_loop] == []
