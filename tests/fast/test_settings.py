"""Settings are declared once (flag, environment variable, help), validated once, at start-up."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from aws_mcp_server import cli
from aws_mcp_server.errors import ConfigError
from aws_mcp_server.settings import OPTIONS, Settings, check_startup, load, markdown_table

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_declared_once_with_a_flag_and_a_variable() -> None:
    fields = {field.name for field in dataclasses.fields(Settings)}
    declared = [option.field for option in OPTIONS]
    assert len(declared) == len(set(declared))
    assert set(declared) == fields
    assert len({option.flag for option in OPTIONS}) == len(OPTIONS)
    assert len({option.env for option in OPTIONS}) == len(OPTIONS)


def test_help_names_each_environment_variable() -> None:
    text = cli._parser().format_help()
    for option in OPTIONS:
        assert option.flag in text and option.env in text, option.flag


def test_docs_settings_table_is_generated_from_the_declarations() -> None:
    doc = (ROOT / "docs" / "settings.md").read_text()
    assert markdown_table() in doc


def test_flags_win_over_the_environment() -> None:
    env = {"AWS_MCP_TIMEOUT": "30", "AWS_MCP_SENSITIVE_READS": "APPROVE"}
    assert load({"timeout": 5.0}, env).timeout == 5.0
    assert load({}, env).timeout == 30.0
    assert load({}, env).sensitive_reads == "approve"


@pytest.mark.parametrize(
    ("environ", "rule"),
    [
        ({"AWS_MCP_PORT": "abc"}, "settings:port"),
        ({"AWS_MCP_READ_ONLY": "maybe"}, "settings:read-only"),
        ({"AWS_MCP_TIMEOUT": "-1"}, "settings:timeout"),
        ({"AWS_MCP_DENY_OPERATIONS": "terminate-instances"}, "settings:deny-operations"),
        ({"AWS_MCP_ALLOW_OPERATIONS": "ec2:"}, "settings:allow-operations"),
        ({"AWS_MCP_SENSITIVE_READS": "sometimes"}, "settings:sensitive-reads"),
        ({"AWS_MCP_WORKERS": "2", "AWS_MCP_TRANSPORT": "http"}, "settings:workers"),
        ({"AWS_MCP_WORKERS": "2", "AWS_MCP_STATELESS": "1"}, "settings:workers"),
        ({"AWS_MCP_WORKERS": "0"}, "settings:workers"),
        ({"AWS_MCP_WORKERS": "two"}, "settings:workers"),
    ],
)
def test_a_bad_value_is_refused_with_its_rule(environ: dict[str, str], rule: str) -> None:
    with pytest.raises(ConfigError) as info:
        load({}, environ)
    assert info.value.rule == rule


@pytest.mark.parametrize(
    "args",
    [
        ["--workdir", "{file}"],
        ["--audit-log", "{missing}/audit.log"],
        ["--audit-log", "{dir}"],
        ["--deny-operations", "terminate-instances"],
        ["--port", "abc"],
        ["--transport", "http", "--host", "0.0.0.0"],
        ["--transport", "http", "--workers", "2"],
        ["--workers", "2", "--stateless"],
    ],
)
def test_startup_says_no_in_one_line_and_exits_2(
    args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "a-dir").mkdir()
    filled = [
        a.format(file=tmp_path / "a-file", missing=tmp_path / "missing", dir=tmp_path / "a-dir")
        for a in args
    ]
    code = cli.main(
        [*filled, "--workdir", str(tmp_path / "work")] if "--workdir" not in args else filled
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("aws-mcp-server: ")
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 2, err


def test_workers_are_accepted_with_stateless_http_and_say_why_otherwise() -> None:
    assert load({"transport": "http", "stateless": True, "workers": 2}, {}).workers == 2
    assert load({}, {"AWS_MCP_WORKERS": "1"}).workers == 1  # one process: nothing to refuse
    with pytest.raises(ConfigError) as info:
        load({"transport": "http", "workers": 3}, {})
    assert "--stateless" in info.value.message and "--stateless" in info.value.fix


def test_startup_checks_pass_for_a_usable_workdir_and_audit_log(tmp_path: Path) -> None:
    check_startup(Settings(workdir=tmp_path / "new" / "work", audit_log=tmp_path / "audit.log"))


def test_worker_processes_share_their_claims_on_answered_confirmations(tmp_path: Path) -> None:
    """With --workers, a confirmation answered on one worker is refused on every other one (a
    replay), and a claim older than its lifetime is forgotten, as in one process's memory."""
    import os

    from aws_mcp_server.server import _SpentStates

    first, second = _SpentStates(60, tmp_path), _SpentStates(60, tmp_path)
    assert first.claim("a" * 64) is True
    assert second.claim("a" * 64) is False
    assert first.claim("a" * 64) is False
    assert second.claim("b" * 64) is True
    old = tmp_path / ("b" * 64)
    os.utime(old, (os.stat(old).st_atime - 61, os.stat(old).st_mtime - 61))
    assert first.claim("b" * 64) is True
    alone = _SpentStates(60)
    assert alone.claim("a" * 64) is True  # no directory: this process's memory only


def test_the_server_limits_malloc_arenas_where_glibc_allows_it() -> None:
    """Every call runs on a fresh thread; glibc would give each its own arena (see
    loading.SERVER_ARENAS). On glibc the limit is set; elsewhere nothing is touched."""
    import sys

    from aws_mcp_server import loading

    assert loading.tune_allocator() is (loading._glibc() is not None)
    if sys.platform.startswith("linux") and loading._glibc() is not None:
        assert loading.tune_allocator() is True
    loading.release_memory()  # returns free pages; never fails
