"""Claims about the read tool's promise at its edges: local files are touched only inside the
workdir on every path that runs awscli's loaders, help reads and writes no file, blocked commands
stay blocked by whatever path reaches them, and every request goes to the configured endpoint."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aws_mcp_server import decision, guards, profiles
from aws_mcp_server.adapter import resolution
from aws_mcp_server.decision import decide
from aws_mcp_server.engine import Engine
from aws_mcp_server.guards import endpoints
from aws_mcp_server.guards.facts import awscli_facts
from aws_mcp_server.model import Resolved
from aws_mcp_server.settings import Settings
from tests.conftest import AwsFiles, Moto

ROOT = Path(__file__).resolve().parent.parent

# --- local files: one guard where awscli loads values, on every path -------------------------

_opened: list[str] | None = None


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _opened is not None and event == "open" and isinstance(args[0], str):
        _opened.append(args[0])


sys.addaudithook(_audit)


@pytest.fixture
def opened() -> Iterator[list[str]]:
    """Every path this process opens while the test runs (an audit hook; it cannot be removed,
    so it records only while a test holds this fixture)."""
    global _opened
    _opened = []
    try:
        yield _opened
    finally:
        _opened = None


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "credentials"
    path.write_text("[default]\naws_secret_access_key = TOPSECRETVALUE\n")
    return path


@pytest.fixture
def work(tmp_path: Path, secret: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    # A file inside the workdir whose content is shorthand that loads the secret.
    (work / "filters.txt").write_text(f"Name=tag:x,Values@=file://{secret}")
    return work


def _leaks(secret: Path) -> list[str]:
    return [
        # every @= form of awscli's shorthand grammar
        f"ec2 describe-instances --filters Name=tag:x,Values@=file://{secret}",
        f"ec2 describe-instances --filters 'Name=tag:x,Values@=\"file://{secret}\"'",
        f"ec2 describe-instances --filters 'Name=tag:x,Values@=a,file://{secret}'",
        f"ec2 describe-instances --filters 'Name=tag:x,Values@=[a,file://{secret}]'",
        f"s3api put-bucket-tagging --bucket b --tagging 'TagSet=[{{Key=a,Value@=file://{secret}}}]'",
        f"s3api put-bucket-tagging --bucket b --tagging 'TagSet=[{{Key=a,Value @= file://{secret}}}]'",
        # shorthand inside a file that is itself inside the workdir
        "ec2 describe-instances --filters file://filters.txt",
        # JSON input from a file outside
        f"iam list-users --cli-input-json file://{secret}",
        f"iam create-user --user-name x --tags 'Key=a,Value@=file://{secret}'",
    ]


def test_no_shorthand_form_loads_a_file_outside_the_workdir_during_validation(
    work: Path, secret: Path, opened: list[str]
) -> None:
    """`--confirm-writes` and `classify` validate with awscli's own loaders: the runtime guards
    sit on that path too, so the secret is never opened and never quoted back."""
    settings = Settings(workdir=work)
    for text in _leaks(secret):
        opened.clear()
        result = decide(text, settings)
        shown = f"{result.reason}\n{result.fix}"
        assert result.verdict == "reject", text
        assert result.rule in ("path:outside-workdir", "path:expansion"), (text, result.rule)
        assert "TOPSECRETVALUE" not in shown, text
        assert str(secret) not in opened, text


def test_classify_cli_refuses_them_without_opening_the_file(
    work: Path, secret: Path, opened: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_MCP_WORKDIR", str(work))
    out = io.StringIO()
    code = decision.classify_main(["-"], io.StringIO("\n".join(_leaks(secret)) + "\n"), out)
    assert code == 0
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == len(_leaks(secret))
    assert all(line["verdict"] == "reject" for line in lines), lines
    assert "TOPSECRETVALUE" not in out.getvalue()
    assert str(secret) not in opened


def test_files_inside_the_workdir_still_load_during_validation(work: Path) -> None:
    (work / "in.json").write_text('{"MaxItems": 0}')  # below IAM's minimum of 1
    result = decide("iam list-users --cli-input-json file://in.json", Settings(workdir=work))
    assert result.verdict == "reject"
    assert result.rule == "validation:parameters", result.reason
    assert "MaxItems" in result.reason


# --- help reads no configuration file and writes nothing ---------------------------------------


def test_help_ignores_docutils_configuration_and_opens_only_package_data(tmp_path: Path) -> None:
    """docutils reads ./docutils.conf, ~/.docutils, /etc/docutils.conf and $DOCUTILSCONFIG, and a
    `warning_stream` there made rendering help truncate any file the server can write."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    conf = f"[general]\nwarning_stream: {victim}\nreport_level: 1\nhalt_level: 5\n"
    home = tmp_path / "home"
    home.mkdir()
    (home / ".docutils").write_text(conf)
    work = tmp_path / "work"
    work.mkdir()
    (work / "docutils.conf").write_text(conf)
    (tmp_path / "env.conf").write_text(conf)
    code = textwrap.dedent(
        """
        import os, sys, json
        import aws_mcp_server.adapter
        from aws_mcp_server.engine import Engine
        from aws_mcp_server.model import RunPlan
        from aws_mcp_server.settings import Settings
        engine = Engine(Settings(workdir=os.getcwd()))
        engine.run(RunPlan(("sts", "help"), is_help=True))  # imports and first loads
        opened = []
        sys.addaudithook(lambda e, a: opened.append(a[0]) if e == "open" else None)
        results = [
            engine.run(RunPlan(argv, is_help=True))
            for argv in (("sts", "help"), ("ec2", "describe-instances", "help"),
                         ("s3", "cp", "help"), ("help",))
        ]
        sys.addaudithook(lambda e, a: None)
        print(json.dumps({"ok": [r.ok for r in results], "sizes": [len(r.text) for r in results],
                          "opened": [str(p) for p in opened if isinstance(p, str)]}))
        """
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "HOME": str(home),
        "DOCUTILSCONFIG": str(tmp_path / "env.conf"),
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
    }
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=work, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.splitlines()[-1])
    assert report["ok"] == [True] * 4
    assert min(report["sizes"]) > 400
    assert victim.read_text() == "precious"
    import awscli
    import docutils

    allowed = (os.path.dirname(awscli.__file__), os.path.dirname(docutils.__file__))
    strays = [p for p in report["opened"] if not p.startswith(allowed)]
    assert strays == [], strays


