"""`--confirm-writes` end to end: a write runs only after the user said yes, on every transport.

Both protocol generations: up to 2025-11-25 the server asks with `elicitation/create` in the
middle of the call; on 2026-07-28 the call returns an InputRequiredResult and the client retries
with the answer and the sealed request state. A client that cannot be asked is refused, never
run. moto's state, read with boto3, says whether a write happened, and how often.

In-process `Client(server)` where the wire is not the point; real server processes (stdio, HTTP
/mcp with and without sessions, `POST /`, legacy SSE, two stateless replicas) where it is.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.shared.exceptions import MCPError

from aws_mcp_server.decision import decide
from aws_mcp_server.errors import ConfigError
from aws_mcp_server.server import build_server
from aws_mcp_server.settings import Settings, load
from tests.conftest import AwsFiles, Moto
from tests.http_helpers import HttpServer, start_server
from tests.mcp_helpers import stdio_params, text_of

pytestmark = pytest.mark.anyio

WRITE = "execute_aws_write_command"
READ = "execute_aws_read_command"
MODERN = "2026-07-28"
MODES = ["legacy", "auto"]  # 2025-11-25 (initialize) and 2026-07-28 (the client's default)
ACCEPT = types.ElicitResult(action="accept", content={"confirm": True})
NO_CONFIRM = types.ElicitResult(action="accept", content={"confirm": False})
EMPTY_ACCEPT = types.ElicitResult(action="accept")
DECLINE = types.ElicitResult(action="decline")
CANCEL = types.ElicitResult(action="cancel")
KEY_A = secrets.token_hex(32)
KEY_B = secrets.token_hex(32)
TABLE = "consent-counters"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# --- moto's state, through boto3 -----------------------------------------------------------------


def _boto(service: str, moto: Moto) -> Any:
    return boto3.client(
        service, endpoint_url=moto.url, region_name="us-east-1",
        aws_access_key_id="AKIAEXAMPLECHECKER01", aws_secret_access_key="checker",
    )


@pytest.fixture(scope="module")
def s3(moto_server: Moto) -> Any:
    return _boto("s3", moto_server)


@pytest.fixture(scope="module")
def dynamodb(moto_server: Moto) -> Any:
    client = _boto("dynamodb", moto_server)
    if TABLE not in client.list_tables()["TableNames"]:
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    return client


def buckets(s3: Any) -> set[str]:
    return {bucket["Name"] for bucket in s3.list_buckets()["Buckets"]}


def bump(key: str) -> str:
    """A write that is not idempotent: each run adds 1 to the counter `key`."""
    return (
        f"dynamodb update-item --table-name {TABLE} --key '{{\"id\":{{\"S\":\"{key}\"}}}}' "
        "--update-expression 'ADD n :one' "
        "--expression-attribute-values '{\":one\":{\"N\":\"1\"}}'"
    )


NOT_A_TYPE = bump("never").replace('"S"', '"Q"')
"""A key of a type DynamoDB does not have: the parser takes it, botocore's validation does not."""


def runs(dynamodb: Any, key: str) -> int:
    """How many times `bump(key)` ran."""
    item = dynamodb.get_item(TableName=TABLE, Key={"id": {"S": key}}).get("Item")
    return int(item["n"]["N"]) if item else 0


# --- clients -------------------------------------------------------------------------------------


class Answers:
    """An elicitation callback that answers from a list and remembers every question."""

    def __init__(self, *answers: types.ElicitResult) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []

    async def __call__(self, context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        self.asked.append(getattr(params, "message", ""))
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


@pytest.fixture
def audit(tmp_path: Path) -> Path:
    return tmp_path / "audit.jsonl"


@pytest.fixture
def settings(aws_env: AwsFiles, moto_server: Moto, tmp_path: Path, audit: Path) -> Settings:
    workdir = tmp_path / "workdir"
    workdir.mkdir()
    return Settings(
        endpoint_url=moto_server.url, workdir=workdir, confirm_writes=True, audit_log=audit
    )


def records(audit: Path) -> list[dict[str, Any]]:
    if not audit.exists():
        return []
    return [json.loads(line) for line in audit.read_text().splitlines()]


# --- in process: what is asked, and what runs ----------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_nothing_runs_while_the_audit_log_cannot_be_written(
    settings: Settings, s3: Any, audit: Path, mode: str
) -> None:
    bucket = unique("unaudited")
    audit.mkdir()  # a directory where the log should be: unwritable, for root too
    answers = Answers(ACCEPT)
    async with Client(build_server(settings), mode=mode, elicitation_callback=answers) as client:
        refused = await client.call_tool(WRITE, {"command": f"s3 mb s3://{bucket}"})
        assert refused.is_error
        assert text_of(refused).startswith("Refused (audit:unwritable): the audit log")
        assert bucket not in buckets(s3) and answers.asked == []
        audit.rmdir()  # writable again: the next call runs, and has its line
        ran = await client.call_tool(WRITE, {"command": f"s3 mb s3://{bucket}"})
    assert not ran.is_error, text_of(ran)
    assert bucket in buckets(s3)
    # 2026-07-28 asks in a round trip of its own, which has its line too.
    expected = ["ran"] if mode == "legacy" else ["asked", "ran"]
    assert [r["outcome"] for r in records(audit)] == expected


