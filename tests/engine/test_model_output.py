"""What a model reads: whole listings under the cap, notes that say where output was cut and how to
ask for less, help that fits, and errors that start with what happened.

The real server runs in-process under the official MCP client (both protocol generations where the
text could differ), against moto; the HTTP cases start the real server on loopback and speak raw
JSON-RPC, because there the wire is the point. Expectations are taken from the world where they
can be: the instance ids boto3 made, the sections of the full help page as the engine renders it,
the pages a note points at, which fetched again must exist.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from mcp import Client
from mcp_types import CallToolResult

from aws_mcp_server import narrowing
from aws_mcp_server.decision import decide
from aws_mcp_server.engine import Engine
from aws_mcp_server.model import RunPlan
from aws_mcp_server.server import build_server
from aws_mcp_server.settings import DEFAULT_OUTPUT_CAP, Settings
from tests.conftest import DEFAULT_KEY, AwsFiles, Moto
from tests.http_helpers import HttpServer, start_server
from tests.mcp_helpers import text_of

pytestmark = pytest.mark.anyio

READ = "execute_aws_read_command"
WRITE = "execute_aws_write_command"
PROTOCOLS = {"legacy": "2025-11-25", "auto": "2026-07-28"}
BOTH_PROTOCOLS = pytest.mark.parametrize("protocol", list(PROTOCOLS))
FLEET_REGION = "eu-west-3"
"""This module's 20 instances live here, away from the instances other modules make."""
FLEET_SIZE = 20
JSON = {"Content-Type": "application/json"}
STREAMABLE = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def client_of(moto: Moto, service: str, region: str = "us-east-1") -> Any:
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=moto.url,
        aws_access_key_id=DEFAULT_KEY[0],
        aws_secret_access_key=DEFAULT_KEY[1],
    )


@pytest.fixture(scope="module")
def fleet(moto_server: Moto) -> list[str]:
    """20 running instances in FLEET_REGION (one reservation), made with boto3."""
    ec2 = client_of(moto_server, "ec2", FLEET_REGION)
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    made = ec2.run_instances(
        ImageId=image, MinCount=FLEET_SIZE, MaxCount=FLEET_SIZE, InstanceType="t3.micro"
    )
    return sorted(instance["InstanceId"] for instance in made["Instances"])


@pytest.fixture(scope="module")
def bucket(moto_server: Moto) -> tuple[str, list[str]]:
    """A bucket with 60 objects, and their keys."""
    s3 = client_of(moto_server, "s3")
    name = unique("narrow")
    s3.create_bucket(Bucket=name)
    keys = [f"logs/2026/part-{index:04d}.json" for index in range(60)]
    for key in keys:
        s3.put_object(Bucket=name, Key=key, Body=b"{}")
    return name, keys


