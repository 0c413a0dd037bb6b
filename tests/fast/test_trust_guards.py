"""Claims about the read tool's promise at its edges, without a server or an emulator: local
files are touched only inside the workdir on every path that runs awscli's loaders, blocked
commands stay blocked by whatever path reaches them, the run plan comes from resolution."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aws_mcp_server import decision, guards, profiles
from aws_mcp_server.adapter import resolution
from aws_mcp_server.decision import decide
from aws_mcp_server.guards import endpoints
from aws_mcp_server.guards.facts import awscli_facts
from aws_mcp_server.model import Resolved
from aws_mcp_server.settings import Settings

ROOT = Path(__file__).resolve().parents[2]

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
    """The generated data file the guards read matches the installed awscli (regenerate with
    `python scripts/gen_awscli_facts.py`)."""
    from aws_mcp_server.adapter import facts

    current = (ROOT / "aws_mcp_server" / "data" / "awscli_facts.json").read_text()
    assert current == facts.render()


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

