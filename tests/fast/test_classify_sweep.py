"""Every command of every service in the installed awscli gets a verdict, and the rules that look
at what an operation does hold across all of them: no read returns AWS credentials, no read is
named or documented with a side-effect verb, and every read whose model shows a secret is
sensitive, unless a curated entry says why. The curated tables have no dead entries."""

from __future__ import annotations

from collections import Counter

import pytest

from aws_mcp_server import classify
from aws_mcp_server.adapter import resolution
from aws_mcp_server.model import Resolved, Verdict

Sweep = list[tuple[Resolved, Verdict]]


@pytest.fixture(scope="module")
def sweep() -> Sweep:
    return [(r, classify.classify(r)) for r in resolution.iter_commands()]


@pytest.fixture(scope="module")
def by_name(sweep: Sweep) -> dict[str, Verdict]:
    return {r.command_name: v for r, v in sweep}


def _label(resolved: Resolved) -> str:
    return f"{resolved.service} {resolved.operation}"


def _operations(sweep: Sweep) -> Sweep:
    """API operations (not customizations, waiters or help), where the model rules apply."""
    return [(r, v) for r, v in sweep if not r.is_custom and r.operation_name]


def _side_effect_verb(resolved: Resolved) -> str | None:
    verb = classify.leading_verb(resolved.operation_name or "")
    if verb in classify.MUTATING_VERBS or verb in classify.SIDE_EFFECT_VERBS:
        return verb
    if resolved.facts.documentation_verb in classify.SIDE_EFFECT_VERBS:
        return resolved.facts.documentation_verb
    return None


def test_every_command_gets_a_read_or_write_verdict(sweep: Sweep) -> None:
    assert len(sweep) > 15_000
    for resolved, verdict in sweep:
        assert verdict.verdict in ("read", "write"), resolved.command_name
        assert verdict.rule and verdict.reason


def test_no_read_returns_aws_credentials(sweep: Sweep) -> None:
    offenders = [
        f"{r.command_name} ({r.facts.credential_members[0]}, {v.rule})"
        for r, v in _operations(sweep)
        if v.verdict == "read"
        and r.facts.credential_members
        and v.rule != "classify:override"
        and classify.exemption("output-credentials", _label(r)) is None
    ]
    assert offenders == []


def test_no_side_effect_verb_is_read_without_an_exemption(sweep: Sweep) -> None:
    offenders = [
        f"{r.command_name} ({_side_effect_verb(r)}, {v.rule})"
        for r, v in _operations(sweep)
        if v.verdict == "read"
        and _side_effect_verb(r)
        and v.rule != "classify:override"
        and classify.exemption("verbs", _label(r)) is None
    ]
    assert offenders == []


def test_read_overrides_do_not_vouch_for_verbs(sweep: Sweep) -> None:
    """Reads that only look like writes belong in data/exemptions.json, with the rule's reason."""
    vouched = [
        r.command_name
        for r, v in _operations(sweep)
        if v.rule == "classify:override" and v.verdict == "read" and _side_effect_verb(r)
    ]
    assert vouched == []


@pytest.mark.parametrize("table", ["verbs", "output-credentials"])
def test_every_exemption_has_a_reason_and_keeps_a_read(sweep: Sweep, table: str) -> None:
    """Each entry matches a command its rule would make a write, and that command is a read
    whose reason quotes the entry: no entry is dead, misspelt or shadowed by an override."""
    for key, entry in classify.exemptions()[table].items():
        reason = entry["reason"].strip()
        assert reason, key
        kept = [
            r.command_name
            for r, v in _operations(sweep)
            if classify.exemption(table, _label(r)) == (key, entry["reason"])
            and (_side_effect_verb(r) if table == "verbs" else r.facts.credential_members)
            and v.verdict == "read"
            and reason in v.reason
        ]
        assert kept, f"{table} exemption {key!r} keeps no command a read"


def test_a_glob_exemption_covers_a_family(sweep: Sweep) -> None:
    detects = [
        v
        for r, v in _operations(sweep)
        if r.service == "comprehend"
        and (r.operation or "").startswith(("detect-", "batch-detect-"))
    ]
    assert len(detects) >= 10
    assert all(v.verdict == "read" for v in detects)


def test_credential_minting_is_never_read(by_name: dict[str, Verdict]) -> None:
    for name in (
        "sts get-session-token",
        "sts assume-role",
        "sts get-federation-token",
        "iam create-access-key",
        "cognito-identity get-credentials-for-identity",
        "sso get-role-credentials",
        "sqs receive-message",
        "lakeformation get-temporary-glue-table-credentials",
        "lakeformation get-temporary-data-location-credentials",
        "s3control get-data-access",
        "ssm get-access-token",
        "datazone get-environment-credentials",
        "codepipeline get-job-details",
    ):
        assert by_name[name].verdict == "write", name


