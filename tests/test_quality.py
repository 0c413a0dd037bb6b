"""Lint, types and module boundaries are part of the test suite, so CI and a laptop agree."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
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


# Who may import what (DESIGN §1): one owner per foreign library.
AWS_OWNERS = {
    "driver.py",
    "engine.py",
    "catalog.py",
    "runtime_guards.py",
    "helptext.py",
    "credentials.py",
}
MCP_OWNERS = {"server.py", "http.py"}


def test_only_the_owners_import_awscli_botocore_and_mcp() -> None:
    offenders = []
    for path in sorted(PACKAGE.glob("*.py")):
        imported = _imports(path)
        if imported & {"awscli", "botocore", "boto3", "s3transfer"} and path.name not in AWS_OWNERS:
            offenders.append(f"{path.name} imports awscli/botocore")
        if imported & {"mcp", "mcp_types", "starlette", "uvicorn"} and path.name not in MCP_OWNERS:
            offenders.append(f"{path.name} imports mcp/starlette")
    assert offenders == []


def test_pure_modules_do_no_io() -> None:
    for name in ("classify.py", "command.py", "model.py", "shapes.py"):
        path = PACKAGE / name
        if not path.exists():
            continue
        imported = _imports(path)
        assert not imported & {"subprocess", "socket", "urllib", "http", "awscli", "botocore"}, name


def test_nothing_in_the_package_prints_to_stdout() -> None:
    for path in sorted(PACKAGE.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print":
                keywords = {k.arg for k in node.keywords}
                # The only stdout prints allowed are the CLI's own answers (classify, profiles).
                assert "file" in keywords or path.name in ("cli.py", "decision.py"), (
                    f"{path.name}:{node.lineno} prints to stdout"
                )
