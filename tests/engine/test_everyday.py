"""Everyday AWS CLI commands, run the way a model runs them, with moto's state checked afterwards.

Each test drives the real MCP server in-process with the official client, calls
`execute_aws_read_command` or `execute_aws_write_command` with the command text (no leading `aws`),
and then looks at the world independently: boto3 clients pointed at moto for remote state, the
workdir for local files. A command that is classified right but does not work fails here.

The state a command needs is arranged with boto3 rather than with the tools, so that one broken
command fails its own test and not every test that happens to use it; lifecycle tests (create, read
back, delete) chain tool calls and check moto after each write. Names are unique per test; one moto
serves the whole session.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import time
import urllib.parse
import urllib.request
import uuid
import zipfile
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from mcp import Client
from mcp_types import CallToolResult

from aws_mcp_server.engine import Engine
from aws_mcp_server.server import build_server
from aws_mcp_server.settings import Settings
from tests.conftest import DEFAULT_KEY, AwsFiles, Moto
from tests.mcp_helpers import text_of

pytestmark = pytest.mark.anyio

READ = "execute_aws_read_command"
WRITE = "execute_aws_write_command"
REGION = "us-east-1"
ACCOUNT = "123456789012"

PROTOCOLS = {"legacy": "2025-11-25", "auto": "2026-07-28"}
BOTH_PROTOCOLS = pytest.mark.parametrize("protocol", list(PROTOCOLS))

PROGRESS = re.compile(r"Completed [\d.]+ \w+/[\d.]+ \w+")
"""A progress line of an s3 transfer ("Completed 12 Bytes/12 Bytes (1 KiB/s) with 1 file(s) ...")."""

TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
READ_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# --- the client side: the real server in-process, and boto3 beside it -----------------------------


class Tools:
    """The two command tools, called as a model calls them."""

    def __init__(self, client: Client, workdir: Path) -> None:
        self.client = client
        self.workdir = workdir

    async def call(
        self, tool: str, command: str, *, profile: str | None = None, region: str | None = None
    ) -> CallToolResult:
        arguments = {"command": command}
        if profile is not None:
            arguments["profile"] = profile
        if region is not None:
            arguments["region"] = region
        return await self.client.call_tool(tool, arguments)

    async def run(self, tool: str, command: str, **where: str) -> str:
        """The tool's text for a command that must succeed."""
        result = await self.call(tool, command, **where)
        assert not result.is_error, f"{tool} {command!r} failed:\n{text_of(result)}"
        return text_of(result)

    async def read(self, command: str, **where: str) -> str:
        return await self.run(READ, command, **where)

    async def write(self, command: str, **where: str) -> str:
        return await self.run(WRITE, command, **where)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "workdir"
    path.mkdir()
    return path


@pytest.fixture
def protocol() -> str:
    """The protocol generation the client speaks; tests parametrize it to run both."""
    return "legacy"


@pytest.fixture
async def tools(
    aws_env: AwsFiles, moto_server: Moto, workdir: Path, protocol: str
) -> AsyncIterator[Tools]:
    settings = Settings(endpoint_url=moto_server.url, workdir=workdir)
    server = build_server(settings, Engine(settings))
    async with Client(server, mode=protocol) as client:
        assert client.session.protocol_version == PROTOCOLS[protocol]
        yield Tools(client, workdir)


@pytest.fixture(scope="session")
def aws(moto_server: Moto) -> Callable[..., Any]:
    """boto3 clients on moto, independent of the server under test."""
    made: dict[tuple[str, str], Any] = {}

    def client(service: str, region: str = REGION) -> Any:
        if (service, region) not in made:
            made[service, region] = boto3.client(
                service,
                region_name=region,
                endpoint_url=moto_server.url,
                aws_access_key_id=DEFAULT_KEY[0],
                aws_secret_access_key=DEFAULT_KEY[1],
            )
        return made[service, region]

    return client


def error_code(call: Callable[[], Any]) -> str:
    """The AWS error code `call` fails with ("" if it succeeds)."""
    try:
        call()
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return ""


def files_under(path: Path) -> dict[str, bytes]:
    return {
        str(item.relative_to(path)): item.read_bytes()
        for item in sorted(path.rglob("*"))
        if item.is_file()
    }


# --- s3 customizations: one table, each row checked against moto and the workdir -------------------

SEED = {"docs/a.txt": b"alpha\n", "docs/b.log": b"beta\n", "top.txt": b"top\n"}
LOCAL = {
    "hello.txt": b"hello\n",
    "my report.txt": b"spaces in the name\n",
    "local/one.txt": b"one\n",
    "local/two.log": b"two\n",
}