@pytest.mark.parametrize("mode", MODES)
async def test_an_accepted_write_runs_once_after_the_user_saw_exactly_it(
    settings: Settings, s3: Any, mode: str
) -> None:
    bucket = unique("yes")
    answers = Answers(ACCEPT)
    async with Client(build_server(settings), mode=mode, elicitation_callback=answers) as client:
        result = await client.call_tool(WRITE, {"command": f"s3 mb s3://{bucket}", "profile": "alt"})
    assert not result.is_error, text_of(result)
    assert bucket in buckets(s3)
    assert len(answers.asked) == 1
    question = answers.asked[0]
    assert f"aws s3 mb s3://{bucket}" in question
    assert "profile: alt" in question and "region: eu-west-1" in question
    assert "why you are asked: it changes AWS resources" in question and "creates a bucket" in question


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (DECLINE, "The user declined; nothing was run."),
        (CANCEL, "The user cancelled; nothing was run."),
        (NO_CONFIRM, "The user declined (confirm: false); nothing was run."),
        (EMPTY_ACCEPT, "Nothing was run: the client accepted the confirmation but sent no usable"),
    ],
    ids=["decline", "cancel", "confirm-false", "empty-accept"],
)
async def test_anything_but_yes_runs_nothing_and_says_so(
    settings: Settings, s3: Any, mode: str, answer: types.ElicitResult, expected: str
) -> None:
    bucket = unique("no")
    answers = Answers(answer)
    async with Client(build_server(settings), mode=mode, elicitation_callback=answers) as client:
        result = await client.call_tool(WRITE, {"command": f"s3 mb s3://{bucket}"})
    assert result.is_error
    assert expected in text_of(result), text_of(result)
    assert "Error executing tool execute_aws_write_command" not in text_of(result).replace(
        "Error executing tool execute_aws_write_command: ", ""
    )
    assert len(answers.asked) == 1
    assert bucket not in buckets(s3)


async def test_a_legacy_client_without_elicitation_gets_a_tool_error_that_says_what_to_do(
    settings: Settings, s3: Any
) -> None:
    bucket = unique("nocap")
    async with Client(build_server(settings), mode="legacy") as client:
        result = await client.call_tool(WRITE, {"command": f"s3 mb s3://{bucket}"})
    text = text_of(result)
    assert result.is_error
    assert "--confirm-writes" in text and "did not declare the elicitation capability" in text
    assert "Nothing was run" in text and "use a client that supports elicitation" in text
    assert bucket not in buckets(s3)


async def test_a_modern_client_without_elicitation_gets_missing_capability(
    settings: Settings, s3: Any
) -> None:
    bucket = unique("nocap")
    async with Client(build_server(settings)) as client:
        assert client.protocol_version == MODERN
        with pytest.raises(MCPError) as caught:
            await client.call_tool(WRITE, {"command": f"s3 mb s3://{bucket}"})
    assert caught.value.error.code == types.MISSING_REQUIRED_CLIENT_CAPABILITY
    assert caught.value.error.data == {"requiredCapabilities": {"elicitation": {"form": {}}}}
    assert "--confirm-writes" in caught.value.error.message
    assert bucket not in buckets(s3)


@pytest.mark.parametrize(
    ("tool_region", "expected"), [(None, "eu-central-1"), ("ap-south-1", "ap-south-1")]
)
async def test_the_question_names_the_region_the_command_runs_in(
    settings: Settings, s3: Any, tool_region: str | None, expected: str
) -> None:
    bucket = unique("where")
    answers = Answers(ACCEPT)
    arguments = {"command": f"s3 mb s3://{bucket} --region eu-central-1", "profile": "alt"}
    if tool_region:
        arguments["region"] = tool_region
    async with Client(build_server(settings), elicitation_callback=answers) as client:
        made = await client.call_tool(WRITE, arguments)
    assert not made.is_error, text_of(made)
    assert f"profile: alt    region: {expected}" in answers.asked[0]
    assert s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] == expected