@pytest.fixture
def settings_for(aws_env: AwsFiles, moto_server: Moto, tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        return Settings(endpoint_url=moto_server.url, workdir=tmp_path / "workdir", **overrides)

    return make


@asynccontextmanager
async def connected(
    settings: Settings, protocol: str = "legacy", engine: Engine | None = None
) -> AsyncIterator[Client]:
    async with Client(build_server(settings, engine or Engine(settings)), mode=protocol) as client:
        assert client.session.protocol_version == PROTOCOLS[protocol]
        yield client


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> tuple[CallToolResult, str]:
    result = await client.call_tool(tool, arguments)
    return result, text_of(result)


def note_of(text: str, opening: str) -> str:
    at = text.rfind(opening)
    assert at >= 0, f"no {opening!r} note in:\n{text[-2000:]}"
    return text[at:]


def squeezed(text: str) -> str:
    return " ".join(text.split())


# --- 1. compact JSON: the 20-instance listing is whole ---------------------------------------------


@BOTH_PROTOCOLS
async def test_twenty_instances_come_back_whole_and_parse(
    settings_for: Callable[..., Settings], fleet: list[str], protocol: str
) -> None:
    settings = settings_for()
    async with connected(settings, protocol) as client:
        result, text = await call(
            client, READ, {"command": "ec2 describe-instances", "region": FLEET_REGION}
        )
    assert not result.is_error, text
    assert "output truncated" not in text
    assert len(text.encode()) < settings.output_cap
    listing = json.loads(text)
    ids = sorted(i["InstanceId"] for r in listing["Reservations"] for i in r["Instances"])
    assert ids == fleet


async def test_the_same_listing_with_the_clis_indentation_is_cut_and_the_note_says_where(
    settings_for: Callable[..., Settings], fleet: list[str]
) -> None:
    async with connected(settings_for(json_indent=4)) as client:
        result, text = await call(
            client, READ, {"command": "ec2 describe-instances", "region": FLEET_REGION}
        )
    assert not result.is_error
    note = note_of(text, "[output truncated:")
    shown, total = (int(n.replace(",", "")) for n in re.findall(r"[\d,]{4,}", note)[:2])
    assert shown <= DEFAULT_OUTPUT_CAP < total
    where = re.search(
        r"cut inside Reservations\[0\]\.Instances after (\d+) of its (\d+) items", note
    )
    assert where is not None, note
    complete, of = int(where.group(1)), int(where.group(2))
    assert of == len(fleet) and 0 < complete < of
    # The count is of the instances whose JSON is complete in what was shown.
    body = text[: text.rfind("[output truncated:")]
    assert body.count('"InstanceId"') in (complete, complete + 1)
    for option in ("--max-items", "--starting-token", "--instance-ids", "--filters"):
        assert option in note, note
    assert "--query 'Reservations[].Instances[].InstanceId'" in note
    assert "--prefix" not in note  # DescribeInstances has no prefix parameter


# --- 2. truncation notes name the options of the operation that ran -------------------------------


@pytest.mark.parametrize(
    ("command", "present", "absent"),
    [
        (
            "ec2 describe-regions",
            ["--region-names", "--filters", "--query 'Regions[].RegionName'"],
            ["--max-items", "--starting-token", "--prefix"],
        ),
        (
            "s3api list-objects-v2 --bucket {bucket}",
            ["--prefix", "--max-items", "--starting-token", "--query 'Contents[].Key'"],
            ["--filters", "--instance-ids"],
        ),
        (
            "ec2 describe-instances --region " + FLEET_REGION,
            ["--filters", "--instance-ids", "--max-items", "--starting-token"],
            ["--prefix"],
        ),
    ],
    ids=["no-paginator", "s3-prefix", "ec2-filters"],
)
async def test_a_cut_listing_names_the_options_its_operation_has(
    settings_for: Callable[..., Settings],
    fleet: list[str],
    bucket: tuple[str, list[str]],
    command: str,
    present: list[str],
    absent: list[str],
) -> None:
    async with connected(settings_for(output_cap=3000)) as client:
        result, text = await call(client, READ, {"command": command.format(bucket=bucket[0])})
    assert not result.is_error, text
    note = note_of(text, "[output truncated:")
    for option in present:
        assert option in note, (option, note)
    for option in absent:
        assert option not in note, (option, note)


@pytest.mark.parametrize("indent", [None, 4])
def test_json_cut_counts_the_items_complete_before_any_cut(indent: int | None) -> None:
    items = [{"Id": f"i-{n}", "Tags": [{"Key": "k", "Value": "v" * n}]} for n in range(6)]
    separators = (",", ":") if indent is None else None
    text = json.dumps({"Items": items, "NextToken": "t"}, indent=indent, separators=separators)
    # Where each item's JSON ends in the document, and where the list ends.
    ends, at = [], text.index("[")
    for item in items:
        piece = json.dumps(item, indent=indent, separators=separators)
        piece = piece.replace("\n", "\n" + " " * 8) if indent else piece
        at = text.index(piece, at) + len(piece)
        ends.append(at)
    list_end = text.index("]", ends[-1]) + 1
    assert narrowing.json_cut(text) is None  # a whole document is not cut
    for end in range(ends[0], list_end):
        cut = narrowing.json_cut(text[:end])
        complete = sum(1 for item_end in ends if item_end <= end)
        assert cut is not None and cut.path == ("Items",), (end, cut)
        assert cut.complete_items == complete
        assert cut.item_fields == ("Id", "Tags")
        assert cut.query_prefix == "Items[]"


async def test_following_the_note_pages_through_every_item(
    settings_for: Callable[..., Settings], bucket: tuple[str, list[str]]
) -> None:
    name, keys = bucket
    async with connected(settings_for(output_cap=3000)) as client:
        _, text = await call(client, READ, {"command": f"s3api list-objects-v2 --bucket {name}"})
        advice = re.search(r"--max-items (\d+) prints", note_of(text, "[output truncated:"))
        assert advice is not None, text
        page = int(advice.group(1))
        seen: list[str] = []
        token = ""
        for _ in range(len(keys)):
            command = f"s3api list-objects-v2 --bucket {name} --max-items {page}" + (
                f" --starting-token {token}" if token else ""
            )
            result, text = await call(client, READ, {"command": command})
            assert not result.is_error and "truncated" not in text, text
            listing = json.loads(text)  # each page fits, whole
            seen += [item["Key"] for item in listing["Contents"]]
            token = listing.get("NextToken", "")
            if not token:
                break
    assert seen == keys


async def test_a_customization_is_pointed_at_its_own_help_not_at_query(
    settings_for: Callable[..., Settings], bucket: tuple[str, list[str]]
) -> None:
    async with connected(settings_for(output_cap=1000)) as client:
        result, text = await call(client, READ, {"command": f"s3 ls s3://{bucket[0]} --recursive"})
    assert not result.is_error
    note = note_of(text, "[output truncated:")
    assert "`s3 ls help`" in note
    assert "--query" not in note and "JSON" not in note


# --- 2. help over the cap, and help that recommends nothing the server refuses ---------------------


def full_help(*words: str) -> str:
    """A help page as awscli renders it, whole (the engine with no practical cap)."""
    engine = Engine(Settings(output_cap=50 << 20))
    result = engine.run(RunPlan((*words, "help"), is_help=True))
    assert result.ok, result.stderr
    return result.text


def titles(text: str) -> list[str]:
    lines = text.splitlines()
    return [
        lines[i]
        for i in range(len(lines) - 1)
        if lines[i].strip()
        and re.fullmatch(r"=+", lines[i + 1])
        and len(lines[i + 1]) == len(lines[i])
    ]


@BOTH_PROTOCOLS
async def test_a_long_operation_page_says_which_sections_were_left_out(
    settings_for: Callable[..., Settings], protocol: str
) -> None:
    page = full_help("ec2", "run-instances")
    assert len(page.encode()) > DEFAULT_OUTPUT_CAP  # the page this test is about
    async with connected(settings_for(), protocol) as client:
        result, text = await call(client, READ, {"command": "ec2 run-instances help"})
    assert not result.is_error
    note = note_of(text, "[help truncated:")
    shown = text[: text.rfind("[help truncated:")]
    left_out = [title for title in titles(page) if title not in titles(shown)]
    assert left_out, "the cut left no section out"
    assert ", ".join(left_out) in note
    assert f"of {len(page.encode()):,} bytes" in note
    assert f'cut in the "{titles(shown)[-1]}" section' in note
    # Advice for JSON does not fit help.
    assert "--query" not in note and "--max-items" not in note


async def test_a_page_cut_in_its_options_names_the_options_not_shown(
    settings_for: Callable[..., Settings],
) -> None:
    settings = settings_for(output_cap=30_000)
    accepted = decide("ec2 run-instances help", settings).resolved
    assert accepted is not None
    async with connected(settings) as client:
        _, text = await call(client, READ, {"command": "ec2 run-instances help"})
    note = note_of(text, "[help truncated:")
    shown = text[: text.rfind("[help truncated:")]
    assert 'cut in the "Options" section' in note
    named = re.search(r"Not shown: (\d+) more options \(([^)]*)\)", note)
    assert named is not None, note
    listed = [name.removeprefix("--") for name in named.group(2).split(", ")]
    assert len(listed) == int(named.group(1))
    for option in listed:
        assert option in accepted.options  # a real option of the command
        assert not re.search(rf"^--{option}\b", shown, re.MULTILINE)  # and not on the page shown
    page = full_help("ec2", "run-instances")
    options_section = page[page.index("\nOptions\n") : page.index("\nGlobal Options\n")]
    documented = set(re.findall(r"^--([a-z0-9-]+)", options_section, re.MULTILINE))
    shown_entries = set(re.findall(r"^--([a-z0-9-]+)", shown, re.MULTILINE))
    # Together, shown and named, they are every option the whole page documents.
    assert shown_entries | set(listed) == documented


async def test_a_cut_listing_page_points_at_one_commands_page_which_exists(
    settings_for: Callable[..., Settings],
) -> None:
    async with connected(settings_for(output_cap=3000)) as client:
        _, text = await call(client, READ, {"command": "ec2 help"})
        note = note_of(text, "[help truncated:")
        assert '"Available Commands"' in note
        pointed = re.search(r"`(ec2 [a-z0-9-]+ help)`", note)
        assert pointed is not None, note
        result, page = await call(client, READ, {"command": pointed.group(1)})
    assert not result.is_error, page
    assert page.splitlines()[0] == pointed.group(1).split()[1]  # that command's own page


@pytest.mark.parametrize(
    ("page", "mention", "kept"),
    [
        ((), "aws help topics", "Use aws command help for information on a specific command."),
        (("sdb",), "aws configure set preview.sdb true", "only available in a preview stage."),
        (("organizations",), "aws configure set default.region", "--region us-east-1"),
    ],
    ids=["help", "sdb", "organizations"],
)
async def test_help_does_not_recommend_a_command_the_server_refuses(
    settings_for: Callable[..., Settings], page: tuple[str, ...], mention: str, kept: str
) -> None:
    settings = settings_for()
    raw = squeezed(full_help(*page))
    assert mention in raw  # awscli's own page recommends it
    refused = decide(mention.removeprefix("aws "), settings, validate=False).is_reject
    async with connected(settings) as client:
        result, text = await call(client, READ, {"command": " ".join((*page, "help"))})
    assert not result.is_error
    shown = squeezed(text)
    assert (mention not in shown) is refused, f"{mention!r}, refused={refused}"
    assert kept in shown  # the rest of the page is still there
    assert len(shown) > 0.9 * len(raw)


# --- 3. errors that start with what happened --------------------------------------------------------


@BOTH_PROTOCOLS
@pytest.mark.parametrize(
    ("tool", "arguments", "opening", "correct_call"),
    [
        (READ, {"cmd": "s3 ls"}, f'{READ} needs "command", a string', '{"command": "s3 ls"}'),
        (READ, {}, f'{READ} needs "command", a string', '{"command": "s3 ls"}'),
        (READ, {"command": 5}, '"command" must be a string, not 5', '{"command": "s3 ls"}'),
        (
            WRITE,
            {"command": "s3 ls", "regoin": "eu-west-1"},
            f'"regoin" is not an argument of {WRITE} (did you mean "region"?)',
            '{"command": "s3 ls", "region": "eu-west-1"}',
        ),
        ("list_aws_profiles", {"verbose": True}, '"verbose" is not an argument', "{}"),
    ],
    ids=["mistyped-command", "no-command", "not-a-string", "mistyped-region", "no-such-argument"],
)
async def test_bad_tool_arguments_say_what_was_wrong_and_what_a_correct_call_looks_like(
    settings_for: Callable[..., Settings],
    protocol: str,
    tool: str,
    arguments: dict[str, Any],
    opening: str,
    correct_call: str,
) -> None:
    async with connected(settings_for(), protocol) as client:
        result, text = await call(client, tool, arguments)
    assert result.is_error
    assert text.startswith(f"Refused (input:arguments): {opening}"), text
    assert f"Call it with arguments {correct_call}" in text
    assert len(text.strip().splitlines()) == 2
    for noise in ("validation error", "pydantic", "https://", "Error executing tool"):
        assert noise not in text


@BOTH_PROTOCOLS
@pytest.mark.parametrize(
    ("tool", "command", "opening"),
    [
        (READ, "s3 lss", "Refused (validation:unknown-operation): unknown sub-command 'lss'"),
        (WRITE, "configure list", "Refused (blocked:configure)"),
        (READ, "s3 mb s3://never-made", "Refused: this command is classified write"),
    ],
)
async def test_refusals_start_with_the_rule_not_with_the_sdks_prefix(
    settings_for: Callable[..., Settings], protocol: str, tool: str, command: str, opening: str
) -> None:
    async with connected(settings_for(), protocol) as client:
        result, text = await call(client, tool, {"command": command})
    assert result.is_error
    assert text.startswith(opening), text


async def test_an_unknown_tool_names_the_tools_there_are(
    settings_for: Callable[..., Settings],
) -> None:
    async with connected(settings_for()) as client:
        result, text = await call(client, "execute_aws_read_comand", {"command": "s3 ls"})
    assert result.is_error
    assert text.startswith(
        'Unknown tool "execute_aws_read_comand". Did you mean "execute_aws_read_command"?'
    )
    assert all(name in text for name in (READ, WRITE, "list_aws_profiles"))


async def test_a_timeout_says_so_first_and_that_nothing_was_printed(
    settings_for: Callable[..., Settings],
) -> None:
    async with connected(settings_for(timeout=2)) as client:
        result, text = await call(
            client, READ, {"command": f"dynamodb wait table-exists --table-name {unique('none')}"}
        )
    assert result.is_error
    first = text.splitlines()[0]
    assert first.startswith("The call timed out after 2 s (the server's --timeout)"), text
    assert "before it printed anything" in first


async def test_a_timeout_puts_its_note_before_the_partial_output(
    settings_for: Callable[..., Settings], moto_server: Moto
) -> None:
    s3 = client_of(moto_server, "s3")
    name = unique("slow")
    s3.create_bucket(Bucket=name)
    keys = [f"k/{index:04d}" for index in range(500)]
    for key in keys:
        s3.put_object(Bucket=name, Key=key, Body=b"")
    async with connected(settings_for(timeout=1)) as client:
        # One object per request: 500 requests do not fit in a second.
        result, text = await call(
            client, READ, {"command": f"s3 ls s3://{name} --recursive --page-size 1"}
        )
    assert result.is_error
    first, _, rest = text.partition("\n")
    assert first.startswith("The call timed out after 1 s"), text
    assert "the output below is partial" in first
    listed = [line.split()[-1] for line in rest.splitlines() if line.strip().endswith(tuple(keys))]
    assert 0 < len(listed) < len(keys)
    assert listed == keys[: len(listed)]


@BOTH_PROTOCOLS
async def test_a_dry_run_that_would_succeed_is_a_success_with_the_clis_message(
    settings_for: Callable[..., Settings], moto_server: Moto, fleet: list[str], protocol: str
) -> None:
    ec2 = client_of(moto_server, "ec2", FLEET_REGION)
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]

    def count() -> int:
        return sum(len(r["Instances"]) for r in ec2.describe_instances()["Reservations"])

    before = count()
    async with connected(settings_for(), protocol) as client:
        result, text = await call(
            client,
            WRITE,
            {
                "command": f"ec2 run-instances --image-id {image} --instance-type t3.micro --dry-run",
                "region": FLEET_REGION,
            },
        )
        failed, failure = await call(
            client,
            WRITE,
            {
                "command": "ec2 stop-instances --instance-ids i-0123456789abcdef0",
                "region": FLEET_REGION,
            },
        )
    assert not result.is_error, text
    assert text.startswith("An error occurred (DryRunOperation) when calling the RunInstances")
    assert "Request would have succeeded, but DryRun flag is set." in text
    assert "[dry run passed: the request would have succeeded and nothing was changed." in text
    assert count() == before
    # A real failure is still one.
    assert failed.is_error and "InvalidInstanceID" in failure