@dataclass
class S3World:
    """Two buckets in moto (`bucket` seeded with SEED, `empty`), a free bucket name (`new`), and a
    workdir holding LOCAL plus `mirror/stale.txt`."""

    s3: Any
    bucket: str
    empty: str
    new: str
    workdir: Path

    def keys(self, bucket: str) -> dict[str, bytes]:
        listed = self.s3.list_objects_v2(Bucket=bucket).get("Contents", [])
        return {item["Key"]: self.body(bucket, item["Key"]) for item in listed}

    def body(self, bucket: str, key: str) -> bytes:
        return bytes(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    def exists(self, bucket: str) -> bool:
        return error_code(lambda: self.s3.head_bucket(Bucket=bucket)) == ""

    def local(self, relative: str = ".") -> dict[str, bytes]:
        return files_under(self.workdir / relative)


@pytest.fixture
def s3world(aws: Callable[..., Any], workdir: Path) -> Iterator[S3World]:
    s3 = aws("s3")
    world = S3World(s3, unique("seeded"), unique("empty"), unique("new"), workdir)
    for name in (world.bucket, world.empty):
        s3.create_bucket(Bucket=name)
    for key, body in SEED.items():
        s3.put_object(Bucket=world.bucket, Key=key, Body=body)
    for relative, body in {**LOCAL, "mirror/stale.txt": b"stale\n"}.items():
        (workdir / relative).parent.mkdir(parents=True, exist_ok=True)
        (workdir / relative).write_bytes(body)
    yield world


def listed_names(out: str) -> set[str]:
    """The names `s3 ls` printed: the last word of each line (PRE lines keep their slash)."""
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


def check_mb(w: S3World, out: str) -> None:
    assert w.exists(w.new)
    assert f"make_bucket: {w.new}" in out


def check_ls_buckets(w: S3World, out: str) -> None:
    names = {bucket["Name"] for bucket in w.s3.list_buckets()["Buckets"]}
    assert {w.bucket, w.empty} <= names
    assert listed_names(out) == names


def check_ls_prefix(w: S3World, out: str) -> None:
    assert listed_names(out) == {"a.txt", "b.log"}


def check_ls_bucket_root(w: S3World, out: str) -> None:
    assert listed_names(out) == {"docs/", "top.txt"}
    assert "PRE docs/" in out


def check_ls_recursive(w: S3World, out: str) -> None:
    assert listed_names(out) == set(w.keys(w.bucket)) == set(SEED)


def check_ls_summarize(w: S3World, out: str) -> None:
    assert listed_names(out) >= set(SEED)
    assert f"Total Objects: {len(SEED)}" in out
    total = sum(len(body) for body in w.keys(w.bucket).values())
    assert f"Total Size: {total} Bytes" in out
    assert "Bytes top.txt" in out  # sizes in human units, not bare numbers


def check_cp_up(w: S3World, out: str) -> None:
    assert w.keys(w.empty) == {"up/hello.txt": LOCAL["hello.txt"]}
    assert (w.workdir / "hello.txt").exists()


def check_cp_up_absolute(w: S3World, out: str) -> None:
    assert w.keys(w.empty) == {"abs.txt": LOCAL["hello.txt"]}


def check_cp_up_spaces(w: S3World, out: str) -> None:
    assert w.keys(w.empty) == {"my report.txt": LOCAL["my report.txt"]}


def check_cp_up_with_headers(w: S3World, out: str) -> None:
    head = w.s3.head_object(Bucket=w.empty, Key="page.html")
    assert head["ContentType"] == "text/html"
    assert head["Metadata"] == {"owner": "data-team"}
    assert head["ServerSideEncryption"] == "AES256"
    assert head["CacheControl"] == "max-age=60"


def check_cp_down_named(w: S3World, out: str) -> None:
    assert (w.workdir / "got" / "top-copy.txt").read_bytes() == SEED["top.txt"]


def check_cp_down_relative_dir(w: S3World, out: str) -> None:
    assert w.local("rel") == {"top.txt": SEED["top.txt"]}


def check_cp_down_dot(w: S3World, out: str) -> None:
    assert (w.workdir / "top.txt").read_bytes() == SEED["top.txt"]


def check_cp_s3_to_s3(w: S3World, out: str) -> None:
    assert w.keys(w.empty) == {"copied.txt": SEED["top.txt"]}
    assert w.keys(w.bucket) == SEED


def check_cp_stdout(w: S3World, out: str) -> None:
    assert out == SEED["docs/a.txt"].decode()
    assert not (w.workdir / "-").exists()


def check_cp_recursive_up(w: S3World, out: str) -> None:
    assert w.keys(w.empty) == {
        "tree/one.txt": LOCAL["local/one.txt"],
        "tree/two.log": LOCAL["local/two.log"],
    }


def check_cp_recursive_down(w: S3World, out: str) -> None:
    assert w.local("docs-down") == {"a.txt": SEED["docs/a.txt"], "b.log": SEED["docs/b.log"]}


def check_cp_recursive_exclude(w: S3World, out: str) -> None:
    assert w.keys(w.empty) == {"ex/one.txt": LOCAL["local/one.txt"]}


def check_cp_recursive_include(w: S3World, out: str) -> None:
    assert w.local("inc") == {"docs/a.txt": SEED["docs/a.txt"], "top.txt": SEED["top.txt"]}


def check_mv_up(w: S3World, out: str) -> None:
    assert w.keys(w.empty) == {"moved.txt": LOCAL["hello.txt"]}
    assert not (w.workdir / "hello.txt").exists()


def check_mv_down(w: S3World, out: str) -> None:
    assert (w.workdir / "moved-top.txt").read_bytes() == SEED["top.txt"]
    assert "top.txt" not in w.keys(w.bucket)


def check_mv_s3_to_s3(w: S3World, out: str) -> None:
    assert w.keys(w.empty) == {"top.txt": SEED["top.txt"]}
    assert "top.txt" not in w.keys(w.bucket)


def check_mv_recursive(w: S3World, out: str) -> None:
    assert w.keys(w.empty) == {"docs/a.txt": SEED["docs/a.txt"], "docs/b.log": SEED["docs/b.log"]}
    assert w.keys(w.bucket) == {"top.txt": SEED["top.txt"]}


def check_rm_key(w: S3World, out: str) -> None:
    assert set(w.keys(w.bucket)) == {"docs/a.txt", "docs/b.log"}


def check_rm_recursive(w: S3World, out: str) -> None:
    assert set(w.keys(w.bucket)) == {"top.txt"}


def check_rm_recursive_exclude(w: S3World, out: str) -> None:
    assert set(w.keys(w.bucket)) == {"docs/b.log"}


def check_sync_up(w: S3World, out: str) -> None:
    assert w.keys(w.empty) == {
        "sync/one.txt": LOCAL["local/one.txt"],
        "sync/two.log": LOCAL["local/two.log"],
    }


def check_sync_up_delete(w: S3World, out: str) -> None:
    assert w.keys(w.bucket) == {
        "docs/one.txt": LOCAL["local/one.txt"],
        "docs/two.log": LOCAL["local/two.log"],
        "top.txt": SEED["top.txt"],
    }


def check_sync_up_exclude(w: S3World, out: str) -> None:
    assert w.keys(w.empty) == {"sx/one.txt": LOCAL["local/one.txt"]}


def check_sync_down(w: S3World, out: str) -> None:
    assert w.local("docs-sync") == {"a.txt": SEED["docs/a.txt"], "b.log": SEED["docs/b.log"]}


def check_sync_down_delete(w: S3World, out: str) -> None:
    assert w.local("mirror") == {"a.txt": SEED["docs/a.txt"], "b.log": SEED["docs/b.log"]}


def check_sync_s3_to_s3(w: S3World, out: str) -> None:
    assert w.keys(w.empty) == SEED
    assert w.keys(w.bucket) == SEED


def check_sync_s3_delete_exclude(w: S3World, out: str) -> None:
    # The source is empty: --delete removes what it holds, except what --exclude keeps out of view.
    assert set(w.keys(w.bucket)) == {"docs/a.txt", "docs/b.log"}


def check_rb_empty(w: S3World, out: str) -> None:
    assert not w.exists(w.empty)
    assert w.exists(w.bucket)


def check_rb_force(w: S3World, out: str) -> None:
    assert not w.exists(w.bucket)


def check_presign(w: S3World, out: str, *, expires_in: int = 3600) -> None:
    url = out.splitlines()[0].strip()
    parsed = urllib.parse.urlsplit(url)
    assert parsed.path == f"/{w.bucket}/top.txt"
    query = urllib.parse.parse_qs(parsed.query)
    assert "Signature" in query or "X-Amz-Signature" in query
    if "Expires" in query:
        assert abs(int(query["Expires"][0]) - (time.time() + expires_in)) < 120
    else:
        assert query["X-Amz-Expires"] == [str(expires_in)]
    assert "[sensitive:" in out
    # The URL really fetches the object (moto on loopback; no proxy may stand in between).
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=10) as response:
        assert response.read() == SEED["top.txt"]


