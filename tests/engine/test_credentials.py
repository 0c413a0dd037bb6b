"""Real AWS accounts, offline: every kind of profile through the MCP tools, credentials resolved
once per profile, every credential request sent to the configured endpoint, and every failure
explained with the profile and the fix, never a traceback.

moto answers STS (AssumeRole, AssumeRoleWithWebIdentity, GetCallerIdentity) behind a proxy that
counts requests by action; a small fake portal on 127.0.0.1 answers SSO's GetRoleCredentials.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import botocore.credentials
import pytest
from mcp import Client

from aws_mcp_server import profiles
from aws_mcp_server.adapter import credentials
from aws_mcp_server.engine import Engine
from aws_mcp_server.server import build_server
from aws_mcp_server.settings import Settings
from tests import aws_fakes
from tests.conftest import Moto
from tests.mcp_helpers import ROOT, text_of

pytestmark = pytest.mark.anyio

READ = "execute_aws_read_command"
WHO = "sts get-caller-identity --query Arn --output text"
ACCOUNT = "123456789012"
LEGACY_START_URL = "https://legacy.awsapps.com/start"
SSO_SESSION = "corp"


@dataclass
class World:
    home: Path
    config: Path
    credentials: Path
    settings: Settings
    sts: aws_fakes.Recorder
    portal: aws_fakes.Recorder


def _script(path: Path, body: str) -> str:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def _token(name: str, expires: str, token: str = aws_fakes.VALID_TOKEN) -> None:
    cache = Path(botocore.credentials.SSOProvider._SSO_TOKEN_CACHE_DIR)
    cache.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha1(name.encode()).hexdigest()
    (cache / f"{key}.json").write_text(
        json.dumps({"accessToken": token, "expiresAt": expires, "region": "us-east-1",
                    "startUrl": LEGACY_START_URL})
    )


def _config(home: Path) -> str:
    ok = _script(
        home / "proc-ok.sh",
        "echo '{\"Version\": 1, \"AccessKeyId\": \"AKIAPROCESS00000001\", "
        "\"SecretAccessKey\": \"s\"}'\n",
    )
    bad = _script(
        home / "proc-bad.sh",
        "echo SECRET-ON-STDOUT\necho 'token expired, run corp-login' >&2\necho more >&2\nexit 3\n",
    )
    garbage = _script(home / "proc-garbage.sh", "echo SECRET-NOT-JSON\n")
    (home / "web-token").write_text("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ3ZWIifQ.c2ln")
    role = "arn:aws:iam::" + ACCOUNT + ":role/"
    return f"""[default]
region = us-east-1

[profile role]
role_arn = {role}reader
source_profile = default

[profile chain]
role_arn = {role}second-hop
source_profile = role
region = us-east-1

[profile external]
role_arn = {role}partner
source_profile = default
external_id = partner-42
region = us-east-1

[profile from-env]
role_arn = {role}from-env
credential_source = Environment

[profile web]
role_arn = {role}web-role
web_identity_token_file = {home / "web-token"}
region = us-east-1

[profile proc]
credential_process = {ok}

[profile proc-failing]
credential_process = {bad}

[profile proc-garbage]
credential_process = {garbage}

[profile mfa]
role_arn = {role}guarded
source_profile = default
mfa_serial = arn:aws:iam::{ACCOUNT}:mfa/alice

[profile sso-legacy]
sso_start_url = {LEGACY_START_URL}
sso_region = us-east-1
sso_account_id = 111111111111
sso_role_name = LegacyRead
region = us-west-2

[profile sso-session]
sso_session = {SSO_SESSION}
sso_account_id = 111111111111
sso_role_name = SessionRead
region = eu-central-1

[sso-session {SSO_SESSION}]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1
sso_registration_scopes = sso:account:access

[profile sso-missing]
sso_start_url = https://nobody-signed-in.awsapps.com/start
sso_region = us-east-1
sso_account_id = 111111111111
sso_role_name = Nothing

[profile keyless]
region = us-east-1

[profile regionless]
aws_access_key_id = AKIAREGIONLESS000001
aws_secret_access_key = x