async def test_line_breaks_in_the_command_cannot_draw_lines_of_their_own_in_the_question(
    settings: Settings, s3: Any
) -> None:
    bucket = unique("spoof")
    s3.create_bucket(Bucket=bucket)
    answers = Answers(DECLINE)
    # A newline is refused outside quotes; inside them it is data, shown escaped to the user.
    command = f"s3api put-object --bucket {bucket} --key 'k\nprofile: prod'"
    async with Client(build_server(settings), elicitation_callback=answers) as client:
        await client.call_tool(WRITE, {"command": command, "profile": "alt"})
    (question,) = answers.asked
    assert "--key 'k\\u000aprofile: prod'" in question
    assert [line for line in question.splitlines() if line.startswith("profile:")] == [
        "profile: alt    region: eu-west-1"
    ]
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


@pytest.mark.parametrize("mode", MODES)
async def test_reads_are_not_asked_and_writes_are_not_asked_without_the_flag(
    settings: Settings, s3: Any, mode: str
) -> None:
    answers = Answers(DECLINE)
    async with Client(build_server(settings), mode=mode, elicitation_callback=answers) as client:
        read = await client.call_tool(WRITE, {"command": "s3api list-buckets"})
    assert not read.is_error, text_of(read)
    bucket = unique("noflag")
    plain = settings.replace(confirm_writes=False)
    async with Client(build_server(plain), mode=mode, elicitation_callback=answers) as client:
        made = await client.call_tool(WRITE, {"command": f"s3 mb s3://{bucket}"})
    assert not made.is_error, text_of(made)
    assert bucket in buckets(s3)
    assert answers.asked == []


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        # Valid for the parser, refused only by botocore's validation (see the test body).
        ({"command": NOT_A_TYPE}, "Refused (validation:parameters)"),
        ({"command": "s3api put-object --bucket b"}, "--key"),
        ({"command": "configure set region eu-west-1"}, "Refused"),
        ({"command": "s3 mb s3://never-asked", "profile": "nope"}, "unknown profile 'nope'"),
        ({"command": "s3 mb s3://never-asked", "profile": "alt\n"}, "control characters"),
        ({"command": "s3 mb s3://never-asked " + "x" * 10_001}, "the limit is 10000"),
    ],
    ids=["botocore-validation", "parser", "blocked", "unknown-profile", "control-chars", "length"],
)
async def test_a_command_that_cannot_run_is_refused_without_asking(
    settings: Settings, mode: str, arguments: dict[str, str], expected: str
) -> None:
    answers = Answers(ACCEPT)
    async with Client(build_server(settings), mode=mode, elicitation_callback=answers) as client:
        result = await client.call_tool(WRITE, arguments)
    assert result.is_error
    assert expected in text_of(result), text_of(result)
    assert answers.asked == []
    if arguments["command"] == NOT_A_TYPE:
        # Without the validation step it would have been a write, and asked about.
        assert decide(NOT_A_TYPE, settings, validate=False).verdict == "write"


@pytest.mark.parametrize("mode", MODES)
async def test_a_sensitive_read_under_approve_is_asked_on_the_write_tool(
    settings: Settings, moto_server: Moto, mode: str
) -> None:
    name = unique("secret")
    _boto("secretsmanager", moto_server).create_secret(Name=name, SecretString="s3cr3t-value")
    approve = settings.replace(sensitive_reads="approve")
    answers = Answers(DECLINE, ACCEPT)
    command = {"command": f"secretsmanager get-secret-value --secret-id {name}"}
    async with Client(build_server(approve), mode=mode, elicitation_callback=answers) as client:
        refused = await client.call_tool(READ, command)
        declined = await client.call_tool(WRITE, command)
        accepted = await client.call_tool(WRITE, command)
    assert refused.is_error and "--sensitive-reads approve" in text_of(refused)
    assert declined.is_error and "s3cr3t-value" not in text_of(declined)
    assert not accepted.is_error and "s3cr3t-value" in text_of(accepted)
    assert len(answers.asked) == 2
    assert "why you are asked: it returns secrets" in answers.asked[0]


# --- 2026-07-28 rounds, driven by hand -----------------------------------------------------------


async def ask(client: Client, arguments: dict[str, Any]) -> types.InputRequiredResult:
    first = await client.session.call_tool(WRITE, arguments, allow_input_required=True)
    assert isinstance(first, types.InputRequiredResult), first
    assert first.input_requests and first.request_state
    return first


def yes_to(asked: types.InputRequiredResult, answer: types.ElicitResult = ACCEPT) -> Any:
    assert asked.input_requests is not None
    return {key: answer for key in asked.input_requests}