def check_presign_expiry(w: S3World, out: str) -> None:
    check_presign(w, out, expires_in=300)


def check_website(w: S3World, out: str) -> None:
    site = w.s3.get_bucket_website(Bucket=w.bucket)
    assert site["IndexDocument"] == {"Suffix": "index.html"}
    assert site["ErrorDocument"] == {"Key": "error.html"}


def check_s3api_put_object(w: S3World, out: str) -> None:
    assert w.keys(w.empty) == {"put.txt": LOCAL["hello.txt"]}
    assert "ETag" in json.loads(out)


def check_s3api_get_object(w: S3World, out: str) -> None:
    assert (w.workdir / "got.txt").read_bytes() == SEED["top.txt"]
    assert json.loads(out)["ContentLength"] == len(SEED["top.txt"])


S3_CASES = [
    # (id, tool, command, check); {b} seeded bucket, {e} empty bucket, {n} free name, {wd} workdir
    ("mb", WRITE, "s3 mb s3://{n}", check_mb),
    ("ls-buckets", READ, "s3 ls", check_ls_buckets),
    ("ls-bucket-root", READ, "s3 ls s3://{b}", check_ls_bucket_root),
    ("ls-prefix", READ, "s3 ls s3://{b}/docs/", check_ls_prefix),
    ("ls-recursive", READ, "s3 ls s3://{b} --recursive", check_ls_recursive),
    (
        "ls-human-summarize",
        READ,
        "s3 ls s3://{b} --recursive --human-readable --summarize",
        check_ls_summarize,
    ),
    ("cp-up", WRITE, "s3 cp hello.txt s3://{e}/up/hello.txt", check_cp_up),
    ("cp-up-absolute", WRITE, "s3 cp {wd}/hello.txt s3://{e}/abs.txt", check_cp_up_absolute),
    ("cp-up-spaces", WRITE, "s3 cp 'my report.txt' s3://{e}/", check_cp_up_spaces),
    (
        "cp-up-with-headers",
        WRITE,
        "s3 cp hello.txt s3://{e}/page.html --content-type text/html --metadata owner=data-team "
        "--sse AES256 --cache-control max-age=60",
        check_cp_up_with_headers,
    ),
    ("cp-down-named", WRITE, "s3 cp s3://{b}/top.txt {wd}/got/top-copy.txt", check_cp_down_named),
    ("cp-down-relative-dir", WRITE, "s3 cp s3://{b}/top.txt ./rel/", check_cp_down_relative_dir),
    ("cp-down-dot", WRITE, "s3 cp s3://{b}/top.txt .", check_cp_down_dot),
    ("cp-s3-to-s3", WRITE, "s3 cp s3://{b}/top.txt s3://{e}/copied.txt", check_cp_s3_to_s3),
    ("cp-stdout", READ, "s3 cp s3://{b}/docs/a.txt -", check_cp_stdout),
    ("cp-recursive-up", WRITE, "s3 cp local s3://{e}/tree --recursive", check_cp_recursive_up),
    (
        "cp-recursive-down",
        WRITE,
        "s3 cp s3://{b}/docs docs-down --recursive",
        check_cp_recursive_down,
    ),
    (
        "cp-recursive-exclude",
        WRITE,
        "s3 cp local s3://{e}/ex --recursive --exclude *.log",
        check_cp_recursive_exclude,
    ),
    (
        "cp-recursive-include",
        WRITE,
        "s3 cp s3://{b} inc --recursive --exclude '*' --include '*.txt'",
        check_cp_recursive_include,
    ),
    ("mv-up", WRITE, "s3 mv hello.txt s3://{e}/moved.txt", check_mv_up),
    ("mv-down", WRITE, "s3 mv s3://{b}/top.txt moved-top.txt", check_mv_down),
    ("mv-s3-to-s3", WRITE, "s3 mv s3://{b}/top.txt s3://{e}/top.txt", check_mv_s3_to_s3),
    ("mv-recursive", WRITE, "s3 mv s3://{b}/docs s3://{e}/docs --recursive", check_mv_recursive),
    pytest.param("rm-key", WRITE, "s3 rm s3://{b}/top.txt", check_rm_key),
    pytest.param(
        "rm-recursive",
        WRITE,
        "s3 rm s3://{b}/docs --recursive",
        check_rm_recursive,
    ),
    pytest.param(
        "rm-recursive-exclude",
        WRITE,
        "s3 rm s3://{b} --recursive --exclude '*.log'",
        check_rm_recursive_exclude,
    ),
    ("sync-up", WRITE, "s3 sync local s3://{e}/sync", check_sync_up),
    ("sync-up-delete", WRITE, "s3 sync local s3://{b}/docs --delete", check_sync_up_delete),
    (
        "sync-up-exclude",
        WRITE,
        "s3 sync local s3://{e}/sx --exclude '*.log'",
        check_sync_up_exclude,
    ),
    ("sync-down", WRITE, "s3 sync s3://{b}/docs docs-sync", check_sync_down),
    ("sync-down-delete", WRITE, "s3 sync s3://{b}/docs mirror --delete", check_sync_down_delete),
    ("sync-s3-to-s3", WRITE, "s3 sync s3://{b} s3://{e}", check_sync_s3_to_s3),
    (
        "sync-s3-delete-exclude",
        WRITE,
        "s3 sync s3://{e} s3://{b} --delete --exclude 'docs/*'",
        check_sync_s3_delete_exclude,
    ),
    ("rb-empty", WRITE, "s3 rb s3://{e}", check_rb_empty),
    ("rb-force", WRITE, "s3 rb s3://{b} --force", check_rb_force),
    ("presign", READ, "s3 presign s3://{b}/top.txt", check_presign),
    (
        "presign-expires-in",
        READ,
        "s3 presign s3://{b}/top.txt --expires-in 300",
        check_presign_expiry,
    ),
    (
        "website",
        WRITE,
        "s3 website s3://{b} --index-document index.html --error-document error.html",
        check_website,
    ),
    (
        "s3api-put-object-body",
        WRITE,
        "s3api put-object --bucket {e} --key put.txt --body hello.txt",
        check_s3api_put_object,
    ),
    (
        "s3api-get-object-outfile",
        WRITE,
        "s3api get-object --bucket {b} --key top.txt got.txt",
        check_s3api_get_object,
    ),
]

