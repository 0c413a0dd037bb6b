"""The limits are settings with sane defaults, refused at start-up when out of range (naming the
setting), and handed to uvicorn as they are documented. The end-to-end behaviour at each limit is
tests/e2e/test_http_limits.py."""

from __future__ import annotations

import json

import pytest

from aws_mcp_server.errors import ConfigError
from aws_mcp_server.http import MAX_HEADER_BYTES, _id_problem, uvicorn_config, uvicorn_kwargs
from aws_mcp_server.settings import Settings, load


def test_the_defaults_are_64_connections_and_one_mib_bodies() -> None:
    settings = Settings()
    assert settings.max_connections == 64
    assert settings.max_request_bytes == 1024 * 1024


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
    ],
)
def test_the_ends_of_each_range_are_accepted(values: dict[str, float]) -> None:
    Settings(**values)  # type: ignore[arg-type]


def test_uvicorn_serves_exactly_max_connections_and_bounds_the_request_head() -> None:
    # uvicorn refuses when the connections open, the asking one included, reach its limit.
    kwargs = uvicorn_kwargs(Settings(transport="http", max_connections=5))
    assert kwargs["limit_concurrency"] == 6
    assert kwargs["h11_max_incomplete_event_size"] == MAX_HEADER_BYTES == 16 * 1024
    assert kwargs["http"] == "h11"
    config = uvicorn_config(Settings(transport="http"), app=lambda *a: None)  # type: ignore[arg-type]
    assert config.limit_concurrency == 65
    assert config.h11_max_incomplete_event_size == MAX_HEADER_BYTES


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
