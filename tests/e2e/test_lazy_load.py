"""awscli loads off the handshake's path (aws_mcp_server/loading.py), and no call ever meets it
half-loaded. Each check runs in a fresh interpreter: this test process has awscli loaded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import AwsFiles, Moto

ROOT = Path(__file__).resolve().parent.parent.parent

_HANDSHAKE = r"""
import json, sys
import anyio
from mcp import Client
from aws_mcp_server import loading
from aws_mcp_server.server import build_server
from aws_mcp_server.settings import Settings

# No background load: whatever the handshake needs, it must import by itself.
loading.start = lambda idle=None: None
server = build_server(Settings(endpoint_url=sys.argv[1], workdir=sys.argv[2]))
seen = {}

async def main():
    async with Client(server, mode="legacy") as client:
        tools = await client.list_tools()
        seen["tools"] = sorted(tool.name for tool in tools.tools)
        await client.call_tool("list_aws_profiles", {})
        seen["awscli_before_call"] = "awscli" in sys.modules
        result = await client.call_tool("execute_aws_read_command", {"command": "s3api list-buckets"})
        seen["call_ok"] = not result.is_error
        seen["awscli_after_call"] = "awscli" in sys.modules

anyio.run(main)
print(json.dumps(seen))
"""

_RACE = r"""
import json, sys, threading
from aws_mcp_server import loading
from aws_mcp_server.decision import decide
from aws_mcp_server.settings import Settings

settings = Settings(workdir=sys.argv[2])
verdicts, errors = [], []
loading.start()  # the background load, and eight decisions racing it

def decide_one(text):
    try:
        verdicts.append((text, decide(text, settings).verdict))
    except BaseException as exc:
        errors.append(repr(exc))

texts = ["s3 ls", "s3api list-buckets", "ec2 describe-instances", "s3 mb s3://x"] * 2
threads = [threading.Thread(target=decide_one, args=(t,)) for t in texts]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps({"verdicts": sorted(verdicts), "errors": errors}))
"""


def _run(code: str, aws: AwsFiles, moto_url: str, workdir: Path) -> dict[str, object]:
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "AWS_EC2_METADATA_DISABLED": "true",
        **aws.environ,
    }
    proc = subprocess.run(
        [sys.executable, "-c", code, moto_url, str(workdir)],
        capture_output=True, text=True, env=env, cwd=str(ROOT), timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_the_handshake_and_list_aws_profiles_do_not_load_awscli(
    aws_files: AwsFiles, moto_server: Moto, tmp_path: Path
) -> None:
    seen = _run(_HANDSHAKE, aws_files, moto_server.url, tmp_path)
    assert seen["tools"] == [
        "execute_aws_read_command", "execute_aws_write_command", "list_aws_profiles"
    ]
    assert seen["awscli_before_call"] is False
    # The first call loads it (here in its own thread: nothing started the background load).
    assert seen["call_ok"] is True
    assert seen["awscli_after_call"] is True


def test_decisions_racing_the_background_load_all_see_it_complete(
    aws_files: AwsFiles, moto_server: Moto, tmp_path: Path
) -> None:
    seen = _run(_RACE, aws_files, moto_server.url, tmp_path)
    assert seen["errors"] == []
    verdicts = dict((text, verdict) for text, verdict in seen["verdicts"])  # type: ignore[union-attr,misc]
    assert verdicts == {
        "s3 ls": "read",
        "s3api list-buckets": "read",
        "ec2 describe-instances": "read",
        "s3 mb s3://x": "write",
    }
    assert len(seen["verdicts"]) == 8  # type: ignore[arg-type]


_BROKEN = r"""
import sys
sys.modules["awscli"] = None  # as if the installed awscli could not be imported
from aws_mcp_server.cli import main
raise SystemExit(main(["classify", "s3 ls"]))
"""


def test_an_awscli_that_cannot_load_refuses_each_command_with_the_reason(
    aws_files: AwsFiles, tmp_path: Path
) -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **aws_files.environ}
    proc = subprocess.run(
        [sys.executable, "-c", _BROKEN], capture_output=True, text=True, env=env,
        cwd=str(tmp_path), timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert answer["verdict"] == "reject" and answer["rule"] == "internal:awscli"
    assert "awscli could not be loaded" in answer["reason"] and "Reinstall" in answer["fix"]
    assert "Traceback" not in proc.stderr


def test_the_classify_command_ends_at_once_with_all_its_output(
    aws_files: AwsFiles, tmp_path: Path
) -> None:
    """As a process's entry point `classify` ends without the interpreter's teardown: every
    line is still written, through a pipe, and the exit code is classify's."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **aws_files.environ}
    commands = [f"s3 ls s3://bucket-{i}" for i in range(200)] + ["ec2 frobnicate"]
    proc = subprocess.run(
        [sys.executable, "-m", "aws_mcp_server", "classify", "-"],
        input="\n".join(commands) + "\n", capture_output=True, text=True, env=env,
        cwd=tmp_path, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line["command"] for line in lines] == commands
    assert lines[-1]["verdict"] == "reject" and lines[0]["verdict"] == "read"
    broken = subprocess.run(
        [sys.executable, "-m", "aws_mcp_server", "classify", "s3 ls"],
        capture_output=True, text=True, env={**env, "AWS_MCP_MAX_CONCURRENCY": "many"},
        cwd=tmp_path, timeout=60,
    )
    assert broken.returncode == 2
    assert "AWS_MCP_MAX_CONCURRENCY" in json.loads(broken.stdout)["error"]["message"]