S3_BOTH_PROTOCOLS = {
    "mb",
    "ls-buckets",
    "cp-up",
    "cp-down-named",
    "cp-stdout",
    "sync-up",
    "presign",
    "rm-key",
}


def _s3_params() -> list[Any]:
    params = []
    for case in S3_CASES:
        values, marks = (case.values, case.marks) if hasattr(case, "values") else (case, ())
        name = values[0]
        for protocol in PROTOCOLS if name in S3_BOTH_PROTOCOLS else ("legacy",):
            params.append(pytest.param(*values[1:], protocol, id=f"{name}-{protocol}", marks=marks))
    return params


@pytest.mark.parametrize(("tool", "command", "check", "protocol"), _s3_params())
async def test_s3_command_does_what_it_says(
    tools: Tools, s3world: S3World, tool: str, command: str, check: Callable[[S3World, str], None]
) -> None:
    text = command.format(b=s3world.bucket, e=s3world.empty, n=s3world.new, wd=s3world.workdir)
    out = await tools.run(tool, text)
    check(s3world, out)
    assert not PROGRESS.search(out), out


async def test_s3_rb_refuses_a_bucket_that_is_not_empty(tools: Tools, s3world: S3World) -> None:
    result = await tools.call(WRITE, f"s3 rb s3://{s3world.bucket}")
    assert result.is_error
    assert "BucketNotEmpty" in text_of(result)
    assert s3world.keys(s3world.bucket) == SEED


async def test_s3_write_commands_are_refused_by_the_read_tool(
    tools: Tools, s3world: S3World
) -> None:
    for command in (
        f"s3 cp s3://{s3world.bucket}/top.txt top.txt",
        f"s3 rm s3://{s3world.bucket}/top.txt",
        f"s3 sync local s3://{s3world.empty}",
    ):
        result = await tools.call(READ, command)
        assert result.is_error, command
        assert "execute_aws_write_command" in text_of(result)
    assert s3world.keys(s3world.bucket) == SEED
    assert s3world.keys(s3world.empty) == {}
    assert not (s3world.workdir / "top.txt").exists()


@pytest.mark.parametrize("option", ["--region us-east-1", "--output text"])
async def test_s3_cp_after_a_global_option_prints_no_progress(
    tools: Tools, s3world: S3World, option: str
) -> None:
    out = await tools.write(f"{option} s3 cp hello.txt s3://{s3world.empty}/after.txt")
    assert s3world.keys(s3world.empty) == {"after.txt": LOCAL["hello.txt"]}
    assert not PROGRESS.search(out), out


async def test_s3_rm_after_a_global_option(tools: Tools, s3world: S3World) -> None:
    out = await tools.write(f"--region us-east-1 s3 rm s3://{s3world.bucket}/top.txt")
    assert f"delete: s3://{s3world.bucket}/top.txt" in out
    assert set(s3world.keys(s3world.bucket)) == {"docs/a.txt", "docs/b.log"}


@pytest.mark.parametrize(
    ("profile", "region", "expected"),
    [("alt", None, "eu-west-1"), (None, "ap-south-1", "ap-south-1")],
)
async def test_s3_mb_lands_in_the_profile_or_region_asked_for(
    tools: Tools,
    aws: Callable[..., Any],
    profile: str | None,
    region: str | None,
    expected: str,
) -> None:
    bucket = unique("placed")
    where = {k: v for k, v in (("profile", profile), ("region", region)) if v}
    await tools.write(f"s3 mb s3://{bucket}", **where)
    assert aws("s3").get_bucket_location(Bucket=bucket)["LocationConstraint"] == expected


# --- ec2 ----------------------------------------------------------------------------------------


def tagged_instances(ec2: Any, name: str, *states: str) -> list[str]:
    filters = [{"Name": "tag:Name", "Values": [name]}]
    if states:
        filters.append({"Name": "instance-state-name", "Values": list(states)})
    reservations = ec2.describe_instances(Filters=filters)["Reservations"]
    return sorted(i["InstanceId"] for r in reservations for i in r["Instances"])


def launch(ec2: Any, name: str, count: int = 1) -> list[str]:
    made = ec2.run_instances(
        ImageId="ami-12c6146b",
        MinCount=count,
        MaxCount=count,
        InstanceType="t2.micro",
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}],
    )
    return sorted(i["InstanceId"] for i in made["Instances"])


def state_of(ec2: Any, instance: str) -> str:
    found = ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]
    return str(found["State"]["Name"])


@BOTH_PROTOCOLS
async def test_ec2_run_instances(tools: Tools, aws: Callable[..., Any]) -> None:
    name = unique("web")
    out = await tools.write(
        "ec2 run-instances --image-id ami-12c6146b --instance-type t2.micro --count 2 "
        f"--tag-specifications 'ResourceType=instance,Tags=[{{Key=Name,Value={name}}}]'"
    )
    made = sorted(i["InstanceId"] for i in json.loads(out)["Instances"])
    assert tagged_instances(aws("ec2"), name, "running") == made and len(made) == 2


async def test_ec2_run_instances_query_text(tools: Tools, aws: Callable[..., Any]) -> None:
    out = await tools.write(
        "ec2 run-instances --image-id ami-12c6146b --query Instances[0].InstanceId --output text"
    )
    instance = out.strip()
    assert instance.startswith("i-")
    assert state_of(aws("ec2"), instance) == "running"


@BOTH_PROTOCOLS
async def test_ec2_describe_instances_with_filters_and_query(
    tools: Tools, aws: Callable[..., Any]
) -> None:
    name = unique("app")
    made = launch(aws("ec2"), name, count=2)
    out = await tools.read(
        f"ec2 describe-instances --filters Name=tag:Name,Values={name} "
        "Name=instance-state-name,Values=running "
        "--query 'Reservations[].Instances[].InstanceId'"
    )
    assert sorted(json.loads(out)) == made


async def test_ec2_describe_instances_query_with_backtick_literal_text(
    tools: Tools, aws: Callable[..., Any]
) -> None:
    name = unique("lit")
    made = launch(aws("ec2"), name, count=2)
    aws("ec2").stop_instances(InstanceIds=made[:1])
    out = await tools.read(
        f"ec2 describe-instances --filters Name=tag:Name,Values={name} "
        "--query 'Reservations[].Instances[?State.Name==`running`].InstanceId' --output text"
    )
    assert out.split() == made[1:]