def question_of(asked: types.InputRequiredResult) -> str:
    assert asked.input_requests is not None
    (request,) = asked.input_requests.values()
    assert isinstance(request, types.ElicitRequest)
    return str(request.params.message)


async def test_the_question_renders_identically_on_every_round(
    settings: Settings, dynamodb: Any
) -> None:
    key = unique("same")
    arguments = {"command": bump(key), "profile": "default", "region": "us-east-1"}
    server = build_server(settings)
    async with Client(server, elicitation_callback=Answers(ACCEPT)) as client:
        first = await ask(client, arguments)
        again = await ask(client, arguments)
    assert question_of(first) == question_of(again)
    assert first.request_state != again.request_state  # each round seals anew
    assert bump(key) in question_of(first)
    assert "profile: default    region: us-east-1" in question_of(first)
    assert runs(dynamodb, key) == 0


async def test_a_replayed_answer_is_refused_and_the_write_ran_once(
    settings: Settings, dynamodb: Any, audit: Path
) -> None:
    key = unique("replay")
    arguments = {"command": bump(key)}
    async with Client(build_server(settings), elicitation_callback=Answers(ACCEPT)) as client:
        asked = await ask(client, arguments)
        ran = await client.session.call_tool(
            WRITE, arguments, input_responses=yes_to(asked), request_state=asked.request_state
        )
        replayed = await client.session.call_tool(
            WRITE, arguments, input_responses=yes_to(asked), request_state=asked.request_state
        )
    assert not ran.is_error, text_of(ran)
    assert replayed.is_error and "already answered" in text_of(replayed)
    assert runs(dynamodb, key) == 1
    assert [r["outcome"] for r in records(audit)] == ["asked", "ran", "replayed"]


async def test_a_declined_state_cannot_be_answered_again(
    settings: Settings, dynamodb: Any
) -> None:
    key = unique("flip")
    arguments = {"command": bump(key)}
    async with Client(build_server(settings), elicitation_callback=Answers(ACCEPT)) as client:
        asked = await ask(client, arguments)
        declined = await client.session.call_tool(
            WRITE, arguments, input_responses=yes_to(asked, DECLINE),
            request_state=asked.request_state,
        )
        flipped = await client.session.call_tool(
            WRITE, arguments, input_responses=yes_to(asked), request_state=asked.request_state
        )
    assert "declined" in text_of(declined)
    assert flipped.is_error and "already answered" in text_of(flipped)
    assert runs(dynamodb, key) == 0


async def test_an_answer_the_user_was_never_asked_for_runs_nothing(
    settings: Settings, dynamodb: Any
) -> None:
    key = unique("forged")
    arguments = {"command": bump(key)}
    async with Client(build_server(settings), elicitation_callback=Answers(ACCEPT)) as client:
        asked = await ask(client, arguments)
        # A "yes" sent up front, without the state of a round that asked: asked again instead.
        forged = await client.session.call_tool(
            WRITE, arguments, input_responses=yes_to(asked), allow_input_required=True
        )
    assert isinstance(forged, types.InputRequiredResult)
    assert runs(dynamodb, key) == 0


def _tamper(state: str) -> str:
    middle = len(state) // 2
    return state[:middle] + ("A" if state[middle] != "A" else "B") + state[middle + 1 :]


@pytest.mark.parametrize("how", ["tampered", "other-arguments", "other-server-key"])
async def test_a_state_that_is_not_this_calls_own_is_refused(
    settings: Settings, dynamodb: Any, audit: Path, how: str
) -> None:
    key = unique(how)
    arguments = {"command": bump(key)}
    shared = settings.replace(request_state_keys=(KEY_A,))
    async with Client(build_server(shared), elicitation_callback=Answers(ACCEPT)) as client:
        asked = await ask(client, arguments)
    # Each case changes one thing against a replica that would otherwise accept the answer.
    state, sent, key_used = str(asked.request_state), dict(arguments), KEY_A
    if how == "tampered":
        state = _tamper(state)
    elif how == "other-arguments":
        sent = {"command": bump(key + "-other")}
    else:
        key_used = KEY_B
    server = build_server(settings.replace(request_state_keys=(key_used,)))
    async with Client(server, elicitation_callback=Answers(ACCEPT)) as client:
        with pytest.raises(MCPError) as caught:
            await client.session.call_tool(
                WRITE, sent, input_responses=yes_to(asked), request_state=state
            )
    assert caught.value.error.code == types.INVALID_PARAMS
    assert runs(dynamodb, key) == 0 and runs(dynamodb, key + "-other") == 0
    assert records(audit)[-1]["outcome"] == "refused"
    assert records(audit)[-1]["refused"] == "request-state"