# --- blocked means blocked, by any path ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        (
            "cloudformation deploy --template-file t.yml --stack-name s register --instance-name x",
            "blocked:cwd-write",
        ),
        (
            "ecs deploy --service s --task-definition t.json --codedeploy-appspec a.yml "
            "register --instance-name x",
            "blocked:cwd-write",
        ),
        (
            "cloudformation deploy --template-file t.yml --stack-name s install "
            "--config-file c.yml",
            "blocked:subprocess",
        ),
        ("cloudformation deploy --template-file t.yml --stack-name s uninstall", "blocked:subprocess"),
        ("deploy register --instance-name x", "blocked:cwd-write"),
        ("sso logout", "blocked:login"),
    ],
)
def test_blocked_commands_are_refused_whatever_path_reaches_them(
    text: str, rule: str, tmp_path: Path
) -> None:
    result = decide(text, Settings(workdir=tmp_path))
    assert (result.verdict, result.rule) == ("reject", rule), result.reason


def test_every_path_to_a_blocked_command_object_is_refused(tmp_path: Path) -> None:
    """Sweep: wherever awscli's tables hold an object of a blocked class, the guard refuses it."""
    marks = set(awscli_facts()["blocked_classes"].values())
    settings = Settings(workdir=tmp_path)
    found = []
    for path, command in resolution.iter_command_objects():
        name = f"{type(command).__module__}.{type(command).__qualname__}"
        if name not in marks:
            continue
        found.append(" ".join(path))
        classes = tuple(
            f"{type(obj).__module__}.{type(obj).__qualname__}"
            for obj in _objects_along(path)
        )
        resolved = Resolved(argv=path, service=path[0], command_path=path, command_classes=classes)
        verdict = guards.check(resolved, settings)
        assert verdict is not None and verdict.rule.startswith("blocked:"), path
    # CodeDeploy's commands hang under `deploy`, `cloudformation deploy` and `ecs deploy`.
    assert {"cloudformation deploy register", "ecs deploy register", "deploy register"} <= set(
        found
    )


def _objects_along(path: tuple[str, ...]) -> list[Any]:
    objects: list[Any] = []
    table: dict[str, Any] = dict(resolution.command_table(()))
    for depth, word in enumerate(path):
        command = table[word]
        objects.append(command)
        table = resolution.command_table(path[: depth + 1])
    return objects


def test_awscli_facts_are_current() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_awscli_facts.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr


# --- an option with no value ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "ec2 describe-instances --instance-ids",
        "ec2 describe-instances --filters",
        "ec2 describe-instances --instance-ids --max-items 5",
        "ssm get-parameters --names",
    ],
)
def test_an_option_given_without_a_value_is_refused(text: str, tmp_path: Path) -> None:
    result = decide(text, Settings(workdir=tmp_path))
    assert (result.verdict, result.rule) == ("reject", "validation:missing-value"), result.reason
    assert "without a value" in result.reason