async def test_ec2_describe_instances_table(tools: Tools, aws: Callable[..., Any]) -> None:
    name = unique("tbl")
    made = launch(aws("ec2"), name)
    out = await tools.read(
        f"ec2 describe-instances --filters Name=tag:Name,Values={name} "
        '--query "Reservations[].Instances[].{id:InstanceId,state:State.Name}" --output table'
    )
    lines = out.splitlines()
    assert "DescribeInstances" in lines[1]
    assert any(made[0] in line and "running" in line and line.startswith("|") for line in lines)


async def test_ec2_stop_start_terminate(tools: Tools, aws: Callable[..., Any]) -> None:
    ec2 = aws("ec2")
    [instance] = launch(ec2, unique("cycle"))
    out = await tools.write(f"ec2 stop-instances --instance-ids {instance}")
    assert json.loads(out)["StoppingInstances"][0]["InstanceId"] == instance
    assert state_of(ec2, instance) == "stopped"
    await tools.write(f"ec2 start-instances --instance-ids {instance}")
    assert state_of(ec2, instance) == "running"
    await tools.write(f"ec2 terminate-instances --instance-ids {instance}")
    assert state_of(ec2, instance) == "terminated"


async def test_ec2_create_tags(tools: Tools, aws: Callable[..., Any]) -> None:
    ec2 = aws("ec2")
    [instance] = launch(ec2, unique("tags"))
    await tools.write(
        f"ec2 create-tags --resources {instance} --tags Key=env,Value=prod Key=team,Value=data"
    )
    tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [instance]}])["Tags"]
    assert {t["Key"]: t["Value"] for t in tags if t["Key"] != "Name"} == {
        "env": "prod",
        "team": "data",
    }


async def test_ec2_security_groups(tools: Tools, aws: Callable[..., Any]) -> None:
    ec2 = aws("ec2")
    name = unique("sg")
    out = await tools.write(
        f'ec2 create-security-group --group-name {name} --description "web tier"'
    )
    group = json.loads(out)["GroupId"]
    found = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]
    assert (found["GroupName"], found["Description"]) == (name, "web tier")

    await tools.write(
        f"ec2 authorize-security-group-ingress --group-id {group} --protocol tcp --port 443 "
        "--cidr 203.0.113.0/24"
    )
    rules = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissions"]
    assert [
        (r["IpProtocol"], r["FromPort"], r["ToPort"], r["IpRanges"][0]["CidrIp"]) for r in rules
    ] == [("tcp", 443, 443, "203.0.113.0/24")]

    described = await tools.read(f"ec2 describe-security-groups --group-ids {group}")
    [listed] = json.loads(described)["SecurityGroups"]
    assert listed["GroupName"] == name
    assert listed["IpPermissions"][0]["FromPort"] == 443


async def test_ec2_describe_security_groups_by_name(tools: Tools, aws: Callable[..., Any]) -> None:
    name = unique("named")
    group = aws("ec2").create_security_group(GroupName=name, Description="d")["GroupId"]
    out = await tools.read(
        f"ec2 describe-security-groups --group-names {name} --query SecurityGroups[0].GroupId "
        "--output text"
    )
    assert out.strip() == group


async def test_ec2_describe_vpcs_json_and_text(tools: Tools, aws: Callable[..., Any]) -> None:
    vpcs = {v["VpcId"] for v in aws("ec2").describe_vpcs()["Vpcs"]}
    assert vpcs
    out = await tools.read("ec2 describe-vpcs")
    assert {v["VpcId"] for v in json.loads(out)["Vpcs"]} == vpcs
    text = await tools.read("ec2 describe-vpcs --output text")
    rows = [line.split("\t") for line in text.splitlines() if line.startswith("VPCS\t")]
    assert {word for row in rows for word in row if word.startswith("vpc-")} == vpcs


async def test_ec2_describe_regions(tools: Tools, aws: Callable[..., Any]) -> None:
    regions = sorted(r["RegionName"] for r in aws("ec2").describe_regions()["Regions"])
    out = await tools.read("ec2 describe-regions --query Regions[].RegionName --output text")
    assert sorted(out.split()) == regions and REGION in regions


async def test_ec2_run_instances_user_data_from_a_workdir_file(
    tools: Tools, aws: Callable[..., Any], workdir: Path
) -> None:
    script = b"#!/bin/sh\necho booted > /tmp/booted\n"
    (workdir / "boot.sh").write_bytes(script)
    out = await tools.write(
        "ec2 run-instances --image-id ami-12c6146b --user-data file://boot.sh "
        "--query Instances[0].InstanceId --output text"
    )
    instance = out.strip()
    found = aws("ec2").describe_instance_attribute(InstanceId=instance, Attribute="userData")
    assert base64.b64decode(found["UserData"]["Value"]) == script


async def test_ec2_wait_returns_once_the_state_is_reached(
    tools: Tools, aws: Callable[..., Any]
) -> None:
    ec2 = aws("ec2")
    [instance] = launch(ec2, unique("wait"))
    out = await tools.read(f"ec2 wait instance-running --instance-ids {instance}")
    assert out.strip() == "(the command succeeded and printed nothing)"
    ec2.stop_instances(InstanceIds=[instance])
    await tools.read(f"ec2 wait instance-stopped --instance-ids {instance}")
    assert state_of(ec2, instance) == "stopped"


# --- iam ----------------------------------------------------------------------------------------


async def test_iam_users(tools: Tools, aws: Callable[..., Any]) -> None:
    iam = aws("iam")
    user = unique("user")
    out = await tools.write(f"iam create-user --user-name {user}")
    assert json.loads(out)["User"]["UserName"] == user
    arn = iam.get_user(UserName=user)["User"]["Arn"]
    assert arn == f"arn:aws:iam::{ACCOUNT}:user/{user}"

    listed = await tools.read("iam list-users --query Users[].UserName")
    assert user in json.loads(listed)
    assert set(json.loads(listed)) == {u["UserName"] for u in iam.list_users()["Users"]}
    got = await tools.read(f"iam get-user --user-name {user}")
    assert json.loads(got)["User"]["Arn"] == arn
    text = await tools.read(f"iam get-user --user-name {user} --query User.Arn --output text")
    assert text.strip() == arn

    await tools.write(f"iam delete-user --user-name {user}")
    assert error_code(lambda: iam.get_user(UserName=user)) == "NoSuchEntity"