async def test_replicas_sharing_a_key_accept_each_others_state(
    settings: Settings, dynamodb: Any
) -> None:
    key = unique("shared")
    arguments = {"command": bump(key)}
    shared = settings.replace(request_state_keys=(KEY_A,))
    async with Client(build_server(shared), elicitation_callback=Answers(ACCEPT)) as client:
        asked = await ask(client, arguments)
    async with Client(build_server(shared), elicitation_callback=Answers(ACCEPT)) as client:
        ran = await client.session.call_tool(
            WRITE, arguments, input_responses=yes_to(asked), request_state=asked.request_state
        )
    assert not ran.is_error, text_of(ran)
    assert runs(dynamodb, key) == 1


# --- the audit trail: one line per call, whatever its fate ---------------------------------------


async def test_every_call_writes_one_audit_line_before_its_result_returns(
    settings: Settings, aws_env: AwsFiles, audit: Path
) -> None:
    bucket = unique("audit")
    approve = settings.replace(sensitive_reads="approve")
    calls: list[tuple[str, dict[str, Any], types.ElicitResult | None]] = [
        (WRITE, {"command": "s3 ls " + "x" * 10_001}, None),
        (READ, {"command": "s3 ls", "profile": "alt\x07"}, None),
        (READ, {"command": "s3 ls", "profile": "nope"}, None),
        (READ, {"command": "s3 ls | grep x"}, None),
        (READ, {"command": f"s3 mb s3://{bucket}"}, None),
        (READ, {"command": "secretsmanager get-secret-value --secret-id x"}, None),
        (WRITE, {"command": f"s3 mb s3://{bucket}"}, DECLINE),
        (WRITE, {"command": f"s3 mb s3://{bucket}"}, CANCEL),
        (WRITE, {"command": f"s3 mb s3://{bucket}"}, EMPTY_ACCEPT),
        (WRITE, {"command": f"s3 mb s3://{bucket}"}, ACCEPT),
        (WRITE, {"command": 42}, None),
        ("list_aws_profiles", {}, None),
        ("no_such_tool", {}, None),
    ]
    expected = [
        ("refused", "input"), ("refused", "input"), ("refused", "profile"), ("refused", "reject"),
        ("refused", "not-a-read"), ("refused", "needs-approval"), ("declined", None),
        ("cancelled", None), ("invalid-answer", None), ("ran", None), ("refused", "arguments"),
        ("listed", None), ("error", None),
    ]
    answers = Answers(ACCEPT)
    async with Client(build_server(approve), mode="legacy", elicitation_callback=answers) as c:
        for count, (tool, arguments, answer) in enumerate(calls, start=1):
            answers.answers = [answer or ACCEPT]
            await c.call_tool(tool, arguments)
            assert len(records(audit)) == count, (tool, arguments)  # written before it returned
    async with Client(build_server(approve), mode="legacy") as client:
        await client.call_tool(WRITE, {"command": f"s3 mb s3://{bucket}-x"})
    expected.append(("unanswerable", "cannot-ask"))
    found = records(audit)
    assert [(r["outcome"], r.get("refused")) for r in found] == expected
    assert all(r["protocol"] == "2025-11-25" and "time" in r and "duration_ms" in r for r in found)
    assert found[9]["confirmed"] is True and found[9]["exit_code"] == 0
    assert found[2]["rule"] == "profile:unknown" and found[0]["rule"] == "input:too-long"
    assert found[11]["tool"] == "list_aws_profiles" and found[11]["profiles"] >= 3
    text = audit.read_text()
    assert "x" * 100 not in text  # the command itself is never recorded
    for line in aws_env.credentials.read_text().splitlines():
        if "secret" in line:
            assert line.split("=", 1)[1].strip() not in text


async def test_modern_rounds_and_refusals_are_audited_too(
    settings: Settings, audit: Path
) -> None:
    async with Client(build_server(settings), elicitation_callback=Answers(DECLINE)) as client:
        await client.call_tool(WRITE, {"command": f"s3 mb s3://{unique('round')}"})
    async with Client(build_server(settings)) as client:
        with pytest.raises(MCPError):
            await client.call_tool(WRITE, {"command": f"s3 mb s3://{unique('round')}"})
    found = records(audit)
    assert [(r["outcome"], r.get("error_code")) for r in found] == [
        ("asked", None), ("declined", None), ("unanswerable", -32021)
    ]
    assert {r["protocol"] for r in found} == {MODERN}


