"""The limits are settings with sane defaults, refused at start-up when out of range (naming the
setting), and handed to uvicorn as they are documented. The end-to-end behaviour at each limit is
tests/e2e/test_http_limits.py."""

from __future__ import annotations

import json

import pytest

from aws_mcp_server.errors import ConfigError
from aws_mcp_server.http import (
    MAX_HEADER_BYTES,
    _DeadlineH11Protocol,
    _id_problem,
    uvicorn_config,
    uvicorn_kwargs,
)
from aws_mcp_server.settings import (
    DEFAULT_MAX_CONNECTIONS,
    FILE_HEADROOM,
    Settings,
    check_open_files,
    connection_limit,
    load,
)


def test_the_defaults_are_512_connections_one_mib_bodies_and_ten_seconds_to_send_them() -> None:
    settings = Settings()
    assert settings.max_connections is None  # 512, or what the open-file limit leaves
    assert connection_limit(settings.max_connections, 1024) == 512
    assert settings.max_request_bytes == 1024 * 1024
    assert settings.request_timeout == 10.0
    assert settings.max_sessions == 256
    assert settings.session_idle_timeout == 1800.0


def test_the_default_connections_fit_the_usual_open_file_limit_of_1024() -> None:
    assert DEFAULT_MAX_CONNECTIONS + FILE_HEADROOM <= 1024
    check_open_files(DEFAULT_MAX_CONNECTIONS, 1024)


@pytest.mark.parametrize(
    ("limit", "served"), [(None, 512), (1024, 512), (4096, 512), (640, 512), (639, 511), (256, 128)]
)
def test_the_default_connections_adapt_to_a_lower_open_file_limit(
    limit: int | None, served: int
) -> None:
    # macOS starts shells at 256 open files: the server still starts, with fewer connections.
    assert connection_limit(None, limit) == served


def test_an_open_file_limit_too_low_for_any_useful_default_asks_for_a_higher_one() -> None:
    with pytest.raises(ConfigError) as info:
        connection_limit(None, FILE_HEADROOM + 10)
    assert info.value.rule == "settings:max-connections"
    assert info.value.fix.startswith("Raise the limit (ulimit -n 1024")


def test_a_given_max_connections_is_served_as_given_when_it_fits() -> None:
    assert connection_limit(100, 256) == 100
    with pytest.raises(ConfigError):
        connection_limit(200, 256)


def test_the_limits_are_read_from_flags_and_the_environment() -> None:
    env = {"AWS_MCP_MAX_CONNECTIONS": "10", "AWS_MCP_MAX_REQUEST_BYTES": "65536"}
    assert load({}, env).max_connections == 10
    assert load({}, env).max_request_bytes == 65536
    assert load({"max_connections": 3}, env).max_connections == 3


