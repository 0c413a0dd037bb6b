"""The engine against a real moto server, through the real awscli driver."""

from __future__ import annotations

import inspect
import json
import logging
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import anyio
import pytest

from aws_mcp_server.adapter import capture
from aws_mcp_server.engine import Engine, RunResult
from aws_mcp_server.settings import Settings, load
from tests.conftest import AwsFiles, Moto, plan_of, run, start, stopped_instance


@pytest.fixture
def engine(aws_env: AwsFiles, moto_server: Moto, tmp_path: Path) -> Engine:
    return Engine(Settings(endpoint_url=moto_server.url, workdir=tmp_path))


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def ok(result: RunResult) -> RunResult:
    assert result.ok, (result.exit_code, result.stderr)
    return result


# --- commands across services -------------------------------------------------------------


def test_s3api_create_and_list_buckets(engine: Engine) -> None:
    bucket = unique("bkt")
    ok(run(engine, ["s3api", "create-bucket", "--bucket", bucket]))
    listed = json.loads(ok(run(engine, ["s3api", "list-buckets"])).text)
    assert bucket in [b["Name"] for b in listed["Buckets"]]


def test_s3_ls_shows_objects(engine: Engine, tmp_path: Path) -> None:
    bucket = unique("ls")
    ok(run(engine, ["s3", "mb", f"s3://{bucket}"]))
    source = tmp_path / "hello.txt"
    source.write_text("hello")
    copied = ok(run(engine, ["s3", "cp", str(source), f"s3://{bucket}/dir/hello.txt"]))
    # The engine asks for no progress meter: only the summary line.
    assert "Completed" not in copied.text
    assert copied.text.strip().startswith("upload:")
    listing = ok(run(engine, ["s3", "ls", f"s3://{bucket}", "--recursive"])).text
    assert "dir/hello.txt" in listing
    assert " 5 " in listing  # the size column


def test_s3_cp_between_buckets(engine: Engine, tmp_path: Path) -> None:
    src, dst = unique("src"), unique("dst")
    for bucket in (src, dst):
        ok(run(engine, ["s3", "mb", f"s3://{bucket}"]))
    body = tmp_path / "body"
    body.write_bytes(b"copied between buckets")
    ok(run(engine, ["s3", "cp", str(body), f"s3://{src}/k", "--no-progress"]))
    out = ok(run(engine, ["s3", "cp", f"s3://{src}/k", f"s3://{dst}/k2", "--no-progress"])).text
    assert f"copy: s3://{src}/k to s3://{dst}/k2" in out
    assert ok(run(engine, ["s3", "cp", f"s3://{dst}/k2", "-"])).stdout == b"copied between buckets"


def test_s3_cp_to_stdout_keeps_binary_bytes(engine: Engine, tmp_path: Path) -> None:
    bucket = unique("bin")
    ok(run(engine, ["s3", "mb", f"s3://{bucket}"]))
    payload = bytes(range(256)) * 40
    source = tmp_path / "payload.bin"
    source.write_bytes(payload)
    ok(
        run(
            engine, ["s3api", "put-object", "--bucket", bucket, "--key", "p", "--body", str(source)]
        )
    )
    result = ok(run(engine, ["s3", "cp", f"s3://{bucket}/p", "-"]))
    assert result.stdout == payload
    assert result.stdout_size == len(payload)


def test_ec2_run_and_describe_with_query_and_text_output(engine: Engine) -> None:
    launched = ok(
        run(
            engine,
            [
                "ec2",
                "run-instances",
                "--image-id",
                "ami-12c6146b",
                "--instance-type",
                "t3.micro",
                "--query",
                "Instances[0].InstanceId",
                "--output",
                "text",
            ],
        )
    )
    instance = launched.text.strip()
    assert instance.startswith("i-")
    text = ok(
        run(
            engine,
            [
                "ec2",
                "describe-instances",
                "--instance-ids",
                instance,
                "--output",
                "text",
                "--query",
                "Reservations[].Instances[].[InstanceId,InstanceType]",
            ],
        )
    ).text
    assert text.split() == [instance, "t3.micro"]


def test_table_output(engine: Engine) -> None:
    table = ok(
        run(engine, ["ec2", "describe-regions", "--output", "table", "--query", "Regions[0:2]"])
    ).text
    assert table.splitlines()[1].strip("| ") == "DescribeRegions"
    assert "+--" in table