async def test_a_busy_engine_says_nothing_ran_instead_of_an_internal_error(
    settings_for: Callable[..., Settings], moto_server: Moto
) -> None:
    settings = settings_for(max_concurrency=1, timeout=1)
    engine = Engine(settings)
    waiter = decide(f"dynamodb wait table-exists --table-name {unique('none')}", settings)
    assert waiter.plan is not None
    running = engine.start(waiter.plan, timeout=60)
    try:
        async with connected(settings, engine=engine) as client:
            result, text = await call(client, READ, {"command": "s3api list-buckets"})
    finally:
        running.ctx.token.cancel()
        assert running.done.wait(5)
    assert result.is_error
    assert text.startswith("Not run: 1 AWS commands are already running"), text
    assert "--max-concurrency" in text


# --- 3. errors on the wire (HTTP) ------------------------------------------------------------------


@pytest.fixture(scope="module")
def http_server(
    aws_files: AwsFiles, moto_server: Moto, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HttpServer]:
    running = start_server(aws_files, moto_server, tmp_path_factory.mktemp("model-output-http"))
    yield running
    running.stop()


LIST_TOOLS = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}


@pytest.mark.parametrize("path", ["/", "/mcp"])
def test_a_batch_is_refused_in_one_sentence_with_the_way_to_send_it(
    http_server: HttpServer, path: str
) -> None:
    batch = [LIST_TOOLS, {**LIST_TOOLS, "id": 2}]
    response = httpx.post(f"{http_server.base}{path}", json=batch, headers=STREAMABLE, timeout=10)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == -32600  # Invalid Request: JSON, but not a request object
    assert error["message"].startswith("JSON-RPC batches (an array of messages) are not supported")
    assert "its own POST" in error["message"] and '"method": "tools/list"' in error["message"]
    assert "pydantic" not in error["message"] and "Validation error" not in error["message"]