# --- settings ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"AWS_MCP_REQUEST_STATE_KEYS": "short"}, "at least 32 bytes"),
        ({"AWS_MCP_REQUEST_STATE_KEYS": f"{KEY_A},{KEY_A}"}, "repeat a key"),
        ({"AWS_MCP_REQUEST_STATE_TTL": "5"}, "TTL must be 10-3600"),
        ({"AWS_MCP_REQUEST_STATE_TTL": "inf"}, "TTL must be 10-3600"),
    ],
)
def test_bad_request_state_settings_fail_loudly(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(environ=environ)
    assert message in str(caught.value)
    assert "short" not in str(caught.value)  # a key is never echoed back
    if "KEYS" in next(iter(environ)):
        assert "secrets.token_hex(32)" in str(caught.value) or "once" in str(caught.value)


def test_request_state_settings_come_from_flags_and_environment() -> None:
    loaded = load({"request_state_ttl": 120.0}, {"AWS_MCP_REQUEST_STATE_KEYS": f"{KEY_A}, {KEY_B}"})
    assert loaded.request_state_keys == (KEY_A, KEY_B)
    assert loaded.request_state_ttl == 120.0
    assert KEY_A not in repr(loaded)
    assert load(environ={}).request_state_ttl == 300.0


# --- real processes: stdio -----------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_stdio_asks_and_runs_only_on_yes(
    aws_files: AwsFiles, moto_server: Moto, tmp_path: Path, s3: Any, mode: str
) -> None:
    yes, no = unique("stdio-yes"), unique("stdio-no")
    answers = Answers(ACCEPT, DECLINE)
    params = stdio_params(aws_files, moto_server, tmp_path / "workdir", "--confirm-writes")
    async with Client(params, mode=mode, elicitation_callback=answers) as client:  # type: ignore[arg-type]
        made = await client.call_tool(WRITE, {"command": f"s3 mb s3://{yes}"})
        declined = await client.call_tool(WRITE, {"command": f"s3 mb s3://{no}"})
    assert not made.is_error, text_of(made)
    assert "The user declined" in text_of(declined)
    assert yes in buckets(s3) and no not in buckets(s3)
    assert len(answers.asked) == 2


@pytest.mark.parametrize("mode", MODES)
async def test_stdio_refuses_a_client_that_cannot_be_asked(
    aws_files: AwsFiles, moto_server: Moto, tmp_path: Path, s3: Any, mode: str
) -> None:
    bucket = unique("stdio-nocap")
    params = stdio_params(aws_files, moto_server, tmp_path / "workdir", "--confirm-writes")
    async with Client(params, mode=mode) as client:  # type: ignore[arg-type]
        if mode == "legacy":
            result = await client.call_tool(WRITE, {"command": f"s3 mb s3://{bucket}"})
            assert result.is_error and "Nothing was run" in text_of(result)
        else:
            with pytest.raises(MCPError) as caught:
                await client.call_tool(WRITE, {"command": f"s3 mb s3://{bucket}"})
            assert caught.value.error.code == types.MISSING_REQUIRED_CLIENT_CAPABILITY
    assert bucket not in buckets(s3)


# --- real processes: HTTP ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def http_server(
    aws_files: AwsFiles, moto_server: Moto, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HttpServer]:
    tmp = tmp_path_factory.mktemp("consent-http")
    running = start_server(
        aws_files, moto_server, tmp, "--confirm-writes", "--audit-log", str(tmp / "audit.jsonl")
    )
    yield running
    running.stop()


def _replica(
    aws: AwsFiles, moto: Moto, factory: pytest.TempPathFactory, name: str, key: str | None
) -> HttpServer:
    extra = {"AWS_MCP_REQUEST_STATE_KEYS": key} if key else None
    return start_server(
        aws, moto, factory.mktemp(name), "--stateless", "--confirm-writes", extra_env=extra
    )


@pytest.fixture(scope="module")
def replicas(
    aws_files: AwsFiles, moto_server: Moto, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, HttpServer]]:
    """Three stateless replicas: `a` and `b` share a key, `c` has its own."""
    started: dict[str, HttpServer] = {}
    try:
        for name, key in (("a", KEY_A), ("b", KEY_A), ("c", KEY_B)):
            started[name] = _replica(aws_files, moto_server, tmp_path_factory, name, key)
        yield started
    finally:
        for running in started.values():
            running.stop()