def test_iam_users(engine: Engine) -> None:
    user = unique("user")
    ok(run(engine, ["iam", "create-user", "--user-name", user]))
    names = ok(
        run(engine, ["iam", "list-users", "--query", "Users[].UserName", "--output", "json"])
    ).text
    assert user in json.loads(names)


def test_dynamodb_tables(engine: Engine) -> None:
    table = unique("tbl")
    ok(
        run(
            engine,
            [
                "dynamodb",
                "create-table",
                "--table-name",
                table,
                "--attribute-definitions",
                "AttributeName=id,AttributeType=S",
                "--key-schema",
                "AttributeName=id,KeyType=HASH",
                "--billing-mode",
                "PAY_PER_REQUEST",
            ],
        )
    )
    ok(
        run(
            engine,
            ["dynamodb", "put-item", "--table-name", table, "--item", '{"id": {"S": "a|b & c"}}'],
        )
    )
    item = json.loads(
        ok(
            run(
                engine,
                [
                    "dynamodb",
                    "get-item",
                    "--table-name",
                    table,
                    "--key",
                    '{"id": {"S": "a|b & c"}}',
                ],
            )
        ).text
    )
    assert item["Item"]["id"]["S"] == "a|b & c"


def test_failing_call_returns_255_with_the_aws_error(engine: Engine, tmp_path: Path) -> None:
    result = run(
        engine,
        ["s3api", "get-object", "--bucket", unique("nope"), "--key", "k", str(tmp_path / "out")],
    )
    assert result.exit_code == 255
    assert result.status == "error"
    assert "NoSuchBucket" in result.stderr


def test_the_engine_enforces_the_workdir_at_run_time(engine: Engine, tmp_path: Path) -> None:
    # Even a command that never went through classification cannot write outside the workdir.
    bucket = unique("guard")
    ok(run(engine, ["s3", "mb", f"s3://{bucket}"]))
    outside = tmp_path.parent / f"{bucket}-outside"
    result = run(
        engine,
        ["s3api", "get-object", "--bucket", bucket, "--key", "k", str(outside)],
        checked=False,
    )
    assert result.exit_code == 255
    assert "outside the workdir" in result.stderr
    assert not outside.exists()


def test_argparse_error_returns_2_with_usage(engine: Engine) -> None:
    result = run(engine, ["s3api", "list-bucketz"], checked=False)
    assert result.exit_code == 2
    assert "usage:" in result.stderr
    assert "Invalid choice" in result.stderr
    assert result.stdout == b""


def test_version_system_exit_is_a_result(engine: Engine) -> None:
    result = run(engine, ["--version"], checked=False)
    assert result.exit_code == 0
    assert result.text.startswith("aws-cli/1.46")


# --- the endpoint -------------------------------------------------------------------------


def test_endpoint_from_environment_reaches_moto_for_sqs(
    aws_env: AwsFiles, moto_server: Moto, tmp_path: Path
) -> None:
    # awscli v1 replaces a configured endpoint for sqs unless --endpoint-url is on the command
    # line: the engine must pass AWS_ENDPOINT_URL as --endpoint-url for it to reach moto.
    settings = load(environ={"AWS_ENDPOINT_URL": moto_server.url, "AWS_MCP_WORKDIR": str(tmp_path)})
    assert settings.endpoint_url == moto_server.url
    engine = Engine(settings)
    queue = unique("q")
    url = json.loads(ok(run(engine, ["sqs", "create-queue", "--queue-name", queue])).text)[
        "QueueUrl"
    ]
    assert url.startswith(moto_server.url), url
    ok(run(engine, ["sqs", "send-message", "--queue-url", url, "--message-body", "hi"]))
    listed = json.loads(ok(run(engine, ["sqs", "list-queues"])).text)
    assert url in listed["QueueUrls"]


# --- profiles, regions, isolation ---------------------------------------------------------


def _zone_region(engine: Engine, **kwargs: str) -> str:
    out = ok(
        run(
            engine,
            [
                "ec2",
                "describe-availability-zones",
                "--query",
                "AvailabilityZones[0].RegionName",
                "--output",
                "text",
            ],
            **kwargs,
        )
    ).text
    return out.strip()


def _caller(engine: Engine, **kwargs: str) -> str:
    return ok(
        run(engine, ["sts", "get-caller-identity", "--query", "Arn", "--output", "text"], **kwargs)
    ).text.strip()