def test_a_message_without_jsonrpc_gets_it_shown_and_its_id_back(http_server: HttpServer) -> None:
    message = {"id": 7, "method": "tools/list"}
    response = httpx.post(f"{http_server.base}/", json=message, headers=JSON, timeout=10)
    assert response.status_code == 400
    body = response.json()
    assert body["id"] == 7
    text = body["error"]["message"]
    assert text.startswith('The message has no "jsonrpc" member')
    corrected = json.loads(text[text.index("e.g. ") + 5 : -1])
    assert corrected == {"jsonrpc": "2.0", **message}
    # ... and the corrected message works.
    again = httpx.post(f"{http_server.base}/", json=corrected, headers=JSON, timeout=10)
    assert {tool["name"] for tool in again.json()["result"]["tools"]} >= {READ, WRITE}


def test_arguments_sent_as_a_json_string_are_explained(http_server: HttpServer) -> None:
    message = {
        "jsonrpc": "2.0",
        "id": 3,
        "method": "tools/call",
        "params": {"name": READ, "arguments": json.dumps({"command": "s3 ls"})},
    }
    body = httpx.post(f"{http_server.base}/", json=message, headers=JSON, timeout=30).json()
    assert body["error"]["code"] == -32602
    text = body["error"]["message"]
    assert text.startswith("tools/call params.arguments must be an object")
    assert "send the object itself, not a JSON string of it" in text