def test_options_whose_default_is_empty_are_not_refused(tmp_path: Path) -> None:
    result = decide(
        "cloudformation deploy --template-file t.yml --stack-name s", Settings(workdir=tmp_path)
    )
    assert result.verdict == "write", result.reason


# --- the run plan: what resolution found, never a word search --------------------------------

MOTO = "http://127.0.0.1:4566"


@pytest.mark.parametrize(
    "text",
    [
        "s3api head-bucket --bucket help",
        "dynamodb describe-table --table-name help",
        "s3 ls s3://help",
        "s3 sync . s3://b --exclude help",
        "logs describe-log-groups --log-group-name-prefix help",
    ],
)
def test_a_value_help_is_not_help_and_gets_the_endpoint(text: str, tmp_path: Path) -> None:
    plan = decide(text, Settings(workdir=tmp_path, endpoint_url=MOTO), validate=False).plan
    assert plan is not None and not plan.is_help
    assert plan.argv[-2:] == ("--endpoint-url", MOTO) or "--endpoint-url" in plan.argv
    assert plan.endpoint_url == MOTO


@pytest.mark.parametrize("text", ["ec2 help", "s3 cp help", "help", "ec2 wait help"])
def test_help_gets_nothing_added(text: str, tmp_path: Path) -> None:
    plan = decide(text, Settings(workdir=tmp_path, endpoint_url=MOTO)).plan
    assert plan is not None and plan.is_help
    assert "--endpoint-url" not in plan.argv


@pytest.mark.parametrize(
    ("text", "progress"),
    [
        ("s3 rm s3://b/k", False),
        ("s3 rb s3://b", False),
        ("s3 ls s3://b", False),
        ("s3 cp s3://b/k s3://c/k", True),
        ("s3 mv s3://b/k s3://c/k", True),
        ("s3 sync s3://b s3://c", True),
    ],
)
def test_no_progress_only_where_the_command_has_it(
    text: str, progress: bool, tmp_path: Path
) -> None:
    plan = decide(text, Settings(workdir=tmp_path), validate=False).plan
    assert plan is not None
    assert ("--no-progress" in plan.argv) is progress


def test_the_tools_region_comes_last_so_it_wins(tmp_path: Path) -> None:
    plan = decide(
        "ec2 describe-instances --region eu-west-1",
        Settings(workdir=tmp_path),
        validate=False,
        region="us-west-2",
    ).plan
    assert plan is not None
    assert plan.argv[-2:] == ("--region", "us-west-2")


def test_the_plan_names_the_services_a_customization_calls(tmp_path: Path) -> None:
    plan = decide(
        "cloudtrail create-subscription --name t --s3-new-bucket b", Settings(workdir=tmp_path)
    ).plan
    assert plan is not None
    assert {"s3", "sns"} <= set(plan.services)


@pytest.mark.parametrize(
    ("text", "denied"),
    [
        ("emr create-default-roles", "iam"),
        ("datapipeline create-default-roles", "iam"),
        ("dlm create-default-role", "iam"),
        ("cloudtrail create-subscription --name t --s3-new-bucket b", "s3"),
        ("configservice subscribe --s3-bucket b --sns-topic t --iam-role r", "sns"),
        ("cloudformation deploy --template-file t.yml --stack-name s", "s3"),
    ],
)
def test_deny_services_covers_the_services_a_customization_calls(
    text: str, denied: str, tmp_path: Path
) -> None:
    result = decide(text, Settings(workdir=tmp_path, deny_services=(denied,)))
    assert (result.verdict, result.rule) == ("reject", "mode:service-denied"), result.reason
    assert denied in result.reason


def test_allow_services_must_cover_every_service_a_customization_calls(tmp_path: Path) -> None:
    only_emr = Settings(workdir=tmp_path, allow_services=("emr",))
    result = decide("emr create-default-roles", only_emr)
    assert (result.verdict, result.rule) == ("reject", "mode:not-allowed")
    both = Settings(workdir=tmp_path, allow_services=("emr", "iam"))
    assert decide("emr create-default-roles", both).verdict == "write"


