"""The profile list (profiles.py) is parsed again whenever either file may have changed, and
only then: every tool call resolves its profile from it."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from aws_mcp_server import profiles
from aws_mcp_server.errors import ProfileError

HOUR_AGO = time.time() - 3600


def _files(tmp_path: Path, config: str, credentials: str = "") -> dict[str, str]:
    (tmp_path / "config").write_text(config)
    (tmp_path / "credentials").write_text(credentials)
    return {
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
    }


def _settled_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config: str) -> dict[str, str]:
    """Files written an hour ago (their mtime), taken as settled (ctime is now and cannot be set)."""
    env = _files(tmp_path, config)
    _settle(env)
    monkeypatch.setattr(profiles, "_SETTLED_NS", 0)
    return env


def _settle(env: dict[str, str]) -> None:
    # A file last written an hour ago, as a user's config usually is. ctime cannot be set: it is
    # now, so the files settle after the two seconds `_SETTLED_NS` asks.
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        os.utime(env[name], (HOUR_AGO, HOUR_AGO))


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    seen: list[Path] = []
    real = profiles._read

    def counting(path: Path) -> Any:
        seen.append(path)
        return real(path)

    monkeypatch.setattr(profiles, "_read", counting)
    monkeypatch.setattr(profiles, "_LISTED", profiles._Listed())
    return seen


def _names(env: dict[str, str]) -> list[str]:
    return [p.name for p in profiles.list_profiles(env)]


def test_settled_files_are_parsed_once(tmp_path: Path, parses: list[Path],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    env = _settled_files(tmp_path, monkeypatch, "[profile aaaa]\nregion = eu-west-1\n")
    assert _names(env) == ["aaaa"]
    assert _names(env) == ["aaaa"]
    assert len(parses) == 2  # the two files, once
    first, second = profiles.list_profiles(env), profiles.list_profiles(env)
    assert first == second and first is not second  # a caller's list is its own


def test_a_rewrite_of_the_same_size_and_mtime_is_seen(tmp_path: Path, parses: list[Path],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    env = _settled_files(tmp_path, monkeypatch, "[profile aaaa]\n")
    assert _names(env) == ["aaaa"]
    time.sleep(0.01)
    Path(env["AWS_CONFIG_FILE"]).write_text("[profile bbbb]\n")
    _settle(env)  # the same size and the same mtime: the inode change time still moved
    assert _names(env) == ["bbbb"]


def test_a_file_changed_moments_ago_is_read_every_time(tmp_path: Path,
                                                       parses: list[Path]) -> None:
    env = _files(tmp_path, "[profile aaaa]\n")
    assert _names(env) == ["aaaa"]
    assert _names(env) == ["aaaa"]
    assert len(parses) == 4
    # Within the file system's timestamp granularity, a same-size write could keep every stat
    # field but the contents: a fresh file is never kept, so it is seen.
    Path(env["AWS_CONFIG_FILE"]).write_text("[profile bbbb]\n")
    assert _names(env) == ["bbbb"]


def test_the_default_profile_variable_is_part_of_the_key(tmp_path: Path, parses: list[Path],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    env = _settled_files(tmp_path, monkeypatch, "[profile aaaa]\n[profile bbbb]\n")
    assert [p.name for p in profiles.list_profiles(env) if p.is_default] == []
    env["AWS_PROFILE"] = "bbbb"
    assert [p.name for p in profiles.list_profiles(env) if p.is_default] == ["bbbb"]


def test_a_broken_file_is_never_kept(tmp_path: Path, parses: list[Path],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    env = _settled_files(tmp_path, monkeypatch, "[profile aaaa\n")
    for _ in range(2):
        with pytest.raises(ProfileError, match="closing"):
            profiles.list_profiles(env)
    Path(env["AWS_CONFIG_FILE"]).write_text("[profile aaaa]\n")
    assert _names(env) == ["aaaa"]


def test_a_file_that_appears_is_seen(tmp_path: Path, parses: list[Path],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    env = _files(tmp_path, "[profile aaaa]\n")
    os.unlink(env["AWS_SHARED_CREDENTIALS_FILE"])
    _settle({"AWS_CONFIG_FILE": env["AWS_CONFIG_FILE"], "AWS_SHARED_CREDENTIALS_FILE": env["AWS_CONFIG_FILE"]})
    monkeypatch.setattr(profiles, "_SETTLED_NS", 0)
    assert _names(env) == ["aaaa"]
    assert _names(env) == ["aaaa"]
    Path(env["AWS_SHARED_CREDENTIALS_FILE"]).write_text("[cccc]\naws_access_key_id = x\n")
    assert _names(env) == ["aaaa", "cccc"]