def test_profile_brings_its_credentials_and_region_and_nothing_sticks(
    engine: Engine, aws_env: AwsFiles
) -> None:
    assert _caller(engine, profile="alt") == aws_env.alt_user_arn
    assert _zone_region(engine, profile="alt") == "eu-west-1"
    # The next call without a profile is back on the default profile and its region.
    assert _caller(engine) != aws_env.alt_user_arn
    assert _zone_region(engine) == "us-east-1"
    # An explicit region wins over the profile's, for that call only.
    assert _zone_region(engine, profile="alt", region="ap-northeast-1") == "ap-northeast-1"
    assert _zone_region(engine, profile="alt") == "eu-west-1"


def test_concurrent_calls_have_no_cross_talk(engine: Engine, aws_env: AwsFiles) -> None:
    """8 threads x 30 calls, alternating profiles, regions and commands: every output is its own."""
    default_arn = _caller(engine)
    cases = [
        ("arn", {"profile": "alt"}, aws_env.alt_user_arn),
        ("arn", {}, default_arn),
        ("zone", {"profile": "alt"}, "eu-west-1"),
        ("zone", {}, "us-east-1"),
        ("zone", {"profile": "third"}, "ap-southeast-2"),
        ("zone", {"region": "sa-east-1"}, "sa-east-1"),
        ("zone", {"profile": "alt", "region": "ca-central-1"}, "ca-central-1"),
    ]
    failures: list[str] = []
    calls = 0
    lock = threading.Lock()

    def worker(offset: int) -> None:
        nonlocal calls
        for i in range(30):
            kind, kwargs, expected = cases[(offset + i) % len(cases)]
            got = _caller(engine, **kwargs) if kind == "arn" else _zone_region(engine, **kwargs)
            with lock:
                calls += 1
                if got != expected:
                    failures.append(f"{kind} {kwargs}: expected {expected!r}, got {got!r}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == 240
    assert failures == []
    assert isinstance(sys.stdout, capture._TextOut)


def test_stdin_is_empty_unless_supplied() -> None:
    """Inside a call, stdin is the call's own bytes (none by default), never the process's stdin,
    which on stdio is the protocol channel."""
    capture.install()
    seen: dict[str, object] = {}

    def read_all(key: str) -> None:
        seen[key] = (sys.stdin.read(), sys.stdin.buffer.read())

    capture.run_in(capture.CallContext(), lambda: read_all("empty"))
    capture.run_in(capture.CallContext(stdin=b"supplied"), lambda: read_all("given"))
    assert seen["empty"] == ("", b"")
    given_text, given_bytes = seen["given"]  # type: ignore[misc]
    assert given_text + given_bytes.decode() == "supplied"


def test_commands_that_read_stdin_are_refused_at_run_time(engine: Engine) -> None:
    bucket = unique("stdin")
    ok(run(engine, ["s3", "mb", f"s3://{bucket}"]))
    for argv in (
        ["s3", "cp", "-", f"s3://{bucket}/k"],
        ["s3api", "put-object", "--bucket", bucket, "--key", "k", "--body", "/dev/stdin"],
    ):
        result = run(engine, argv, checked=False)
        assert result.exit_code == 255, argv
        assert "refused" in result.stderr
    listed = ok(run(engine, ["s3api", "list-objects-v2", "--bucket", bucket])).text
    assert '"Key"' not in listed


# --- output cap ---------------------------------------------------------------------------


def test_output_cap_cuts_at_a_line_and_reports_the_true_size(
    aws_env: AwsFiles, moto_server: Moto, tmp_path: Path
) -> None:
    settings = Settings(endpoint_url=moto_server.url, workdir=tmp_path, json_indent=4)
    engine = Engine(settings.replace(output_cap=2000))
    result = ok(run(engine, ["ec2", "describe-regions"]))
    full = ok(run(Engine(settings), ["ec2", "describe-regions"]))
    assert result.truncated
    assert result.stdout_size == len(full.stdout) > 2000
    assert 1000 <= len(result.stdout) <= 2000
    assert result.stdout.endswith(b"\n")
    assert full.stdout.startswith(result.stdout)


def test_json_is_compact_by_default_and_indented_on_request(
    aws_env: AwsFiles, moto_server: Moto, tmp_path: Path
) -> None:
    settings = Settings(endpoint_url=moto_server.url, workdir=tmp_path)
    compact = ok(run(Engine(settings), ["ec2", "describe-regions"]))
    indented = ok(run(Engine(settings.replace(json_indent=4)), ["ec2", "describe-regions"]))
    assert json.loads(compact.text) == json.loads(indented.text)
    assert compact.text.count("\n") == 1 and '": ' not in compact.text
    assert '\n    "Regions": [' in indented.text
    assert len(compact.stdout) < 0.75 * len(indented.stdout)


# --- help ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["ec2", "help"], "Amazon EC2 API Reference"),
        (["ec2", "describe-instances", "help"], "describe-instances"),
        (["s3", "cp", "help"], "--recursive"),
    ],
)
def test_help_is_plain_text(engine: Engine, argv: list[str], expected: str) -> None:
    result = ok(run(engine, argv))
    assert expected in result.text
    assert "\x08" not in result.text  # no groff overstrike
    assert ".TH" not in result.text and "\x1b[" not in result.text