[profile expired]
aws_access_key_id = {aws_fakes.EXPIRED_KEY}
aws_secret_access_key = x
region = us-east-1
"""


@pytest.fixture
def world(
    moto_server: Moto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    home = tmp_path / "home"
    home.mkdir()
    config = home / "config"
    creds = home / "credentials"
    config.write_text(_config(home))
    creds.write_text(
        "[default]\naws_access_key_id = AKIADEFAULTTESTKEY01\naws_secret_access_key = d\n"
    )
    # Files a user wrote long ago: what is resolved from them may be kept (written just now,
    # they would count as possibly still changing for two seconds: profiles.file_version).
    monkeypatch.setattr(profiles, "_SETTLED_NS", 0)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    _token(LEGACY_START_URL, "2099-01-01T00:00:00Z")
    _token(SSO_SESSION, "2099-01-01T00:00:00Z")
    credentials.SHARED.clear()
    with aws_fakes.counting_proxy(moto_server.port) as (proxy, sts), aws_fakes.sso_portal() as (
        portal_url,
        portal,
    ):
        # The SSO portal has an endpoint of its own: the service-specific setting beats the
        # server-wide endpoint, which gets everything else (STS included).
        monkeypatch.setenv("AWS_ENDPOINT_URL_SSO", portal_url)
        work = tmp_path / "work"
        work.mkdir()
        settings = Settings(endpoint_url=proxy, workdir=work)
        yield World(home, config, creds, settings, sts, portal)
    credentials.SHARED.clear()


async def _call(
    world: World, tool: str, arguments: dict[str, str], mode: str = "legacy"
) -> tuple[bool, str]:
    server = build_server(world.settings, Engine(world.settings))
    async with Client(server, mode=mode) as client:  # type: ignore[arg-type]
        result = await client.call_tool(tool, arguments)
    return bool(result.is_error), text_of(result)


def _arn(role: str) -> str:
    return f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/"


@pytest.mark.parametrize("mode", ["legacy", "auto"])
@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        ("default", "arn:aws:sts::"),
        ("role", _arn("reader")),
        ("chain", _arn("second-hop")),
        ("external", _arn("partner")),
        ("web", _arn("web-role")),
        ("proc", "arn:aws:sts::"),
        ("sso-legacy", "arn:aws:sts::"),
        ("sso-session", "arn:aws:sts::"),
    ],
)
async def test_every_kind_of_profile_works(
    world: World, profile: str, expected: str, mode: str
) -> None:
    is_error, text = await _call(
        world, READ, {"command": WHO, "profile": profile, "region": "us-east-1"}, mode
    )
    assert not is_error, text
    assert text.strip().startswith(expected), text


async def test_credential_source_environment_uses_the_environment_keys(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFROMENVIRONMENT1")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "e")
    is_error, text = await _call(
        world, READ, {"command": WHO, "profile": "from-env", "region": "us-east-1"}
    )
    assert not is_error, text
    assert text.strip().startswith(_arn("from-env"))


async def test_a_hundred_calls_with_a_role_profile_make_one_assume_role(world: World) -> None:
    server = build_server(world.settings, Engine(world.settings))
    async with Client(server, mode="auto") as client:
        for _ in range(100):
            result = await client.call_tool(
                READ, {"command": WHO, "profile": "role", "region": "us-east-1"}
            )
            assert not result.is_error, text_of(result)
    assert world.sts.actions["AssumeRole"] == 1
    assert world.sts.actions["GetCallerIdentity"] == 100


async def test_a_role_chain_assumes_each_hop_once(world: World) -> None:
    for _ in range(5):
        is_error, text = await _call(world, READ, {"command": WHO, "profile": "chain"})
        assert not is_error, text
    assert world.sts.actions["AssumeRole"] == 2  # reader, then second-hop from reader


async def test_sso_role_credentials_are_fetched_once(world: World) -> None:
    for _ in range(10):
        is_error, text = await _call(world, READ, {"command": WHO, "profile": "sso-legacy"})
        assert not is_error, text
    assert sum(world.portal.actions.values()) == 1
    # The portal had its own endpoint; STS went to the server-wide one.
    assert world.sts.actions["GetCallerIdentity"] == 10


async def test_concurrent_calls_on_different_role_profiles_do_not_cross(world: World) -> None:
    cases = [("chain", "second-hop"), ("external", "partner"), ("web", "web-role")] * 6
    got: list[tuple[str, str]] = []
    server = build_server(world.settings, Engine(world.settings))
    async with Client(server, mode="auto") as client:

        async def one(profile: str, role: str) -> None:
            result = await client.call_tool(READ, {"command": WHO, "profile": profile})
            assert not result.is_error, text_of(result)
            got.append((text_of(result).strip(), role))

        async with anyio.create_task_group() as group:
            for profile, role in cases:
                group.start_soon(one, profile, role)
    assert len(got) == len(cases)
    assert [arn for arn, role in got if not arn.startswith(_arn(role))] == []
    # reader and second-hop for the chain, partner: each once, whatever ran first
    assert world.sts.actions["AssumeRole"] == 3
    assert world.sts.actions["AssumeRoleWithWebIdentity"] == 1


@pytest.mark.parametrize(
    ("profile", "says", "never"),
    [
        ("sso-missing", ["aws sso login --profile sso-missing"], []),
        (
            "mfa",
            ["MFA", "arn:aws:iam::123456789012:mfa/alice", "aws sts get-session-token"],
            [],
        ),
        (
            "proc-failing",
            ["credential_process", "status 3", "token expired, run corp-login"],
            ["SECRET-ON-STDOUT", "more"],
        ),
        ("proc-garbage", ["credential_process", "valid credentials document"], ["SECRET-NOT-JSON"]),
        ("keyless", ["No AWS credentials found for profile 'keyless'", "--sandbox"], []),
        ("regionless", ["No region for profile 'regionless'", "`region` parameter"], ["aws configure"]),
        ("from-env", ["credential_source", "AWS_ACCESS_KEY_ID"], []),
        ("expired", ["ExpiredToken", "profile 'expired'", "(from the config file)"], []),
    ],
)
async def test_every_failure_names_the_profile_and_the_fix(
    world: World, profile: str, says: list[str], never: list[str]
) -> None:
    is_error, text = await _call(world, READ, {"command": WHO, "profile": profile})
    assert is_error, text
    for phrase in says:
        assert phrase in text, (phrase, text)
    for phrase in never:
        assert phrase not in text, (phrase, text)
    assert "Traceback" not in text and 'File "' not in text
    assert len(text) < 1200, text


async def test_an_expired_sso_token_says_to_sign_in_again(world: World) -> None:
    _token(LEGACY_START_URL, "2001-01-01T00:00:00Z")
    is_error, text = await _call(world, READ, {"command": WHO, "profile": "sso-legacy"})
    assert is_error
    assert "aws sso login --profile sso-legacy" in text
    assert "Traceback" not in text


async def test_mfa_never_reads_stdin_or_the_terminal(world: World) -> None:
    """botocore asks for the code with getpass, which falls back to stdin: on stdio, the
    protocol channel. The server must answer without waiting for input."""
    with anyio.fail_after(20):
        is_error, text = await _call(world, READ, {"command": WHO, "profile": "mfa"})
    assert is_error and "MFA" in text


# --- files, environment -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "line", "what"),
    [
        ("[default]\nregion = us-east-1\n[profile broken\nregion = x\n", 3, "closing `]`"),
        ("[default]\nregion = us-east-1\nthis is not a setting\n", 3, "not a `key = value`"),
        ("region = us-east-1\n[default]\n", 1, "before any [section]"),
        ("[default]\nregion = a\n[default]\nregion = b\n", 3, "appears a second time"),
        ("[default]\nregion = a\nregion = b\n", 3, "is set twice in [default]"),
        ("[default]\nregion = a\n\n[profile x]\nregion = b\n[profile x]\n", 6, "a second time"),
    ],
)
async def test_a_broken_config_file_is_named_with_its_line_and_fixed_without_a_restart(
    world: World, content: str, line: int, what: str
) -> None:
    good = world.config.read_text()
    world.config.write_text(content)
    server = build_server(world.settings, Engine(world.settings))
    async with Client(server, mode="auto") as client:
        broken = await client.call_tool(READ, {"command": WHO})
        profiles_result = await client.call_tool("list_aws_profiles", {})
        help_result = await client.call_tool(READ, {"command": "sts help"})
        world.config.write_text(good)
        fixed = await client.call_tool(READ, {"command": WHO})
    text = text_of(broken)
    assert broken.is_error
    assert f"{world.config}, line {line}" in text and what in text, text
    assert "bug in aws-mcp-server" not in text and "Traceback" not in text
    assert profiles_result.is_error and f"line {line}" in text_of(profiles_result)
    assert not help_result.is_error and "get-caller-identity" in text_of(help_result)
    assert not fixed.is_error, text_of(fixed)


async def test_aws_region_is_honoured_below_the_tool_and_the_named_profile(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "sa-east-1")
    zone = "ec2 describe-availability-zones --query AvailabilityZones[0].RegionName --output text"
    cases = [
        ({"command": zone}, "ap-south-1"),
        ({"command": zone, "region": "eu-north-1"}, "eu-north-1"),
        ({"command": zone, "profile": "sso-legacy"}, "us-west-2"),
        ({"command": zone, "profile": "role"}, "ap-south-1"),  # no region of its own
    ]
    for arguments, expected in cases:
        is_error, text = await _call(world, READ, arguments)
        assert not is_error, text
        assert text.strip() == expected, (arguments, text)


async def test_aws_profile_names_the_default_and_an_unknown_one_lists_the_known(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "role")
    is_error, text = await _call(world, READ, {"command": WHO, "region": "us-east-1"})
    assert not is_error and text.strip().startswith(_arn("reader")), text
    monkeypatch.setenv("AWS_PROFILE", "nosuch")
    is_error, text = await _call(world, READ, {"command": WHO})
    assert is_error
    assert "unknown profile 'nosuch'" in text and "sso-legacy" in text, text


def _cli(env_files: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "HOME": env_files.pop("HOME"),
        "AWS_EC2_METADATA_DISABLED": "true",
        **env_files,
    }
    return subprocess.run(
        [sys.executable, "-m", "aws_mcp_server", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_profiles_command_says_when_there_is_nothing_to_sign_with(tmp_path: Path) -> None:
    done = _cli(
        {
            "HOME": str(tmp_path),
            "AWS_CONFIG_FILE": str(tmp_path / "none"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none-either"),
        },
        "profiles",
    )
    assert done.returncode == 0
    assert done.stdout == ""
    assert "no AWS profiles or credentials found" in done.stderr
    assert "--sandbox" in done.stderr


def test_profiles_command_names_a_broken_file(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text("[default\nregion = us-east-1\n")
    done = _cli(
        {
            "HOME": str(tmp_path),
            "AWS_CONFIG_FILE": str(config),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        },
        "profiles",
    )
    assert done.returncode == 1
    assert f"{config}, line 1" in done.stderr
    assert "Traceback" not in done.stderr
