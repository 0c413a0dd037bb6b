"""A session's config-variable providers built as they are read (adapter/driver.py
`_LazyProviders`): every variable resolves exactly as in botocore's own store, in the session
and in the copies clients take, and a call builds only the chains it reads."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

import aws_mcp_server.adapter  # noqa: F401  (awscli before botocore)

# isort: split
import botocore.configprovider
import botocore.session

from aws_mcp_server.adapter import driver


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config"
    config.write_text(
        "[default]\nregion = us-west-2\nmax_attempts = 4\nretry_mode = standard\n"
        "s3 =\n  addressing_style = path\n  use_accelerate_endpoint = false\n"
        "[profile alt]\nregion = eu-central-1\ncli_pager =\nduration_seconds = 900\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_STS_REGIONAL_ENDPOINTS", "regional")
    monkeypatch.setenv("AWS_USE_FIPS_ENDPOINT", "false")


def _names() -> list[str]:
    return [*botocore.configprovider.BOTOCORE_DEFAUT_SESSION_VARIABLES, "s3", "proxies_config"]


@pytest.mark.parametrize("profile", [None, "alt"])
def test_every_variable_resolves_as_in_botocore_own_store(files: None, profile: str | None) -> None:
    ours = driver.new_driver(profile, None).session
    stock = botocore.session.Session(awscli_environment())
    if profile:
        stock.set_config_variable("profile", profile)
    mine = ours.get_component("config_store")
    theirs = stock.get_component("config_store")
    assert isinstance(mine, driver._LazyConfigStore)
    for name in _names():
        assert mine.get_config_variable(name) == theirs.get_config_variable(name), name
        # And in the copy a client takes, built or not.
    for store, other in ((copy.copy(mine), copy.copy(theirs)),):
        for name in _names():
            assert store.get_config_variable(name) == other.get_config_variable(name), name


def awscli_environment() -> dict[str, tuple[str | None, str | None, str | None, object]]:
    import awscli

    return dict(awscli.EnvironmentVariables)


def test_a_copy_keeps_overrides_and_replacements_apart(files: None) -> None:
    store = driver.new_driver().session.get_component("config_store")
    store.set_config_variable("region", "ap-south-1")
    copied = copy.copy(store)
    copied.set_config_variable("region", "sa-east-1")
    copied.set_config_provider("max_attempts", botocore.configprovider.ConstantProvider(9))
    assert store.get_config_variable("region") == "ap-south-1"
    assert copied.get_config_variable("region") == "sa-east-1"
    assert store.get_config_variable("max_attempts") == 4
    assert copied.get_config_variable("max_attempts") == 9
    assert store.get_config_variable("no_such_variable") is None
    assert copy.deepcopy(store).get_config_variable("region") == "ap-south-1"


def test_only_what_is_read_is_built(files: None) -> None:
    store = driver.new_driver().session.get_component("config_store")
    pending = [n for n in _names() if dict.__getitem__(store._mapping, n) is driver._PENDING]
    # botocore itself builds two here (awscli's session variables ca_bundle and output).
    assert len(pending) >= len(_names()) - 2 > 30
    store.get_config_variable("retry_mode")
    assert dict.__getitem__(store._mapping, "retry_mode") is not driver._PENDING