async def test_iam_create_role_with_inline_trust_policy(
    tools: Tools, aws: Callable[..., Any]
) -> None:
    role = unique("role")
    document = json.dumps(TRUST_POLICY, separators=(",", ":"))
    await tools.write(
        f"iam create-role --role-name {role} --assume-role-policy-document '{document}'"
    )
    trust = aws("iam").get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}


async def test_iam_create_role_from_a_workdir_file(
    tools: Tools, aws: Callable[..., Any], workdir: Path
) -> None:
    role = unique("filerole")
    (workdir / "policy.json").write_text(json.dumps(TRUST_POLICY))
    await tools.write(
        f"iam create-role --role-name {role} --assume-role-policy-document file://policy.json"
    )
    trust = aws("iam").get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    assert trust == TRUST_POLICY


async def test_iam_create_and_attach_role_policy(
    tools: Tools, aws: Callable[..., Any], workdir: Path
) -> None:
    iam = aws("iam")
    role = unique("attach")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST_POLICY))
    (workdir / "read.json").write_text(json.dumps(READ_POLICY))
    made = await tools.write(
        f"iam create-policy --policy-name {role}-read --policy-document file://read.json"
    )
    policy = json.loads(made)["Policy"]["Arn"]
    assert iam.get_policy(PolicyArn=policy)["Policy"]["PolicyName"] == f"{role}-read"

    await tools.write(f"iam attach-role-policy --role-name {role} --policy-arn {policy}")
    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [policy]

    listed = await tools.read(f"iam list-attached-role-policies --role-name {role}")
    assert json.loads(listed)["AttachedPolicies"] == attached


# --- sqs and sns --------------------------------------------------------------------------------


