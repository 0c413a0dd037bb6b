"""Every operation of every service in the installed awscli gets a verdict, and none whose name
starts with a mutating verb is a read unless a curated entry says why."""

from __future__ import annotations

from collections import Counter

import pytest

from aws_mcp_server import catalog, classify
from aws_mcp_server.model import Resolved, Verdict


@pytest.fixture(scope="module")
def sweep() -> list[tuple[Resolved, Verdict]]:
    return [(r, classify.classify(r)) for r in catalog.iter_commands()]


def test_every_command_gets_a_read_or_write_verdict(sweep: list[tuple[Resolved, Verdict]]) -> None:
    assert len(sweep) > 15_000
    for resolved, verdict in sweep:
        assert verdict.verdict in ("read", "write"), resolved.command_name
        assert verdict.rule and verdict.reason


def test_no_mutating_verb_is_read_without_a_curated_entry(
    sweep: list[tuple[Resolved, Verdict]],
) -> None:
    offenders = [
        f"{r.command_name} ({r.operation_name}, {v.rule})"
        for r, v in sweep
        if v.verdict == "read"
        and not r.is_custom
        and r.operation_name
        and classify.is_mutating_name(r.operation_name)
        and v.rule != "override"
    ]
    assert offenders == []


def test_curated_read_overrides_with_mutating_names_are_few(
    sweep: list[tuple[Resolved, Verdict]],
) -> None:
    vouched = [
        r.command_name
        for r, v in sweep
        if v.verdict == "read"
        and v.rule == "override"
        and classify.is_mutating_name(r.operation_name or "")
    ]
    assert len(vouched) <= 5, vouched


def test_credential_minting_is_never_read(sweep: list[tuple[Resolved, Verdict]]) -> None:
    by_name = {r.command_name: v for r, v in sweep}
    for name in (
        "sts get-session-token",
        "sts assume-role",
        "sts get-federation-token",
        "iam create-access-key",
        "cognito-identity get-credentials-for-identity",
        "sso get-role-credentials",
        "sqs receive-message",
    ):
        assert by_name[name].verdict == "write", name


def test_sweep_counts(
    sweep: list[tuple[Resolved, Verdict]], capsys: pytest.CaptureFixture[str]
) -> None:
    """Record the numbers (run with -s to see them); and keep them in a plausible range."""
    verdicts = Counter(v.verdict for _, v in sweep)
    rules = Counter((v.verdict, v.rule) for _, v in sweep)
    with capsys.disabled():
        print(f"\nsweep: {len(sweep)} commands: {dict(verdicts)}")
        for (kind, rule), count in sorted(rules.items()):
            print(f"  {kind:5} {rule:18} {count}")
    assert verdicts["read"] > 5_000
    assert verdicts["write"] > 5_000
    assert rules[("write", "default-write")] < 0.05 * len(sweep)