# --- every request goes to the configured endpoint -------------------------------------------


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _catalogue(work: Path) -> list[tuple[str, str | None]]:
    """(command, profile): reads, writes, values named help, customizations that build their
    own clients, and a profile whose credentials come from STS (assume-role). Whether the
    emulator says yes is not the point (`head-bucket --bucket help` is a 404): where it went is."""
    bucket = unique("where")
    (work / "template.json").write_text(
        json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}})
    )
    (work / "up").mkdir(exist_ok=True)
    (work / "up" / "a.txt").write_text("a")
    return [
        (f"s3 mb s3://{bucket}", None),
        ("s3api list-buckets", None),
        (f"s3 sync up s3://{bucket}/up --exclude help", None),
        (f"s3 ls s3://{bucket} --recursive", None),
        (f"s3 rm s3://{bucket}/up/a.txt", None),
        ("s3api head-bucket --bucket help", None),
        ("dynamodb list-tables", None),
        ("sqs list-queues", None),
        ("sqs create-queue --queue-name help", None),
        ("rds describe-db-instances", None),
        ("sts get-caller-identity", "role"),
        ("emr create-default-roles", None),
        ("dlm create-default-role", None),
        (f"cloudtrail create-subscription --name {unique('trail')} --s3-new-bucket "
         f"{unique('trailb')}", None),
        (f"cloudformation deploy --template-file template.json --stack-name {unique('st')}",
         None),
        ("logs describe-log-groups --log-group-name-prefix help", None),
    ]


def test_every_request_of_a_catalogue_goes_to_the_configured_endpoint(
    moto_server: Moto, aws_env: AwsFiles, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    settings = Settings(endpoint_url=moto_server.url, workdir=work)
    engine = Engine(settings)
    expected = f"http://127.0.0.1:{moto_server.port}"
    cwd = os.getcwd()
    os.chdir(work)  # as the server does: the workdir is the working directory
    try:
        tally: dict[str, int] = {}
        catalogue = _catalogue(work)
        for text, profile in catalogue:
            planned = decide(text, settings, validate=False)
            assert planned.plan is not None, (text, planned.reason)
            result = engine.run(planned.plan, profile=profile, region="us-east-1")
            assert result.ok or "An error occurred" in result.stderr, (text, result.stderr)
            assert result.hosts, f"{text}: no request recorded"
            for host, count in result.hosts.items():
                tally[host] = tally.get(host, 0) + count
    finally:
        os.chdir(cwd)
    assert list(tally) == [expected], tally
    assert tally[expected] >= len(catalogue)


def test_a_client_of_a_denied_service_is_refused_while_the_command_runs(
    moto_server: Moto, aws_env: AwsFiles, tmp_path: Path
) -> None:
    """The run-time check, for a command that reaches the engine without the static one (an
    unchecked plan): the IAM client `emr create-default-roles` builds is refused."""
    from aws_mcp_server.model import RunPlan

    settings = Settings(endpoint_url=moto_server.url, workdir=tmp_path, deny_services=("iam",))
    plan = RunPlan(
        argv=("emr", "create-default-roles", "--endpoint-url", moto_server.url),
        endpoint_url=moto_server.url,
    )
    result = Engine(settings).run(plan)
    assert result.exit_code == 255
    assert "denies the iam service" in result.stderr
    assert not any("iam" in host for host in result.hosts)


# --- endpoints, profiles ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["http://moto.localhost:4566", "http://a.b.localhost", "https://LOCALHOST.evil.example"]
)
def test_names_under_localhost_are_not_loopback(url: str, tmp_path: Path) -> None:
    verdict = endpoints.check_endpoint(url, Settings(workdir=tmp_path))
    assert verdict is not None and verdict.rule == "endpoint:not-allowed"


def test_a_continuation_line_never_shows_as_a_region(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text(
        "[default]\nregion = us-east-1\n    aws_secret_access_key = CONTINUEDSECRET\n"
        "\n[profile odd]\nregion =\n  eu-west-1 = x\n"
    )
    env = {"AWS_CONFIG_FILE": str(config), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    found = {p.name: p for p in profiles.list_profiles(env)}
    assert found["default"].region == "us-east-1"
    assert found["odd"].region is None
    assert "CONTINUEDSECRET" not in json.dumps([p.as_dict() for p in found.values()])


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_the_tools_region_wins_over_region_in_the_command(
    moto_server: Moto, aws_env: AwsFiles, tmp_path: Path, mode: str
) -> None:
    from mcp import Client

    from aws_mcp_server.server import build_server
    from tests.mcp_helpers import text_of

    settings = Settings(endpoint_url=moto_server.url, workdir=tmp_path)
    command = (
        "ec2 describe-availability-zones --region eu-west-1 "
        "--query 'AvailabilityZones[0].RegionName' --output text"
    )
    async with Client(build_server(settings, Engine(settings)), mode=mode) as client:  # type: ignore[arg-type]
        given = await client.call_tool(
            "execute_aws_read_command", {"command": command, "region": "us-west-2"}
        )
        absent = await client.call_tool("execute_aws_read_command", {"command": command})
    assert text_of(given).strip() == "us-west-2"
    assert text_of(absent).strip() == "eu-west-1"