def queue_attributes(sqs: Any, url: str) -> dict[str, str]:
    return dict(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"])


async def test_sqs_create_list_delete(tools: Tools, aws: Callable[..., Any]) -> None:
    sqs = aws("sqs")
    name = unique("queue")
    out = await tools.write(
        f"sqs create-queue --queue-name {name} --attributes VisibilityTimeout=45"
    )
    url = json.loads(out)["QueueUrl"]
    assert sqs.get_queue_url(QueueName=name)["QueueUrl"] == url
    assert queue_attributes(sqs, url)["VisibilityTimeout"] == "45"

    listed = await tools.read(f"sqs list-queues --queue-name-prefix {name}")
    assert json.loads(listed)["QueueUrls"] == [url]
    text = await tools.read(f"sqs list-queues --queue-name-prefix {name} --output text")
    assert text.split() == ["QUEUEURLS", url]

    await tools.write(f"sqs delete-queue --queue-url {url}")
    assert error_code(lambda: sqs.get_queue_url(QueueName=name)).endswith("NonExistentQueue")


@BOTH_PROTOCOLS
async def test_sqs_send_receive_and_attributes(tools: Tools, aws: Callable[..., Any]) -> None:
    sqs = aws("sqs")
    url = sqs.create_queue(QueueName=unique("msgs"))["QueueUrl"]
    sent = await tools.write(f"sqs send-message --queue-url {url} --message-body 'hello queue'")
    assert json.loads(sent)["MD5OfMessageBody"] == hashlib.md5(b"hello queue").hexdigest()

    attributes = await tools.read(
        f"sqs get-queue-attributes --queue-url {url} --attribute-names All"
    )
    assert json.loads(attributes)["Attributes"]["ApproximateNumberOfMessages"] == "1"
    assert json.loads(attributes)["Attributes"] == queue_attributes(sqs, url)

    received = await tools.write(
        f"sqs receive-message --queue-url {url} --max-number-of-messages 10"
    )
    assert [m["Body"] for m in json.loads(received)["Messages"]] == ["hello queue"]
    # A receive hides the message: that is why it is a write.
    after = queue_attributes(sqs, url)
    assert (
        after["ApproximateNumberOfMessages"],
        after["ApproximateNumberOfMessagesNotVisible"],
    ) == ("0", "1")


async def test_sqs_from_workdir_files(tools: Tools, aws: Callable[..., Any], workdir: Path) -> None:
    sqs = aws("sqs")
    name = unique("input")
    (workdir / "queue.json").write_text(
        json.dumps({"QueueName": name, "Attributes": {"DelaySeconds": "5"}})
    )
    made = await tools.write("sqs create-queue --cli-input-json file://queue.json")
    url = json.loads(made)["QueueUrl"]
    assert queue_attributes(sqs, url)["DelaySeconds"] == "5"

    (workdir / "entries.json").write_text(
        json.dumps([{"Id": "1", "MessageBody": "first"}, {"Id": "2", "MessageBody": "second"}])
    )
    sent = await tools.write(
        f"sqs send-message-batch --queue-url {url} --entries file://entries.json"
    )
    assert sorted(m["Id"] for m in json.loads(sent)["Successful"]) == ["1", "2"]
    assert queue_attributes(sqs, url)["ApproximateNumberOfMessagesDelayed"] == "2"


async def test_sns_topic_subscribe_publish(tools: Tools, aws: Callable[..., Any]) -> None:
    sns, sqs = aws("sns"), aws("sqs")
    name = unique("topic")
    made = await tools.write(f"sns create-topic --name {name}")
    topic = json.loads(made)["TopicArn"]
    assert topic in {t["TopicArn"] for t in sns.list_topics()["Topics"]}
    listed = await tools.read("sns list-topics --query Topics[].TopicArn")
    assert topic in json.loads(listed)

    url = sqs.create_queue(QueueName=unique("inbox"))["QueueUrl"]
    queue_arn = queue_attributes(sqs, url)["QueueArn"]
    await tools.write(
        f"sns subscribe --topic-arn {topic} --protocol sqs --notification-endpoint {queue_arn}"
    )
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [("sqs", queue_arn)]

    await tools.write(f"sns publish --topic-arn {topic} --message 'deploy finished' --subject done")
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    envelopes = [json.loads(m["Body"]) for m in messages]
    assert [(e["Message"], e["Subject"], e["TopicArn"]) for e in envelopes] == [
        ("deploy finished", "done", topic)
    ]


# --- dynamodb -----------------------------------------------------------------------------------


def make_table(dynamodb: Any, name: str) -> None:
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


async def test_dynamodb_create_describe_delete_table(tools: Tools, aws: Callable[..., Any]) -> None:
    dynamodb = aws("dynamodb")
    name = unique("table")
    await tools.write(
        f"dynamodb create-table --table-name {name} "
        "--attribute-definitions AttributeName=pk,AttributeType=S "
        "--key-schema AttributeName=pk,KeyType=HASH --billing-mode PAY_PER_REQUEST"
    )
    table = dynamodb.describe_table(TableName=name)["Table"]
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"

    described = await tools.read(f"dynamodb describe-table --table-name {name}")
    assert json.loads(described)["Table"]["TableArn"] == table["TableArn"]
    status = await tools.read(
        f"dynamodb describe-table --table-name {name} --query Table.TableStatus --output text"
    )
    assert status.strip() == table["TableStatus"] == "ACTIVE"

    await tools.write(f"dynamodb delete-table --table-name {name}")
    assert error_code(lambda: dynamodb.describe_table(TableName=name)) == (
        "ResourceNotFoundException"
    )


@BOTH_PROTOCOLS
async def test_dynamodb_put_and_get_item(tools: Tools, aws: Callable[..., Any]) -> None:
    dynamodb = aws("dynamodb")
    name = unique("items")
    make_table(dynamodb, name)
    await tools.write(
        f"dynamodb put-item --table-name {name} "
        """--item '{"pk": {"S": "user#1"}, "sk": {"N": "1"}, "name": {"S": "Ada Lovelace"}}'"""
    )
    stored = dynamodb.get_item(TableName=name, Key={"pk": {"S": "user#1"}, "sk": {"N": "1"}})
    assert stored["Item"]["name"] == {"S": "Ada Lovelace"}

    got = await tools.read(
        f"""dynamodb get-item --table-name {name} --key '{{"pk":{{"S":"user#1"}},"sk":{{"N":"1"}}}}'"""
    )
    assert json.loads(got)["Item"] == stored["Item"]


async def test_dynamodb_put_item_from_a_workdir_file(
    tools: Tools, aws: Callable[..., Any], workdir: Path
) -> None:
    dynamodb = aws("dynamodb")
    name = unique("fileitem")
    make_table(dynamodb, name)
    item = {"pk": {"S": "order#9"}, "sk": {"N": "3"}, "total": {"N": "12.5"}}
    (workdir / "item.json").write_text(json.dumps(item))
    await tools.write(f"dynamodb put-item --table-name {name} --item file://item.json")
    stored = dynamodb.get_item(TableName=name, Key={"pk": item["pk"], "sk": item["sk"]})
    assert stored["Item"] == item


async def test_dynamodb_query_and_scan(tools: Tools, aws: Callable[..., Any]) -> None:
    dynamodb = aws("dynamodb")
    name = unique("rows")
    make_table(dynamodb, name)
    for pk, sk in (("a", 1), ("a", 2), ("b", 1)):
        dynamodb.put_item(TableName=name, Item={"pk": {"S": pk}, "sk": {"N": str(sk)}})

    queried = await tools.read(
        f"dynamodb query --table-name {name} --key-condition-expression 'pk = :p AND sk > :s' "
        """--expression-attribute-values '{":p": {"S": "a"}, ":s": {"N": "1"}}'"""
    )
    assert json.loads(queried)["Items"] == [{"pk": {"S": "a"}, "sk": {"N": "2"}}]

    scanned = await tools.read(f"dynamodb scan --table-name {name}")
    assert json.loads(scanned)["Count"] == dynamodb.scan(TableName=name)["Count"] == 3
    table = await tools.read(f"dynamodb scan --table-name {name} --output table")
    assert table.splitlines()[1].strip("|").strip() == "Scan"
    assert "ScannedCount" in table


async def test_dynamodb_scan_pages_with_max_items_and_starting_token(
    tools: Tools, aws: Callable[..., Any]
) -> None:
    dynamodb = aws("dynamodb")
    name = unique("pages")
    make_table(dynamodb, name)
    for sk in range(3):
        dynamodb.put_item(TableName=name, Item={"pk": {"S": "p"}, "sk": {"N": str(sk)}})
    seen: list[str] = []
    command = f"dynamodb scan --table-name {name} --max-items 2"
    for _ in range(3):
        page = json.loads(await tools.read(command))
        seen += [item["sk"]["N"] for item in page["Items"]]
        if "NextToken" not in page:
            break
        command = (
            f"dynamodb scan --table-name {name} --max-items 2 --starting-token {page['NextToken']}"
        )
    assert sorted(seen) == ["0", "1", "2"]


# --- lambda -------------------------------------------------------------------------------------


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


async def test_lambda_function_lifecycle(
    tools: Tools, aws: Callable[..., Any], workdir: Path
) -> None:
    lam, iam = aws("lambda"), aws("iam")
    role = iam.create_role(
        RoleName=unique("fnrole"), AssumeRolePolicyDocument=json.dumps(TRUST_POLICY)
    )["Role"]["Arn"]
    code = zip_bytes()
    (workdir / "function.zip").write_bytes(code)
    name = unique("fn")
    await tools.write(
        f"lambda create-function --function-name {name} --runtime python3.12 "
        f"--handler index.handler --role {role} --zip-file fileb://function.zip"
    )
    config = lam.get_function_configuration(FunctionName=name)
    assert config["CodeSha256"] == base64.b64encode(hashlib.sha256(code).digest()).decode()
    assert (config["Runtime"], config["Handler"], config["Role"]) == (
        "python3.12",
        "index.handler",
        role,
    )

    listed = await tools.read("lambda list-functions --query Functions[].FunctionName")
    assert name in json.loads(listed)
    got = await tools.read(f"lambda get-function-configuration --function-name {name}")
    assert json.loads(got)["FunctionArn"] == config["FunctionArn"]

    await tools.write(f"lambda delete-function --function-name {name}")
    assert error_code(lambda: lam.get_function(FunctionName=name)) == "ResourceNotFoundException"


# --- logs ---------------------------------------------------------------------------------------


async def test_logs_group_stream_events(tools: Tools, aws: Callable[..., Any]) -> None:
    logs = aws("logs")
    group = "/app/" + unique("svc")
    await tools.write(f"logs create-log-group --log-group-name {group}")
    assert [
        g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    ] == [group]
    await tools.write(f"logs create-log-stream --log-group-name {group} --log-stream-name web-1")
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["web-1"]

    now = int(time.time() * 1000)
    await tools.write(
        f"logs put-log-events --log-group-name {group} --log-stream-name web-1 --log-events "
        f"timestamp={now},message='GET /health 200' timestamp={now + 1},message='GET /x 500'"
    )
    events = logs.get_log_events(logGroupName=group, logStreamName="web-1")["events"]
    assert [e["message"] for e in events] == ["GET /health 200", "GET /x 500"]

    described = await tools.read(f"logs describe-log-groups --log-group-name-prefix {group}")
    assert [g["logGroupName"] for g in json.loads(described)["logGroups"]] == [group]


async def test_logs_filter_log_events(tools: Tools, aws: Callable[..., Any]) -> None:
    logs = aws("logs")
    group = "/app/" + unique("filter")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[
            {"timestamp": now, "message": "ERROR disk full"},
            {"timestamp": now + 1, "message": "INFO all good"},
        ],
    )
    out = await tools.read(
        f"logs filter-log-events --log-group-name {group} --filter-pattern ERROR "
        "--query events[].message"
    )
    assert json.loads(out) == ["ERROR disk full"]