def test_help_writes_nothing_to_fd1_and_needs_no_main_thread() -> None:
    """In a child process: help through the engine on a worker thread; the real stdout stays empty."""
    code = (
        "import aws_mcp_server.adapter, sys\n"
        "from aws_mcp_server.engine import Engine\n"
        "from aws_mcp_server.settings import Settings\n"
        "from aws_mcp_server.model import RunPlan\n"
        "r = Engine(Settings()).run(RunPlan(('ec2', 'describe-instances', 'help'), is_help=True))\n"
        "sys.stderr.write('%d %d' % (r.exit_code, len(r.stdout)))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PAGER"}
    env["PAGER"] = "sh -c 'echo PAGER-RAN'"
    env["MANPAGER"] = env["PAGER"]
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        env=env,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.stdout == b""
    code_, size = proc.stderr.decode().split()[-2:]
    assert code_ == "0" and int(size) > 10_000


# --- deadline and cancellation ------------------------------------------------------------


def test_waiter_stops_at_the_deadline_and_the_engine_stays_responsive(engine: Engine) -> None:
    instance = stopped_instance(engine)
    started = time.perf_counter()
    call = start(engine, ["ec2", "wait", "instance-running", "--instance-ids", instance], timeout=3)
    # While the waiter waits, other calls go through.
    quick = time.perf_counter()
    ok(run(engine, ["s3api", "list-buckets"]))
    assert time.perf_counter() - quick < 2
    result = call.wait()
    elapsed = time.perf_counter() - started
    assert result.status == "timeout"
    assert result.exit_code == 124
    assert "timed out after 3 s" in result.stderr
    assert elapsed < 3 + 1
    # The worker thread itself ended: it was stopped, not abandoned.
    assert call.done.wait(1)


def test_cancel_stops_a_waiter(engine: Engine) -> None:
    instance = stopped_instance(engine)
    call = start(
        engine, ["ec2", "wait", "instance-running", "--instance-ids", instance], timeout=60
    )
    time.sleep(0.5)
    cancelled_at = time.perf_counter()
    call.ctx.token.cancel()
    assert call.done.wait(2)
    assert time.perf_counter() - cancelled_at < 1
    result = call.result()
    assert result.status == "cancelled"
    assert "cancelled" in result.stderr


def test_cancelling_the_awaiting_task_stops_the_call(engine: Engine) -> None:
    instance = stopped_instance(engine)
    holder: dict[str, float] = {}

    async def main() -> None:
        with anyio.move_on_after(0.5):
            await engine.arun(
                plan_of(engine, ["ec2", "wait", "instance-running", "--instance-ids", instance])
            )
        holder["cancelled"] = time.perf_counter()

    anyio.run(main)
    deadline = holder["cancelled"] + 2
    while engine.in_flight and time.perf_counter() < deadline:
        time.sleep(0.05)
    assert engine.in_flight == 0


def test_async_run_returns_the_result(engine: Engine) -> None:
    async def main() -> RunResult:
        return await engine.arun(plan_of(engine, ["s3api", "list-buckets"]))

    assert json.loads(ok(anyio.run(main)).text)["Buckets"] is not None


def test_cap_on_calls_in_flight(aws_env: AwsFiles, moto_server: Moto, tmp_path: Path) -> None:
    engine = Engine(Settings(endpoint_url=moto_server.url, workdir=tmp_path, max_concurrency=1))
    instance = stopped_instance(engine)
    call = start(
        engine, ["ec2", "wait", "instance-running", "--instance-ids", instance], timeout=60
    )
    from aws_mcp_server.errors import EngineError

    with pytest.raises(EngineError, match="already running"):
        start(engine, ["s3api", "list-buckets"], timeout=0.2)
    call.ctx.token.cancel()
    assert call.done.wait(2)
    ok(run(engine, ["s3api", "list-buckets"]))