@pytest.mark.parametrize("mode", MODES)
async def test_http_mcp_with_sessions_asks_and_runs_only_on_yes(
    http_server: HttpServer, s3: Any, mode: str
) -> None:
    yes, no = unique("http-yes"), unique("http-no")
    answers = Answers(ACCEPT, CANCEL)
    async with Client(http_server.mcp, mode=mode, elicitation_callback=answers) as client:  # type: ignore[arg-type]
        made = await client.call_tool(WRITE, {"command": f"s3 mb s3://{yes}"})
        cancelled = await client.call_tool(WRITE, {"command": f"s3 mb s3://{no}"})
    assert not made.is_error, text_of(made)
    assert "The user cancelled" in text_of(cancelled)
    assert yes in buckets(s3) and no not in buckets(s3)


async def test_legacy_sse_transport_asks_and_runs_only_on_yes(
    http_server: HttpServer, s3: Any
) -> None:
    yes, no = unique("sse-yes"), unique("sse-no")
    answers = Answers(ACCEPT, NO_CONFIRM)
    async with Client(
        sse_client(http_server.sse), mode="legacy", elicitation_callback=answers
    ) as client:
        made = await client.call_tool(WRITE, {"command": f"s3 mb s3://{yes}"})
        declined = await client.call_tool(WRITE, {"command": f"s3 mb s3://{no}"})
    async with Client(sse_client(http_server.sse), mode="legacy") as client:
        unasked = await client.call_tool(WRITE, {"command": f"s3 mb s3://{no}"})
    assert not made.is_error, text_of(made)
    assert "confirm: false" in text_of(declined)
    assert unasked.is_error and "did not declare the elicitation capability" in text_of(unasked)
    assert yes in buckets(s3) and no not in buckets(s3)


async def test_stateless_mcp_legacy_cannot_ask_so_it_refuses(
    replicas: dict[str, HttpServer], s3: Any
) -> None:
    bucket = unique("stateless-legacy")
    answers = Answers(ACCEPT)
    async with Client(replicas["a"].mcp, mode="legacy", elicitation_callback=answers) as client:
        result = await client.call_tool(WRITE, {"command": f"s3 mb s3://{bucket}"})
    assert result.is_error
    assert "no channel to ask the user on" in text_of(result) and "Nothing was run" in text_of(result)
    assert answers.asked == []
    assert bucket not in buckets(s3)


async def test_stateless_mcp_modern_asks_within_the_call(
    replicas: dict[str, HttpServer], s3: Any
) -> None:
    yes, no = unique("stateless-yes"), unique("stateless-no")
    answers = Answers(ACCEPT, DECLINE)
    async with Client(replicas["a"].mcp, elicitation_callback=answers) as client:
        assert client.protocol_version == MODERN
        made = await client.call_tool(WRITE, {"command": f"s3 mb s3://{yes}"})
        declined = await client.call_tool(WRITE, {"command": f"s3 mb s3://{no}"})
    assert not made.is_error, text_of(made)
    assert "The user declined" in text_of(declined)
    assert yes in buckets(s3) and no not in buckets(s3)


async def test_an_answer_given_to_another_replica_runs_once_with_a_shared_key(
    replicas: dict[str, HttpServer], dynamodb: Any
) -> None:
    key = unique("cross")
    arguments = {"command": bump(key)}
    async with Client(replicas["a"].mcp, elicitation_callback=Answers(ACCEPT)) as at_a:
        asked = await ask(at_a, arguments)
    async with Client(replicas["b"].mcp, elicitation_callback=Answers(ACCEPT)) as at_b:
        ran = await at_b.session.call_tool(
            WRITE, arguments, input_responses=yes_to(asked), request_state=asked.request_state
        )
        replayed = await at_b.session.call_tool(
            WRITE, arguments, input_responses=yes_to(asked), request_state=asked.request_state
        )
    async with Client(replicas["c"].mcp, elicitation_callback=Answers(ACCEPT)) as at_c:
        with pytest.raises(MCPError) as caught:
            await at_c.session.call_tool(
                WRITE, arguments, input_responses=yes_to(asked), request_state=asked.request_state
            )
    assert not ran.is_error, text_of(ran)
    assert replayed.is_error and "already answered" in text_of(replayed)
    assert caught.value.error.code == types.INVALID_PARAMS
    assert runs(dynamodb, key) == 1


# --- raw JSON-RPC: POST / and /mcp, both generations ----------------------------------------------


def modern_call(
    url: str,
    arguments: dict[str, Any],
    *,
    capabilities: dict[str, Any],
    state: str | None = None,
    responses: dict[str, Any] | None = None,
) -> tuple[int, dict[str, Any]]:
    """One 2026-07-28 `tools/call` as a bare HTTP client sends it: per-request _meta and headers."""
    params: dict[str, Any] = {
        "name": WRITE,
        "arguments": arguments,
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": capabilities,
        },
    }
    if state is not None:
        params["requestState"] = state
    if responses is not None:
        params["inputResponses"] = responses
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": MODERN,
        "Mcp-Method": "tools/call",
        "Mcp-Name": WRITE,
    }
    message = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}
    response = httpx.post(url, json=message, headers=headers, timeout=60)
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        frames = [json.loads(line[5:]) for line in response.text.splitlines()
                  if line.startswith("data:") and line[5:].strip()]
        return response.status_code, next(f for f in frames if f.get("id") == 1)
    return response.status_code, response.json()