# --- cloudformation -----------------------------------------------------------------------------


def queue_template(queue: str) -> str:
    return (
        "AWSTemplateFormatVersion: '2010-09-09'\n"
        "Resources:\n"
        "  Queue:\n"
        "    Type: AWS::SQS::Queue\n"
        "    Properties:\n"
        f"      QueueName: {queue}\n"
        "Outputs:\n"
        "  QueueName:\n"
        "    Value: !GetAtt Queue.QueueName\n"
    )


async def test_cloudformation_create_describe_list_delete(
    tools: Tools, aws: Callable[..., Any], workdir: Path
) -> None:
    cfn, sqs = aws("cloudformation"), aws("sqs")
    stack, queue = unique("stack"), unique("stackq")
    (workdir / "template.yaml").write_text(queue_template(queue))
    made = await tools.write(
        f"cloudformation create-stack --stack-name {stack} --template-body file://template.yaml"
    )
    stack_id = json.loads(made)["StackId"]
    [found] = cfn.describe_stacks(StackName=stack)["Stacks"]
    assert (found["StackId"], found["StackStatus"]) == (stack_id, "CREATE_COMPLETE")
    assert sqs.get_queue_url(QueueName=queue)["QueueUrl"].endswith(f"/{queue}")

    described = await tools.read(f"cloudformation describe-stacks --stack-name {stack}")
    [stack_out] = json.loads(described)["Stacks"]
    assert stack_out["StackId"] == stack_id
    assert {o["OutputKey"]: o["OutputValue"] for o in stack_out["Outputs"]} == {"QueueName": queue}
    listed = await tools.read(
        "cloudformation list-stacks --stack-status-filter CREATE_COMPLETE "
        "--query StackSummaries[].StackName"
    )
    assert stack in json.loads(listed)

    await tools.write(f"cloudformation delete-stack --stack-name {stack}")
    [gone] = cfn.describe_stacks(StackName=stack_id)["Stacks"]
    assert gone["StackStatus"] == "DELETE_COMPLETE"
    assert error_code(lambda: sqs.get_queue_url(QueueName=queue)).endswith("NonExistentQueue")


async def test_cloudformation_deploy(tools: Tools, aws: Callable[..., Any], workdir: Path) -> None:
    cfn, sns = aws("cloudformation"), aws("sns")
    stack, topic = unique("deployed"), unique("deployt")
    (workdir / "deploy.yaml").write_text(
        "Parameters:\n"
        "  TopicName:\n"
        "    Type: String\n"
        "Resources:\n"
        "  Topic:\n"
        "    Type: AWS::SNS::Topic\n"
        "    Properties:\n"
        "      TopicName: !Ref TopicName\n"
    )
    out = await tools.write(
        f"cloudformation deploy --template-file deploy.yaml --stack-name {stack} "
        f"--parameter-overrides TopicName={topic}"
    )
    assert f"Successfully created/updated stack - {stack}" in out
    [found] = cfn.describe_stacks(StackName=stack)["Stacks"]
    assert found["StackStatus"] == "CREATE_COMPLETE"
    assert found["Parameters"] == [{"ParameterKey": "TopicName", "ParameterValue": topic}]
    topics = {t["TopicArn"] for t in sns.list_topics()["Topics"]}
    assert f"arn:aws:sns:{REGION}:{ACCOUNT}:{topic}" in topics


# --- secrets: reads that return them run, and say so ------------------------------------------


async def test_ssm_parameters(tools: Tools, aws: Callable[..., Any]) -> None:
    ssm = aws("ssm")
    name = "/app/" + unique("db") + "/password"
    await tools.write(f"ssm put-parameter --name {name} --value 'pa ss' --type SecureString")
    stored = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]
    assert (stored["Type"], stored["Value"]) == ("SecureString", "pa ss")

    out = await tools.read(f"ssm get-parameter --name {name} --with-decryption")
    assert json.loads(out.split("\n[sensitive:")[0])["Parameter"]["Value"] == "pa ss"
    assert "[sensitive:" in out
    listed = await tools.read(
        f"ssm get-parameters-by-path --path {name.rsplit('/', 1)[0]} --query Parameters[].Name"
    )
    assert json.loads(listed) == [name]


async def test_secretsmanager_secret(tools: Tools, aws: Callable[..., Any]) -> None:
    secrets = aws("secretsmanager")
    name = unique("secret")
    value = json.dumps({"user": "admin", "password": "hunter2"})
    await tools.write(f"secretsmanager create-secret --name {name} --secret-string '{value}'")
    assert secrets.get_secret_value(SecretId=name)["SecretString"] == value

    out = await tools.read(
        f"secretsmanager get-secret-value --secret-id {name} --query SecretString --output text"
    )
    assert out.splitlines()[0] == value
    assert "[sensitive:" in out


async def test_ecr_get_login_password(tools: Tools, aws: Callable[..., Any]) -> None:
    token = aws("ecr").get_authorization_token()["authorizationData"][0]["authorizationToken"]
    password = base64.b64decode(token).decode().split(":", 1)[1]
    out = await tools.read("ecr get-login-password")
    assert out.splitlines()[0] == password
    assert "[sensitive:" in out


# --- sts ----------------------------------------------------------------------------------------


@BOTH_PROTOCOLS
async def test_sts_get_caller_identity_default_and_alt_profile(
    tools: Tools, aws: Callable[..., Any], aws_env: AwsFiles
) -> None:
    expected = aws("sts").get_caller_identity()
    out = await tools.read("sts get-caller-identity")
    assert json.loads(out)["Arn"] == expected["Arn"]
    assert json.loads(out)["Account"] == expected["Account"]
    alt = await tools.read("sts get-caller-identity", profile="alt")
    assert json.loads(alt)["Arn"] == aws_env.alt_user_arn != expected["Arn"]
    text = await tools.read("sts get-caller-identity --query Arn --output text", profile="alt")
    assert text.strip() == aws_env.alt_user_arn
