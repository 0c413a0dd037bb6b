"""Shared fixtures: a scrubbed environment, a moto server on loopback, fake AWS profiles.

Nothing here reads or writes the real ~/.aws, and nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import os
import shlex
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Scrub before anything imports awscli or botocore: both read the environment at import time.
for _name in list(os.environ):
    if _name.startswith(("AWS_", "BOTO_")) and _name != "AWS_DATA_PATH":
        del os.environ[_name]
_HOME = tempfile.mkdtemp(prefix="aws-mcp-home-")
os.environ["HOME"] = _HOME
os.environ["AWS_CONFIG_FILE"] = os.path.join(_HOME, "no-config")
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.path.join(_HOME, "no-credentials")
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"

import pytest  # noqa: E402

import aws_mcp_server.adapter  # noqa: E402,F401  (awscli before botocore)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Moto:
    url: str
    port: int


@pytest.fixture(scope="session")
def moto_server() -> Iterator[Moto]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield Moto(url=f"http://127.0.0.1:{port}", port=port)
    finally:
        server.stop()


@dataclass(frozen=True)
class AwsFiles:
    config: Path
    credentials: Path
    home: Path
    alt_user_arn: str
    environ: dict[str, str]


DEFAULT_KEY = ("AKIADEFAULTTESTKEY01", "default-secret-key")


def _write_profiles(home: Path, alt_key: tuple[str, str]) -> tuple[Path, Path]:
    config = home / "config"
    credentials = home / "credentials"
    config.write_text(
        "[default]\n"
        "region = us-east-1\n"
        "output = json\n"
        "cli_history = enabled\n"
        "\n[profile alt]\n"
        "region = eu-west-1\n"
        "\n[profile third]\n"
        "region = ap-southeast-2\n"
        "\n[profile sso-dev]\n"
        "sso_start_url = https://example.awsapps.com/start\n"
        "sso_region = us-east-1\n"
        "sso_account_id = 111111111111\n"
        "sso_role_name = ReadOnly\n"
        "region = us-west-2\n"
        "\n[profile role]\n"
        "role_arn = arn:aws:iam::123456789012:role/demo\n"
        "source_profile = default\n"
        "\n[profile proc]\n"
        "credential_process = /bin/false\n"
        # Config plugins would import arbitrary modules; the engine must never load them.
        "\n[plugins]\n"
        "evil = aws_mcp_server_test_no_such_plugin\n"
    )
    credentials.write_text(
        f"[default]\naws_access_key_id = {DEFAULT_KEY[0]}\naws_secret_access_key = {DEFAULT_KEY[1]}\n"
        f"\n[alt]\naws_access_key_id = {alt_key[0]}\naws_secret_access_key = {alt_key[1]}\n"
        f"\n[third]\naws_access_key_id = {DEFAULT_KEY[0]}\naws_secret_access_key = {DEFAULT_KEY[1]}\n"
    )
    # A user alias that would shadow a real command and one that would run a shell.
    alias_dir = home / ".aws" / "cli"
    alias_dir.mkdir(parents=True, exist_ok=True)
    (alias_dir / "alias").write_text(
        "[toplevel]\nwhoami = sts get-caller-identity\nshell = !echo pwned > pwned.txt\n"
    )
    return config, credentials


@pytest.fixture(scope="session")
def aws_files(moto_server: Moto, tmp_path_factory: pytest.TempPathFactory) -> AwsFiles:
    """Fake profiles: `default` (us-east-1) and `alt` (eu-west-1, keys of IAM user alice in moto)."""
    from aws_mcp_server.engine import Engine
    from aws_mcp_server.settings import Settings

    home = tmp_path_factory.mktemp("aws-home")
    config, credentials = _write_profiles(home, ("AKIAPLACEHOLDER00000", "placeholder"))
    environ = {
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
        "HOME": str(home),
    }
    saved = {name: os.environ.get(name) for name in environ}
    os.environ.update(environ)
    try:
        engine = Engine(Settings(endpoint_url=moto_server.url, workdir=home / "workdir"))
        made = run(engine, ["iam", "create-user", "--user-name", "alice"])
        assert made.ok, made.stderr
        key = run(
            engine,
            [
                "iam",
                "create-access-key",
                "--user-name",
                "alice",
                "--query",
                "AccessKey.[AccessKeyId,SecretAccessKey]",
                "--output",
                "text",
            ],
        )
        assert key.ok, key.stderr
        access, secret = key.text.split()
        _write_profiles(home, (access, secret))
        arn = run(
            engine,
            ["iam", "get-user", "--user-name", "alice", "--query", "User.Arn", "--output", "text"],
        ).text.strip()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return AwsFiles(config, credentials, home, arn, environ)


@pytest.fixture
def aws_env(aws_files: AwsFiles, monkeypatch: pytest.MonkeyPatch) -> AwsFiles:
    """Point this test's process environment at the fake profiles."""
    for name, value in aws_files.environ.items():
        monkeypatch.setenv(name, value)
    return aws_files


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever a test does, the real AWS environment is not in reach."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "BOTO_")) and name not in (
            "AWS_DATA_PATH",
            "AWS_CONFIG_FILE",
            "AWS_SHARED_CREDENTIALS_FILE",
            "AWS_EC2_METADATA_DISABLED",
        ):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert not os.environ["AWS_CONFIG_FILE"].startswith(os.path.expanduser("~/.aws"))


def plan_of(engine: Any, argv: list[str], *, checked: bool = True) -> Any:
    """The run plan for `argv` on `engine`'s settings.

    `checked`: as the tools make it (`decide`; the test fails if the command is refused).
    Unchecked: argv exactly as given plus the server-wide endpoint, for engine tests of what
    awscli itself does with commands the guards would refuse (the runtime guards still apply).
    """
    from aws_mcp_server.decision import decide
    from aws_mcp_server.model import RunPlan

    settings = engine.settings
    if checked:
        decision = decide(shlex.join(argv), settings, validate=False)
        assert decision.plan is not None, f"{argv}: refused: {decision.rule}: {decision.reason}"
        return decision.plan
    endpoint = settings.endpoint_url
    extra = ("--endpoint-url", endpoint) if endpoint else ()
    return RunPlan(argv=(*argv, *extra), endpoint_url=endpoint)


def run(engine: Any, argv: list[str], *, checked: bool = True, **kwargs: Any) -> Any:
    """`engine.run` on the plan for `argv` (see `plan_of`)."""
    return engine.run(plan_of(engine, argv, checked=checked), **kwargs)


def start(engine: Any, argv: list[str], *, checked: bool = True, **kwargs: Any) -> Any:
    """`engine.start` on the plan for `argv` (see `plan_of`)."""
    return engine.start(plan_of(engine, argv, checked=checked), **kwargs)


def stopped_instance(engine: Any) -> str:
    """A stopped EC2 instance in moto: `ec2 wait instance-running` on it never succeeds."""
    launched = run(
        engine,
        [
            "ec2",
            "run-instances",
            "--image-id",
            "ami-12c6146b",
            "--query",
            "Instances[0].InstanceId",
            "--output",
            "text",
        ],
    )
    assert launched.ok, launched.stderr
    instance = str(launched.text.strip())
    stopped = run(engine, ["ec2", "stop-instances", "--instance-ids", instance])
    assert stopped.ok, stopped.stderr
    return instance


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def wait_until(predicate: Callable[[], bool], seconds: float) -> bool:
    """True as soon as `predicate()` is, False if it is not within `seconds`."""
    end = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > end:
            return False
        time.sleep(0.005)
    return True
