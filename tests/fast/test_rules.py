"""One rule-id scheme, listed in one place (rules.py) and in docs/classification.md."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from aws_mcp_server import classify, rules
from aws_mcp_server.adapter import resolution

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "aws_mcp_server"
SCHEME = re.compile(r"^[a-z]+(?:-[a-z]+)*:[a-z0-9]+(?:-[a-z0-9]+)*$")
FAMILIES = {rule.split(":")[0] for rule in rules.all_rules()}


def _literals() -> dict[str, set[str]]:
    """Every string in the package that looks like `family:name` for a known family."""
    found: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        if path.name == "rules.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value
                if SCHEME.match(text) and text.split(":")[0] in FAMILIES:
                    found.setdefault(text, set()).add(str(path.relative_to(PACKAGE)))
    return found


def test_every_rule_follows_one_scheme() -> None:
    bad = [rule for rule in rules.all_rules() if not SCHEME.match(rule)]
    assert bad == []


def test_every_rule_the_code_uses_is_listed() -> None:
    unlisted = {rule: where for rule, where in _literals().items() if rule not in rules.all_rules()}
    assert unlisted == {}


def test_every_classification_rule_is_listed_and_every_listed_one_is_used() -> None:
    produced = {classify.classify(r).rule for r in resolution.iter_commands()}
    produced.add(classify.classify(resolution.resolve(["ec2", "help"])).rule)
    produced.add(
        classify.classify(
            resolution.resolve(["s3api", "get-object", "--bucket", "b", "--key", "k", "o"])
        ).rule
    )
    listed = {rule for rule in rules.RULES if rule.startswith("classify:")}
    assert produced - listed == set()
    assert listed - produced == set()


def test_every_listed_rule_is_used() -> None:
    used = set(_literals()) | set(rules.setting_rules())
    unused = {
        rule for rule in rules.RULES if not rule.startswith("classify:") and rule not in used
    }
    assert unused == set()


def test_docs_list_the_rules() -> None:
    doc = (ROOT / "docs" / "classification.md").read_text()
    assert rules.markdown_table() in doc


def test_the_architecture_lists_every_patch() -> None:
    from aws_mcp_server.adapter import patches

    doc = (ROOT / "docs" / "architecture.md").read_text()
    for patch in patches.PATCHES:
        assert f"`{patch.target}`" in doc, patch.target
