"""botocore clients shared between calls that would build the very same one (adapter/driver.py
`_SharedClients`): the same client back only for the same everything, one call at a time, never
a client something was registered on, never one of a stopped call, never a service whose clients
would carry a handler awscli makes per call."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import aws_mcp_server.adapter  # noqa: F401  (awscli before botocore)

# isort: split
import awscli
import botocore
import botocore.config

from aws_mcp_server import profiles
from aws_mcp_server.adapter import cli_handlers, driver

ENDPOINT = "http://127.0.0.1:9"


@pytest.fixture(autouse=True)
def _profiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    config, creds = tmp_path / "config", tmp_path / "credentials"
    config.write_text("[default]\nregion = us-east-1\n[profile alt]\nregion = eu-west-1\n")
    creds.write_text(
        "[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = s1\n"
        "[alt]\naws_access_key_id = AKIAALT\naws_secret_access_key = s2\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    # The files were written just now: taken as settled here (see the test on files in flux).
    monkeypatch.setattr(profiles, "_SETTLED_NS", 0)
    cli_handlers.prepare()  # as the server and every Engine do: sessions set up from templates
    driver.CLIENTS.clear()
    yield
    driver.CLIENTS.clear()


def _client(service: str = "s3", profile: str | None = None, region: str | None = None,
            endpoint: str | None = ENDPOINT, **kwargs: Any) -> tuple[Any, Any]:
    cli = driver.new_driver(profile, region, endpoint_url=endpoint)
    return cli, cli.session.create_client(service, **kwargs)


def _again(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
    """A call that builds a client and ends, then another call with the same arguments."""
    cli, first = _client(*args, **kwargs)
    driver.release(cli, reusable=True)
    return first, _client(*args, **kwargs)[1]


def test_the_next_call_with_the_same_everything_gets_the_same_client() -> None:
    first, second = _again("s3", None, "us-east-1")
    assert second is first
    assert first.meta.region_name == "us-east-1"
    assert first.meta.endpoint_url == ENDPOINT


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ({"region": "us-east-1"}, {"region": "eu-west-1"}),
        ({}, {"profile": "alt"}),
        ({}, {"endpoint": "http://127.0.0.1:10"}),
        ({}, {"config": botocore.config.Config(read_timeout=5)}),
        ({}, {"config": botocore.config.Config(signature_version=botocore.UNSIGNED)}),
        ({}, {"aws_access_key_id": "AKIAX", "aws_secret_access_key": "x"}),
        ({"service": "s3"}, {"service": "sqs"}),
    ],
)
def test_a_call_that_differs_in_anything_gets_a_client_of_its_own(
    one: dict[str, Any], other: dict[str, Any]
) -> None:
    cli, first = _client(**one)
    driver.release(cli, reusable=True)
    second = _client(**other)[1]
    assert second is not first
    # And the first is still there for a call like its own.
    assert _client(**one)[1] is first


def test_a_changed_environment_or_config_file_gets_a_new_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli, first = _client()
    driver.release(cli, reusable=True)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "7")
    cli, second = _client()
    assert second is not first
    driver.release(cli, reusable=True)
    monkeypatch.delenv("AWS_MAX_ATTEMPTS")
    config = tmp_path / "config"
    config.write_text(config.read_text() + "max_attempts = 9\n")
    assert _client()[1] not in (first, second)


def test_one_call_at_a_time_holds_a_client() -> None:
    cli, first = _client()
    # The first call has not ended: a second call at the same time builds its own.
    other_cli, second = _client()
    assert second is not first
    driver.release(cli, reusable=True)
    driver.release(other_cli, reusable=True)
    taken = {id(_client()[1]), id(_client()[1])}
    assert taken == {id(first), id(second)}


def test_a_session_not_set_up_from_the_templates_keeps_its_clients() -> None:
    cli = driver.new_driver(endpoint_url=ENDPOINT)
    cli.session._aws_mcp_log = None  # as a session whose awscli handlers were registered by awscli
    first = cli.session.create_client("s3")
    driver.release(cli, reusable=True)
    assert _client()[1] is not first


def test_a_stopped_call_gives_nothing_back() -> None:
    cli, first = _client()
    driver.release(cli, reusable=False)
    assert _client()[1] is not first


def test_a_client_something_registered_on_is_not_kept() -> None:
    cli, first = _client()
    first.meta.events.register("before-call.s3", lambda **kwargs: None)
    driver.release(cli, reusable=True)
    assert _client()[1] is not first


def test_a_session_with_a_handler_on_a_client_event_shares_no_client() -> None:
    cli = driver.new_driver(endpoint_url=ENDPOINT)
    cli.session.register("before-call.s3", lambda **kwargs: None)
    first = cli.session.create_client("s3")
    driver.release(cli, reusable=True)
    assert _client()[1] is not first
    # A handler on a command-line event, which no client emits, changes nothing.
    cli = driver.new_driver(endpoint_url=ENDPOINT)
    cli.session.register("calling-command.s3api.list-buckets", lambda **kwargs: None)
    first = cli.session.create_client("s3")
    driver.release(cli, reusable=True)
    assert _client()[1] is first


def test_services_with_a_per_call_handler_on_a_client_event_are_never_shared() -> None:
    # Derived from awscli's registrations: the IAM virtual-MFA wrapper keeps the call's
    # --outfile and writes it after CreateVirtualMFADevice.
    excluded = driver._per_call_client_services()
    assert excluded is not None and "iam" in excluded
    first, second = _again("iam")
    assert second is not first


def test_no_botocore_client_emits_a_command_line_event() -> None:
    source = "\n".join(
        path.read_text(encoding="utf-8", errors="replace")
        for path in Path(botocore.__file__).parent.rglob("*.py")
    )
    for prefix in driver.CLI_EVENTS:
        name = prefix.rstrip(".")
        assert f"'{name}" not in source and f'"{name}' not in source, name
    # ...and awscli does emit each of them (the list names real events).
    cli_source = "\n".join(
        path.read_text(encoding="utf-8", errors="replace")
        for path in Path(awscli.__file__).parent.rglob("*.py")
        if "botocore" not in path.parts
    )
    for prefix in driver.CLI_EVENTS:
        assert prefix.rstrip(".") in cli_source, prefix


def test_nothing_is_shared_while_a_config_file_may_be_changing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A file changed in the last two seconds could change again within its timestamp's
    granularity at the same size: while it may, no call shares a client, a parse of the files
    or resolved credentials with another."""
    monkeypatch.setattr(profiles, "_SETTLED_NS", 3600 * 10**9)
    first, second = _again()
    assert first is not second
    one, two = driver.new_driver().session, driver.new_driver().session
    assert one.full_config == two.full_config and one.full_config is not two.full_config
    assert one.get_credentials() is not two.get_credentials()
    monkeypatch.setattr(profiles, "_SETTLED_NS", 0)
    first, second = _again()
    assert first is second
