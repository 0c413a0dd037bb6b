"""Lint, types and module boundaries are part of the test suite, so CI and a laptop agree."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "aws_mcp_server"


def test_ruff_is_clean() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "aws_mcp_server", "tests", "benchmarks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow
def test_mypy_strict_is_clean() -> None:
    proc = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


# Who may import what (docs/architecture.md): one owner per foreign library.
MCP_OWNERS = {"server.py", "http.py"}
AWS_LIBRARIES = {"awscli", "botocore", "boto3", "s3transfer", "docutils", "jmespath"}


def test_only_the_adapter_imports_awscli_and_botocore_and_only_server_and_http_import_mcp() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        imported = _imports(path)
        in_adapter = path.parent.name == "adapter"
        if imported & AWS_LIBRARIES and not in_adapter:
            offenders.append(f"{path.relative_to(PACKAGE)} imports awscli/botocore")
        if imported & {"mcp", "mcp_types", "starlette", "uvicorn"} and path.name not in MCP_OWNERS:
            offenders.append(f"{path.relative_to(PACKAGE)} imports mcp/starlette")
    assert offenders == []


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_the_guards_and_the_classifier_are_pure() -> None:
    """No awscli, no adapter, no network or process I/O: they take values and return verdicts."""
    impure = {"subprocess", "socket", "urllib.request", "http", "threading", "asyncio"}
    for path in [*sorted((PACKAGE / "guards").glob("*.py")), PACKAGE / "classify.py", PACKAGE / "model.py"]:
        imported = _imported_modules(path)
        assert not {name for name in imported if name.split(".")[0] in AWS_LIBRARIES}, path.name
        assert not {name for name in imported if name.startswith("aws_mcp_server.adapter")}, path.name
        assert not imported & impure, (path.name, imported & impure)


def test_nothing_in_the_package_prints_to_stdout() -> None:
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print":
                keywords = {k.arg for k in node.keywords}
                # The only stdout prints allowed are the CLI's own answers (classify, profiles).
                assert "file" in keywords or path.name in ("cli.py", "decision.py"), (
                    f"{path.name}:{node.lineno} prints to stdout"
                )
