"""Claims about the runtime guards: the real awscli driver, stopped before it opens or fetches.

Each command runs through `driver.new_driver()` inside a `capture.CallContext` that names the
workdir, unsigned and against a closed loopback port, with empty temporary AWS config files: a
refused file or URL fails before any request, and a command the guards let through fails only at
the connection. The guards sit in awscli's loaders (patched) and on its argument events.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aws_mcp_server.adapter import capture, driver

OFFLINE = [
    "--no-sign-request",
    "--endpoint-url",
    "http://127.0.0.1:9",
    "--region",
    "us-east-1",
    "--cli-connect-timeout",
    "1",
]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    (work / "p.json").write_text('{"Version": "2012-10-17", "Statement": []}')
    (work / "in.json").write_text('{"PolicyName": "x", "PolicyDocument": "{}"}')
    os.symlink("/etc", work / "etc-link")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    # The engine's working directory is not the workdir: relative paths must not resolve there.
    monkeypatch.chdir(tmp_path)
    return work


def run(argv: list[str], workdir: Path | None) -> tuple[object, capture.CallContext, str]:
    cli = driver.new_driver()
    ctx = capture.CallContext(workdir=workdir)
    capture.install()
    rc = capture.run_in(ctx, lambda: cli.main([*argv, *OFFLINE]))
    return rc, ctx, ctx.stderr.getvalue().decode("utf-8", "replace")


REFUSED = [
    (
        ["iam", "create-policy", "--policy-name", "x", "--policy-document", "file:///etc/passwd"],
        "path:outside-workdir",
    ),
    (
        ["iam", "create-policy", "--policy-name", "x", "--policy-document", "fileb:///etc/passwd"],
        "path:outside-workdir",
    ),
    (
        [
            "iam",
            "create-policy",
            "--policy-name",
            "x",
            "--policy-document",
            "file://{work}/etc-link/passwd",
        ],
        "path:outside-workdir",
    ),
    (
        [
            "iam",
            "create-policy",
            "--policy-name",
            "x",
            "--policy-document",
            "file://{work}/../config",
        ],
        "path:outside-workdir",
    ),
    (
        ["iam", "create-policy", "--policy-name", "x", "--policy-document", "file://$HOME/x"],
        "path:outside-workdir",
    ),
    (
        [
            "iam",
            "create-policy",
            "--policy-name",
            "x",
            "--policy-document",
            "http://169.254.169.254/latest/",
        ],
        "url:fetch",
    ),
    (
        [
            "iam",
            "create-policy",
            "--policy-name",
            "x",
            "--policy-document",
            "https://127.0.0.1:9/p",
        ],
        "url:fetch",
    ),
    (["iam", "create-policy", "--cli-input-json", "file:///etc/passwd"], "path:outside-workdir"),
    (
        [
            "ec2",
            "run-instances",
            "--image-id",
            "ami-1",
            "--block-device-mappings",
            "DeviceName=/dev/sda1,VirtualName@=file:///etc/hostname",
        ],
        "path:outside-workdir",
    ),
    (
        ["s3api", "put-object", "--bucket", "b", "--key", "k", "--body", "/etc/passwd"],
        "path:outside-workdir",
    ),
    (
        ["s3api", "get-object", "--bucket", "b", "--key", "k", "/tmp/aws-mcp-guard-test.out"],
        "path:outside-workdir",
    ),
    (["lambda", "invoke", "--function-name", "f", "relative-outside.json"], "path:outside-workdir"),
    (["s3", "cp", "/etc/passwd", "s3://b/k"], "path:outside-workdir"),
    (["s3", "cp", "s3://b/k", "/tmp/aws-mcp-guard-test.out"], "path:outside-workdir"),
    (["s3", "cp", "-", "s3://b/k"], "path:stdin"),
    (
        ["cloudformation", "deploy", "--stack-name", "s", "--template-file", "/etc/passwd"],
        "path:outside-workdir",
    ),
    (
        ["ec2", "get-password-data", "--instance-id", "i-1", "--priv-launch-key", "/etc/passwd"],
        "path:outside-workdir",
    ),
    (["s3", "ls", "--ca-bundle", "/etc/ssl/certs/ca-certificates.crt"], "path:outside-workdir"),
]


@pytest.mark.parametrize(("argv", "rule"), REFUSED, ids=[" ".join(a)[:70] for a, _ in REFUSED])
def test_files_outside_the_workdir_and_urls_are_refused_inside_awscli(
    argv: list[str], rule: str, workdir: Path
) -> None:
    argv = [a.replace("{work}", str(workdir)) for a in argv]
    rc, guard, stderr = run(argv, workdir)
    assert rc == 255
    assert [r.rule for r in guard.refusals][:1] == [rule]
    assert "Could not connect" not in stderr  # refused before any request was attempted
    assert not Path("/tmp/aws-mcp-guard-test.out").exists()


ALLOWED = [
    ["iam", "create-policy", "--policy-name", "x", "--policy-document", "file://{work}/p.json"],
    ["iam", "create-policy", "--cli-input-json", "file://{work}/in.json"],
    ["sqs", "get-queue-attributes", "--queue-url", "http://127.0.0.1:9/1/q"],
    ["s3api", "put-object", "--bucket", "b", "--key", "k", "--body", "{work}/p.json"],
    [
        "ec2",
        "run-instances",
        "--image-id",
        "ami-1",
        "--block-device-mappings",
        "DeviceName=/dev/sda1,VirtualName@=file://{work}/p.json",
    ],
    ["sts", "get-caller-identity"],
]


@pytest.mark.parametrize("argv", ALLOWED, ids=[" ".join(a)[:70] for a in ALLOWED])
def test_files_in_the_workdir_and_url_valued_parameters_reach_the_request(
    argv: list[str], workdir: Path
) -> None:
    argv = [a.replace("{work}", str(workdir)) for a in argv]
    rc, guard, stderr = run(argv, workdir)
    assert guard.refusals == []
    assert rc == 255 and "Could not connect" in stderr  # it got as far as sending


def test_the_refusal_is_printed_with_its_fix(workdir: Path) -> None:
    rc, _, stderr = run(["s3", "cp", "/etc/passwd", "s3://b/k"], workdir)
    assert rc == 255
    assert "outside the workdir" in stderr and str(os.path.realpath(workdir)) in stderr


def test_guards_are_per_session(workdir: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "p.json").write_text("{}")
    argv = [
        "iam",
        "create-policy",
        "--policy-name",
        "x",
        "--policy-document",
        f"file://{other}/p.json",
    ]
    _, refused, _ = run(argv, workdir)
    _, allowed, _ = run(argv, other)
    assert [r.rule for r in refused.refusals] == ["path:outside-workdir"]
    assert allowed.refusals == []


def test_relative_file_values_load_from_the_workdir_whatever_the_working_directory(
    workdir: Path,
) -> None:
    """The working directory here is not the workdir: awscli's loader reads file:// relative
    to the call's workdir, so relative references work without rewriting argv."""
    assert os.getcwd() != str(workdir)
    (workdir / "in.json").write_text('{"PolicyName": "x", "PolicyDocument": "{}"}')
    rc, ctx, stderr = run(["iam", "create-policy", "--cli-input-json", "file://in.json"], workdir)
    assert ctx.refusals == []
    assert rc == 255 and "Could not connect" in stderr


def test_a_call_without_a_workdir_opens_no_file(workdir: Path) -> None:
    rc, ctx, _ = run(
        ["iam", "create-policy", "--policy-name", "x", "--policy-document", "file://p.json"], None
    )
    assert rc == 255
    assert [r.rule for r in ctx.refusals] == ["path:outside-workdir"]
