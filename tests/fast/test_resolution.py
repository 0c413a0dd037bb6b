"""Resolution and validation against the real awscli: names, suggestions, and no side effects."""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

from aws_mcp_server.adapter import resolution, validation
from aws_mcp_server.decision import classify_main, decide
from aws_mcp_server.errors import ValidationError
from aws_mcp_server.settings import Settings


@pytest.fixture(autouse=True)
def isolated_aws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Never the real ~/.aws; a config whose every credential source would leave a trace."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    marker = tmp_path / "credential-process-ran"
    script = tmp_path / "creds.py"
    script.write_text(
        f"import pathlib; pathlib.Path({str(marker)!r}).write_text('ran')\n"
        'print(\'{"Version": 1, "AccessKeyId": "AKIDEXAMPLE", "SecretAccessKey": "x"}\')\n'
    )
    config = tmp_path / "config"
    config.write_text(
        "[default]\n"
        f"credential_process = {sys.executable} {script}\n"
        "[profile sso]\n"
        "sso_start_url = https://example.awsapps.com/start\n"
        "sso_region = us-east-1\nsso_account_id = 123456789012\nsso_role_name = r\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    return marker


def _resolve(text: str) -> Any:
    return resolution.resolve(text.split())


@pytest.mark.parametrize(
    ("text", "suggestion"),
    [
        ("s3api list-bucket", "list-buckets"),
        ("ec2 describe-instance", "describe-instances"),
        ("ec2s describe-instances", "ec2"),
        ("ec2 describe-instances --instanse-ids i-1", "--instance-ids"),
        ("ec2 wait instance-runing", "instance-running"),
        ("s3 lss", "ls"),
    ],
)
def test_unknown_names_suggest_the_real_one(text: str, suggestion: str) -> None:
    with pytest.raises(ValidationError) as caught:
        _resolve(text)
    assert f"`{suggestion}`" in caught.value.fix


def test_resolution_prints_nothing_and_never_exits(capfd: pytest.CaptureFixture[str]) -> None:
    for text in ("ec2 --bogus", "--output nope s3 ls", "ec2", "s3 cp", "--version", "help me"):
        with contextlib.suppress(ValidationError):
            _resolve(text)
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")


def test_global_options_before_the_service_are_parsed() -> None:
    resolved = _resolve("--region eu-west-1 --output text ec2 describe-instances --max-items 5")
    assert resolved.command_path == ("ec2", "describe-instances")
    assert resolved.operation_name == "DescribeInstances"
    assert resolved.global_options["region"] == "eu-west-1"
    assert resolved.global_options["output"] == "text"
    assert resolved.arguments == {"max_items": 5} or resolved.arguments["max_items"] == 5


def test_custom_command_positionals_and_outfiles() -> None:
    cp = _resolve("s3 cp s3://b/k ./out.txt")
    assert cp.is_custom and cp.positionals == ("s3://b/k", "./out.txt")
    get = _resolve("s3api get-object --bucket b --key k out.bin")
    assert get.output_files == ("out.bin",) and not get.is_custom


def test_bad_query_is_a_validation_error() -> None:
    with pytest.raises(ValidationError) as caught:
        _resolve("ec2 describe-instances --query [[")
    assert caught.value.rule == "validation:query"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("iam get-user --user-name ''", "min length"),
        ("sts assume-role --role-arn arn:aws:iam::1:role/r --role-session-name s", "min length"),
        ("s3api head-object --bucket a/b --key k", "bucket name"),
        ("ec2 describe-instances --max-results abc", "abc"),
    ],
)
def test_validation_reports_shape_errors(text: str, words: str) -> None:
    import shlex

    with pytest.raises(ValidationError) as caught:
        validation.validate(resolution.resolve(shlex.split(text)))
    assert words.lower() in str(caught.value).lower()


def test_validation_opens_no_socket_and_runs_no_credential_provider(
    isolated_aws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[object] = []

    def refuse(self: socket.socket, address: object) -> None:
        opened.append(address)
        raise OSError("no network in validation")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: refuse(None, a))  # type: ignore[arg-type]
    for text in (
        "sts get-caller-identity",
        "ec2 describe-instances --instance-ids i-1",
        "s3api list-objects-v2 --bucket b",
        "--profile sso sts get-caller-identity",
        "ec2 copy-snapshot --source-region us-west-2 --source-snapshot-id snap-1",
        "dynamodb scan --table-name tbl",
    ):
        validation.validate(resolution.resolve(text.split()))
    assert opened == []
    assert not isolated_aws.exists(), "a credential provider ran during validation"


def test_custom_commands_are_not_run_by_validation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = tmp_path / "cwd"
    here.mkdir()
    monkeypatch.chdir(here)
    resolved = resolution.resolve(["s3", "cp", "s3://bucket/key", "local.txt"])
    assert not validation.validates_by_running(resolved)
    validation.validate(resolved)
    assert list(here.iterdir()) == []


def test_decide_never_raises_on_garbage(tmp_path: Path) -> None:
    settings = Settings(workdir=tmp_path)
    for text in ("\x00", "'", "--", "-- --", "help help help", "ec2 " * 500, "s3 cp", "☃ ls"):
        decision = decide(text, settings)
        assert decision.verdict == "reject" and decision.rule and decision.fix


def test_classify_cli_answers_each_stdin_line_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_MCP_WORKDIR", str(tmp_path))
    stdin = io.StringIO("ec2 describe-instances\n\nsts get-session-token\ns3 ls | head\n")
    stdout = io.StringIO()
    assert classify_main([], stdin, stdout) == 0
    lines = [json.loads(line) for line in stdout.getvalue().splitlines()]
    assert [line["verdict"] for line in lines] == ["read", "reject", "write", "reject"]
    assert lines[0]["command"] == "ec2 describe-instances"
    assert lines[2]["rule"] == "classify:override"
    keys = {"command", "verdict", "service", "operation", "rule", "reason", "sensitive"}
    assert set(lines[0]) >= keys


def test_classify_cli_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_MCP_WORKDIR", str(tmp_path))
    stdout = io.StringIO()
    classify_main(["secretsmanager get-secret-value --secret-id x", "s3 ls"], io.StringIO(), stdout)
    first, second = (json.loads(line) for line in stdout.getvalue().splitlines())
    assert first["verdict"] == "read" and first["sensitive"] is True
    assert second["verdict"] == "read" and second["sensitive"] is False
    stdout = io.StringIO()
    classify_main(["ec2", "describe-instances"], io.StringIO(), stdout)
    assert json.loads(stdout.getvalue())["operation"] == "describe-instances"