def test_credentials_rule_names_the_member(by_name: dict[str, Verdict]) -> None:
    verdict = by_name["lakeformation get-temporary-glue-table-credentials"]
    assert verdict.rule == "classify:output-credentials"
    assert "returns AWS credentials (SecretAccessKey)" in verdict.reason
    verdict = by_name["s3control get-data-access"]
    assert "(Credentials.SecretAccessKey)" in verdict.reason


def test_key_listings_and_identity_are_plain_reads(by_name: dict[str, Verdict]) -> None:
    """Access key ids and ARNs are not credentials."""
    for name in (
        "iam list-access-keys",
        "iam get-access-key-last-used",
        "sts get-caller-identity",
        "cognito-sync list-records",
        "kms describe-custom-key-stores",
        "guardduty get-findings",
    ):
        assert by_name[name].verdict == "read", name
        assert not by_name[name].sensitive, name


def test_reads_with_side_effects_are_writes(by_name: dict[str, Verdict]) -> None:
    for name in (
        "iam generate-credential-report",
        "configservice deliver-config-snapshot",
        "cloudformation detect-stack-drift",
        "cognito-idp get-user-attribute-verification-code",
        "iot test-invoke-authorizer",
        "transfer test-identity-provider",
    ):
        assert by_name[name].verdict == "write", name
        assert by_name[name].rule == "classify:side-effect-verb", name


def test_pure_computations_stay_reads(by_name: dict[str, Verdict]) -> None:
    for name in (
        "events test-event-pattern",
        "logs test-metric-filter",
        "comprehend detect-sentiment",
        "rekognition detect-labels",
        "iot test-authorization",
    ):
        assert by_name[name].verdict == "read", name


def test_reads_whose_model_shows_a_secret_are_sensitive(sweep: Sweep) -> None:
    curated = classify.sensitive_operations()
    offenders = [
        f"{r.command_name} ({', '.join(r.facts.secret_members)})"
        for r, v in _operations(sweep)
        if v.verdict == "read"
        and r.facts.secret_members
        and not v.sensitive
        and _label(r) not in curated
    ]
    assert offenders == []


def test_named_secret_reads_are_sensitive(by_name: dict[str, Verdict]) -> None:
    for name, member in (
        ("secretsmanager get-secret-value", "SecretString"),
        ("cognito-idp describe-user-pool-client", "UserPoolClient.ClientSecret"),
        ("ec2 get-password-data", "PasswordData"),
        ("acm export-certificate", "PrivateKey"),
        ("ecr get-authorization-token", ""),
    ):
        verdict = by_name[name]
        assert verdict.verdict == "read" and verdict.sensitive, name
        assert member in verdict.reason, name


def test_curated_not_sensitive_entries_name_a_modelled_secret(sweep: Sweep) -> None:
    """`"sensitive": false` overrides the model only where the model shows a secret."""
    shown = {_label(r) for r, _ in _operations(sweep) if r.facts.secret_members}
    for key, entry in classify.sensitive_operations().items():
        if entry.get("sensitive") is False:
            assert key in shown, key


def test_curated_sensitive_entries_add_what_the_model_cannot_show(sweep: Sweep) -> None:
    """An unconditional entry for a read whose model already shows the secret is redundant, and
    an entry for a write is dead (only reads are labelled)."""
    reads = {_label(r): r for r, v in _operations(sweep) if v.verdict == "read"}
    for key, entry in classify.sensitive_operations().items():
        if entry.get("sensitive") is False:
            continue
        assert key in reads, f"{key} is not a read: the entry is never used"
        if not entry.get("when"):
            assert not reads[key].facts.secret_members, f"{key}: the model already shows it"


def test_sweep_counts(sweep: Sweep) -> None:
    """Keep the numbers in a plausible range (`python scripts/sweep_verdicts.py` prints them)."""
    verdicts = Counter(v.verdict for _, v in sweep)
    rules = Counter((v.verdict, v.rule) for _, v in sweep)
    assert verdicts["read"] > 5_000
    assert verdicts["write"] > 5_000
    assert rules[("write", "classify:default-write")] < 0.05 * len(sweep)
    assert rules[("write", "classify:output-credentials")] >= 10
    assert rules[("write", "classify:side-effect-verb")] >= 10