def test_a_mistyped_argument_reads_the_same_on_the_wire(http_server: HttpServer) -> None:
    message = {
        "jsonrpc": "2.0",
        "id": 4,
        "method": "tools/call",
        "params": {"name": READ, "arguments": {"cmd": "s3 ls"}},
    }
    body = httpx.post(f"{http_server.base}/", json=message, headers=JSON, timeout=30).json()
    assert body["result"]["isError"] is True
    assert body["result"]["content"][0]["text"].startswith(
        f'Refused (input:arguments): {READ} needs "command", a string'
    )


def test_mcp_without_a_session_says_how_to_get_one(http_server: HttpServer) -> None:
    response = httpx.post(f"{http_server.mcp}", json=LIST_TOOLS, headers=STREAMABLE, timeout=10)
    assert response.status_code == 400
    text = response.json()["error"]["message"]
    assert text.startswith("Bad Request: Missing session ID: send initialize first")
    assert "POST one-off requests to /" in text


# --- 4. tool descriptions ---------------------------------------------------------------------------


async def test_tools_list_shows_how_to_page_and_narrow_and_stays_small(
    settings_for: Callable[..., Settings],
) -> None:
    settings = settings_for()
    async with connected(settings) as client:
        listed = await client.list_tools()
    wire = json.dumps(
        listed.model_dump(by_alias=True, mode="json", exclude_none=True), separators=(",", ":")
    )
    assert len(wire.encode()) < 2900  # 3,458 before the descriptions and schemas were trimmed
    read = next(tool for tool in listed.tools if tool.name == READ)
    assert read.description is not None
    for advice in (
        "--query",
        "--max-items",
        "--starting-token",
        "--filters",
        f"{settings.output_cap:,} bytes",
    ):
        assert advice in read.description
    # Optional arguments stay optional and typed; pydantic's titles are gone.
    assert read.input_schema["required"] == ["command"]
    assert read.input_schema["properties"]["region"]["type"] == "string"
    assert "title" not in json.dumps(read.input_schema)
