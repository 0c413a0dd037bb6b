"""Windows users write backslash paths: they must never be mangled, and the workdir guard must
contain them by Windows rules (drive letters, UNC shares, case-insensitive names). The guard is
run here with `ntpath`, so these rules are checked on any OS."""

from __future__ import annotations

import ast
import ntpath
import sys
from pathlib import Path, PureWindowsPath

import pytest

from aws_mcp_server import settings as settings_module
from aws_mcp_server.guards import paths as policy
from aws_mcp_server.guards.tokens import tokenize
from aws_mcp_server.model import Verdict
from aws_mcp_server.settings import Settings

WORKDIR = PureWindowsPath(r"C:\Users\ada\AppData\Local\aws-mcp-server\workdir")
SETTINGS = Settings(workdir=Path(str(WORKDIR)))


def _judge(value: str) -> str:
    found = policy.local_path(value, SETTINGS, pathmod=ntpath)
    return found.rule if isinstance(found, Verdict) else str(found)


@pytest.mark.parametrize(
    ("value", "inside"),
    [
        ("report.csv", rf"{WORKDIR}\report.csv"),
        (r"sub\report.csv", rf"{WORKDIR}\sub\report.csv"),
        ("sub/report.csv", rf"{WORKDIR}\sub\report.csv"),
        (rf"{WORKDIR}\a.txt", rf"{WORKDIR}\a.txt"),
        # Windows names are case-insensitive
        (r"c:\users\ADA\appdata\local\AWS-MCP-SERVER\WORKDIR\b.txt", None),
        # drive-relative on the workdir's drive: relative to the current directory, the workdir
        ("C:c.txt", rf"{WORKDIR}\c.txt"),
    ],
)
def test_paths_inside_the_workdir_by_windows_rules(value: str, inside: str | None) -> None:
    judged = _judge(value)
    assert not judged.startswith("path:"), judged
    if inside is not None:
        assert judged == inside


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        (r"C:\data\f.txt", "path:outside-workdir"),
        ("C:/data/f.txt", "path:outside-workdir"),
        (r"D:\f.txt", "path:outside-workdir"),
        ("D:f.txt", "path:outside-workdir"),
        (r"\\server\share\f.txt", "path:outside-workdir"),
        (r"\\?\C:\Windows\win.ini", "path:outside-workdir"),
        (r"\Windows\win.ini", "path:outside-workdir"),
        (r"..\..\..\Roaming\secret", "path:outside-workdir"),
        (r"sub\..\..\x", "path:outside-workdir"),
        (r"%USERPROFILE%\.aws\credentials", "path:expansion"),
        ("-", "path:stdin"),
    ],
)
def test_paths_outside_the_workdir_by_windows_rules(value: str, rule: str) -> None:
    assert _judge(value) == rule


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        (r"s3 cp C:\Users\ada\Documents\f.txt s3://b/f.txt", "path:outside-workdir"),
        (r"s3 cp s3://b/f.txt C:\temp\f.txt", "path:outside-workdir"),
        ("s3 cp '\\\\fileserver\\share\\f.txt' s3://b/f.txt", "path:outside-workdir"),
        (r"s3 cp file://C:/Windows/win.ini s3://b/w", "path:outside-workdir"),
    ],
)
def test_a_tokenized_windows_path_reaches_the_guard_whole(text: str, rule: str) -> None:
    words = tokenize(text)
    local = [w for w in words[2:] if not w.startswith("s3://")]
    assert len(local) == 1
    value = local[0].removeprefix("file://")
    assert _judge(value) == rule, (words, value)


def test_the_default_workdir_on_windows_is_under_localappdata(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("LOCALAPPDATA", r"C:\Users\ada\AppData\Local")
    workdir = settings_module.default_workdir()
    assert str(workdir).startswith(r"C:\Users\ada\AppData\Local")
    assert workdir.parts[-2:] == ("aws-mcp-server", "workdir")


POSIX_ONLY = {"fcntl", "pwd", "grp", "resource", "termios", "tty", "pty", "posix", "crypt"}


def test_the_package_imports_nothing_posix_only() -> None:
    package = Path(__file__).resolve().parents[2] / "aws_mcp_server"
    offenders = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module.split(".")[0]]
            offenders += [f"{path.name}: {name}" for name in names if name in POSIX_ONLY]
    assert offenders == []