# --- nothing leaks ------------------------------------------------------------------------


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _handler_counts() -> dict[str, int]:
    names = ["", "awscli", "botocore", "s3transfer", "urllib3"]
    return {name or "root": len(logging.getLogger(name).handlers) for name in names}


@pytest.mark.slow
def test_thousand_calls_leak_nothing(engine: Engine, aws_env: AwsFiles) -> None:
    from botocore.history import get_global_history_recorder

    recorder = get_global_history_recorder()
    from awscli.customizations.s3.subcommands import SyncCommand

    sync_source = engine.settings.workdir / "sync-src"
    sync_source.mkdir(exist_ok=True)
    (sync_source / "f.txt").write_text("x")
    bucket = unique("sync")
    ok(run(engine, ["s3", "mb", f"s3://{bucket}"]))
    commands = [
        ["s3", "sync", str(sync_source), f"s3://{bucket}", "--delete"],
        ["s3api", "list-buckets"],
        ["sts", "get-caller-identity", "--color", "on", "--output", "table"],
        ["whoami"],  # a user alias: must not resolve
        ["ec2", "describe-availability-zones", "--debug"],
    ]
    for i in range(100):
        # Unchecked: the engine's own defences (aliases, --debug handlers) are what is measured.
        run(engine, commands[i % len(commands)], checked=False, profile="alt" if i % 2 else None)
    handlers, rss, sync_args = _handler_counts(), _rss_kib(), len(SyncCommand.ARG_TABLE)
    stdout = sys.stdout
    for i in range(1000):
        run(engine, commands[i % len(commands)], checked=False, profile="alt" if i % 2 else None)
    assert _handler_counts() == handlers
    assert len(SyncCommand.ARG_TABLE) == sync_args  # regression: grew by 3 per `s3 sync`
    assert recorder._handlers == []
    assert sys.stdout is stdout
    growth = _rss_kib() - rss
    assert growth < 40_000, f"RSS grew by {growth} KiB over 1,000 calls"
    assert not (aws_env.home / ".aws" / "cli" / "history").exists()
    assert engine.in_flight == 0


def test_user_aliases_and_config_plugins_are_never_loaded(
    engine: Engine, aws_env: AwsFiles
) -> None:
    for alias in ("whoami", "shell"):
        result = run(engine, [alias], checked=False)
        assert result.exit_code == 2, result.text
        assert "Invalid choice" in result.stderr
    assert not Path("pwned.txt").exists()
    assert "aws_mcp_server_test_no_such_plugin" not in sys.modules


def test_color_on_does_not_wrap_stdout(engine: Engine) -> None:
    ok(run(engine, ["s3api", "list-buckets"]))
    before = sys.stdout
    assert isinstance(before, capture._TextOut)
    result = ok(run(engine, ["sts", "get-caller-identity", "--output", "table", "--color", "on"]))
    assert sys.stdout is before
    assert "\x1b[" in result.text  # color was honoured, inside the captured output only


def test_client_classes_are_safe_to_share() -> None:
    """The driver builds each client class once; that holds only while every handler of
    `creating-client-class` is one of botocore's own stateless ones. An awscli upgrade that adds
    a customization there fails this test."""
    from aws_mcp_server.adapter import driver

    session = driver.new_driver().session
    trie = session.get_component("event_emitter")._emitter._handlers
    modules = set()
    for service in session.get_available_services():
        service_id = session.get_service_model(service).service_id.hyphenize()
        for handler in trie.prefix_search(f"creating-client-class.{service_id}"):
            # Plain functions only: a bound method or callable object could carry state.
            assert inspect.isfunction(handler), handler
            modules.add(handler.__module__)
    assert modules == {"botocore.handlers", "botocore.signers"}


def test_capture_proxies_route_by_thread() -> None:
    capture.install()
    results: dict[int, bytes] = {}

    def work(n: int) -> None:
        ctx = capture.CallContext()

        def body() -> None:
            for _ in range(200):
                sys.stdout.write(f"{n}\n")
            child = threading.Thread(target=lambda: sys.stdout.buffer.write(f"child{n}\n".encode()))
            child.start()
            child.join()

        capture.run_in(ctx, body)
        results[n] = ctx.stdout.getvalue()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for n, data in results.items():
        assert data == f"{n}\n".encode() * 200 + f"child{n}\n".encode()