@pytest.mark.parametrize(
    ("environ", "rule"),
    [
        ({"AWS_MCP_MAX_CONNECTIONS": "0"}, "settings:max-connections"),
        ({"AWS_MCP_MAX_CONNECTIONS": "10001"}, "settings:max-connections"),
        ({"AWS_MCP_MAX_CONNECTIONS": "many"}, "settings:max-connections"),
        ({"AWS_MCP_MAX_REQUEST_BYTES": "1000"}, "settings:max-request-bytes"),
        ({"AWS_MCP_MAX_REQUEST_BYTES": str(65 * 1024 * 1024)}, "settings:max-request-bytes"),
        ({"AWS_MCP_MAX_REQUEST_BYTES": "1MiB"}, "settings:max-request-bytes"),
        # A deadline that is not a finite number is no deadline.
        ({"AWS_MCP_TIMEOUT": "nan"}, "settings:timeout"),
        ({"AWS_MCP_TIMEOUT": "inf"}, "settings:timeout"),
        ({"AWS_MCP_TIMEOUT": "0"}, "settings:timeout"),
        ({"AWS_MCP_TIMEOUT": "86401"}, "settings:timeout"),
        ({"AWS_MCP_OUTPUT_CAP": "999"}, "settings:output-cap"),
        ({"AWS_MCP_OUTPUT_CAP": "100000001"}, "settings:output-cap"),
        ({"AWS_MCP_MAX_CONCURRENCY": "0"}, "settings:max-concurrency"),
        ({"AWS_MCP_REQUEST_TIMEOUT": "0"}, "settings:request-timeout"),
        ({"AWS_MCP_REQUEST_TIMEOUT": "-1"}, "settings:request-timeout"),
        ({"AWS_MCP_REQUEST_TIMEOUT": "nan"}, "settings:request-timeout"),
        ({"AWS_MCP_REQUEST_TIMEOUT": "inf"}, "settings:request-timeout"),
        ({"AWS_MCP_REQUEST_TIMEOUT": "601"}, "settings:request-timeout"),
        ({"AWS_MCP_REQUEST_TIMEOUT": "soon"}, "settings:request-timeout"),
        ({"AWS_MCP_MAX_SESSIONS": "0"}, "settings:max-sessions"),
        ({"AWS_MCP_MAX_SESSIONS": "100001"}, "settings:max-sessions"),
        ({"AWS_MCP_MAX_SESSIONS": "lots"}, "settings:max-sessions"),
        ({"AWS_MCP_SESSION_IDLE_TIMEOUT": "0.5"}, "settings:session-idle-timeout"),
        ({"AWS_MCP_SESSION_IDLE_TIMEOUT": "nan"}, "settings:session-idle-timeout"),
        ({"AWS_MCP_SESSION_IDLE_TIMEOUT": "86401"}, "settings:session-idle-timeout"),
    ],
)
def test_a_limit_out_of_range_is_refused_naming_its_setting(
    environ: dict[str, str], rule: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load({}, environ)
    assert info.value.rule == rule
    if not rule.endswith("concurrency"):
        # The flag, or for a value that is no number at all the variable it came from.
        named = rule.removeprefix("settings:")
        variable = "AWS_MCP_" + named.upper().replace("-", "_")
        assert f"--{named}" in info.value.message or variable in info.value.message


@pytest.mark.parametrize(
    ("values"),
    [
        {"max_connections": 1}, {"max_connections": 10_000},
        {"max_request_bytes": 16 * 1024}, {"max_request_bytes": 64 * 1024 * 1024},
        {"timeout": 0.5}, {"timeout": 86_400.0}, {"output_cap": 1000},
        {"request_timeout": 0.1}, {"request_timeout": 600.0},
        {"max_sessions": 1}, {"max_sessions": 100_000},
        {"session_idle_timeout": 1.0}, {"session_idle_timeout": 86_400.0},
    ],
)
def test_the_ends_of_each_range_are_accepted(values: dict[str, float]) -> None:
    Settings(**values)  # type: ignore[arg-type]


def test_uvicorn_serves_exactly_max_connections_and_bounds_the_request_head() -> None:
    # uvicorn refuses when the connections open, the asking one included, reach its limit.
    kwargs = uvicorn_kwargs(Settings(transport="http", max_connections=5))
    assert kwargs["limit_concurrency"] == 6
    assert kwargs["h11_max_incomplete_event_size"] == MAX_HEADER_BYTES == 16 * 1024
    assert kwargs["http"] is _DeadlineH11Protocol
    settings = Settings(transport="http", request_timeout=2.5)
    config = uvicorn_config(settings, app=lambda *a: None)  # type: ignore[arg-type]
    assert config.limit_concurrency == 513
    assert config.h11_max_incomplete_event_size == MAX_HEADER_BYTES
    assert config.request_timeout == 2.5  # type: ignore[attr-defined]
    config.load()
    assert config.http_protocol_class is _DeadlineH11Protocol


@pytest.mark.parametrize(
    ("max_connections", "limit"),
    [(512, 1024), (768, 1024), (1, 257), (10_000, None), (10_000, 20_000)],
)
def test_max_connections_within_the_open_file_limit_less_headroom_is_accepted(
    max_connections: int, limit: int | None
) -> None:
    check_open_files(max_connections, limit)


@pytest.mark.parametrize(
    ("max_connections", "limit", "fix"),
    [
        (897, 1024, "Pass --max-connections 896 or less, or raise the limit"),
        (512, 256, "Pass --max-connections 128 or less, or raise the limit"),
        (10, 100, "Raise the limit"),  # room for no connection at all
    ],
)
def test_max_connections_beyond_the_open_file_limit_is_refused_saying_what_fits(
    max_connections: int, limit: int, fix: str
) -> None:
    with pytest.raises(ConfigError) as info:
        check_open_files(max_connections, limit)
    assert info.value.rule == "settings:max-connections"
    assert f"--max-connections {max_connections}" in info.value.message
    assert f"open-file limit of {limit} (ulimit -n)" in info.value.message
    assert info.value.fix.startswith(fix)


def _body(id_: object) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": id_, "method": "tools/list"}).encode()


@pytest.mark.parametrize("id_", [{"a": 1}, [1], 1.5, 1.0, True, False, None])
def test_an_id_that_is_not_a_string_or_an_integer_is_a_problem(id_: object) -> None:
    problem = _id_problem(_body(id_))
    assert problem is not None and problem.startswith('"id" must be a string or an integer')


@pytest.mark.parametrize(
    "body",
    [
        _body(1), _body(0), _body(-1), _body(2**70), _body("x"), _body(""),
        b'{"jsonrpc": "2.0", "method": "notifications/initialized"}',  # a notification
        b'{"jsonrpc": "2.0", "id": {}, "result": {}}',  # a response: not a request
        b'{"jsonrpc": "2.0", "method": "x", "params": {"id": {}}}',  # "id" deeper down
        b"not json", b"[" * 100_000,  # the SDK's parse error stands
    ],
)
def test_anything_else_is_left_to_the_sdk(body: bytes) -> None:
    assert _id_problem(body) is None


def test_a_long_id_is_shown_shortened() -> None:
    problem = _id_problem(_body({"k": "v" * 500}))
    assert problem is not None and "v" * 100 not in problem