FORM = {"elicitation": {"form": {}}}


@pytest.mark.parametrize("path", ["/", "/mcp"])
def test_raw_modern_json_rpc_asks_runs_once_and_refuses_replay_and_tampering(
    http_server: HttpServer, dynamodb: Any, path: str
) -> None:
    key = unique("raw")
    url = http_server.base + path
    arguments = {"command": bump(key)}
    status, asked = modern_call(url, arguments, capabilities=FORM)
    assert status == 200 and asked["result"]["resultType"] == "input_required", asked
    state = asked["result"]["requestState"]
    (wire_key, request), = asked["result"]["inputRequests"].items()
    assert request["method"] == "elicitation/create"
    assert bump(key) in request["params"]["message"]
    answer = {wire_key: {"action": "accept", "content": {"confirm": True}}}
    status, tampered = modern_call(url, arguments, capabilities=FORM, state=_tamper(state),
                                   responses=answer)
    assert tampered["error"]["code"] == types.INVALID_PARAMS
    status, empty = modern_call(url, arguments, capabilities=FORM, state=state,
                                responses={wire_key: {"action": "accept"}})
    assert empty["result"]["isError"] is True
    assert "sent no usable answer" in empty["result"]["content"][0]["text"]
    assert runs(dynamodb, key) == 0
    status, ran = modern_call(url, arguments, capabilities=FORM, state=state, responses=answer)
    assert status == 200 and ran["result"]["isError"] is False, ran
    status, replayed = modern_call(url, arguments, capabilities=FORM, state=state,
                                   responses=answer)
    assert replayed["result"]["isError"] is True
    assert "already answered" in replayed["result"]["content"][0]["text"]
    assert runs(dynamodb, key) == 1


@pytest.mark.parametrize("path", ["/", "/mcp"])
def test_raw_modern_client_without_elicitation_gets_32021_and_http_400(
    http_server: HttpServer, replicas: dict[str, HttpServer], s3: Any, path: str
) -> None:
    bucket = unique("raw-nocap")
    for server in (http_server, replicas["a"]):
        status, body = modern_call(server.base + path, {"command": f"s3 mb s3://{bucket}"},
                                   capabilities={})
        assert status == 400, body
        assert body["error"]["code"] == types.MISSING_REQUIRED_CLIENT_CAPABILITY
        assert body["error"]["data"]["requiredCapabilities"] == {"elicitation": {"form": {}}}
    assert bucket not in buckets(s3)


def test_plain_post_legacy_call_cannot_be_asked_so_it_is_refused(
    http_server: HttpServer, s3: Any
) -> None:
    bucket = unique("raw-legacy")
    message = {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
               "params": {"name": WRITE, "arguments": {"command": f"s3 mb s3://{bucket}"}}}
    body = httpx.post(f"{http_server.base}/", json=message, timeout=60).json()
    assert body["result"]["isError"] is True
    text = body["result"]["content"][0]["text"]
    assert "no channel to ask the user on" in text and "Nothing was run" in text
    assert bucket not in buckets(s3)


def test_http_calls_are_audited_one_line_each(http_server: HttpServer) -> None:
    audit = http_server.stdout.parent / "audit.jsonl"
    before = len(audit.read_text().splitlines()) if audit.exists() else 0
    message = {"jsonrpc": "2.0", "id": 4, "method": "tools/call",
               "params": {"name": "list_aws_profiles", "arguments": {}}}
    assert httpx.post(f"{http_server.base}/", json=message, timeout=60).status_code == 200
    lines = audit.read_text().splitlines()
    assert len(lines) == before + 1
    assert json.loads(lines[-1])["outcome"] == "listed"


def test_stateless_confirm_writes_without_a_shared_key_warns_at_start(
    replicas: dict[str, HttpServer], aws_files: AwsFiles, moto_server: Moto,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    assert "AWS_MCP_REQUEST_STATE_KEYS" not in replicas["a"].log()
    lone = _replica(aws_files, moto_server, tmp_path_factory, "lone", None)
    try:
        log = lone.log()
    finally:
        lone.stop()
    assert "--request-state-keys" in log and "AWS_MCP_REQUEST_STATE_KEYS" in log
