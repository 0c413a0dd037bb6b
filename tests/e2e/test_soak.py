"""The soak harness's promises (benchmarks/soak, issue 14) at a size that runs in about a minute:
the server keeps answering, loses no audit record, never leaks one call's output or credentials
into another, and never runs a command it refused.

Everything goes through the server's public surfaces: the console entry as a subprocess, its
tools over stdio and HTTP, its `--audit-log`, and `decide()`. moto runs in its own process.
Latency and memory numbers belong to `python -m benchmarks.soak`; nothing here asserts a time.
A promise the product breaks today is an `xfail(strict=True)` naming the bug, so fixing it
turns the test red until the marker goes.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from benchmarks.soak import SCENARIOS, faults, http_abuse, infra
from benchmarks.soak.scale import QUICK, Scale

pytestmark = pytest.mark.slow

# Deadlines are generous: the machine may be loaded, and a call that times out is not what these
# tests are about (except where a test says so).
SCALE = dataclasses.replace(
    QUICK, fuzz_decide=1_000, fuzz_stdio=150, conc_calls=50, conc_timeout=15.0, fault_timeout=3.0,
    fault_watch=(0.0, 2.0), big_file_mb=24, list_objects=100, abuse_requests=400,
    abuse_connections=8, slowloris=4, slowloris_seconds=4.0, session_flood=10,
    # Enough calls per phase that a 4 KiB page of slack cannot hold them all on a full disk.
    audit_calls=16,
)


def _overrides(scale: Scale) -> list[str]:
    """`--set` arguments that turn `--quick` into `scale`."""
    out = []
    for f in dataclasses.fields(scale):
        value = getattr(scale, f.name)
        if value != getattr(QUICK, f.name):
            text = ",".join(str(v) for v in value) if isinstance(value, tuple) else str(value)
            out += ["--set", f"{f.name}={text}"]
    return out


@pytest.fixture(scope="module")
def soak(tmp_path_factory: pytest.TempPathFactory) -> dict[str, infra.Row]:
    """Every scenario, each `python -m benchmarks.soak --quick --only NAME` in its own process,
    all at once; their rows (with the raw facts) read back from `--json`."""
    out = tmp_path_factory.mktemp("soak")
    procs = {}
    for name in SCENARIOS:
        err = (out / f"{name}.err").open("wb")
        procs[name] = (subprocess.Popen(
            [sys.executable, "-m", "benchmarks.soak", "--quick", "--only", name,
             "--json", str(out / f"{name}.json"), *_overrides(SCALE)],
            cwd=str(infra.ROOT), env={**os.environ, "PYTHONPATH": str(infra.ROOT)},
            stdout=subprocess.DEVNULL, stderr=err,
        ), err)
    rows: dict[str, infra.Row] = {}
    for name, (proc, err) in procs.items():
        proc.wait(600)
        err.close()
        report = out / f"{name}.json"
        assert report.exists(), (out / f"{name}.err").read_text()[-3000:]
        fields = {f.name for f in dataclasses.fields(infra.Row)}
        for data in json.loads(report.read_text())["rows"]:
            row = infra.Row(**{k: v for k, v in data.items() if k in fields})
            assert not any(b.startswith("the harness failed") for b in row.broke), row.broke
            rows[row.scenario] = row
    return rows


# One run serves every section; the names say which scenario a test reads.
@pytest.fixture(scope="module")
def fuzzed(soak: dict[str, infra.Row]) -> dict[str, infra.Row]:
    return soak


concurrent = faulted = abused = audited = fuzzed


# --- fuzz ------------------------------------------------------------------------------------

DECIDE = "fuzz: decide() in-process (RSS: this process)"
STDIO = "fuzz: read tool over stdio"


def test_decide_never_raises_and_every_reject_has_a_reason(fuzzed: dict[str, infra.Row]) -> None:
    facts = fuzzed[DECIDE].facts
    assert facts["crashes"] == []
    assert facts["empty_reason"] == []
    assert facts["unstable"] == []
    assert set(facts["verdicts"]) == {"read", "write", "reject"}


def test_a_lone_surrogate_in_a_local_path_is_refused_by_a_rule(tmp_path: Path) -> None:
    from aws_mcp_server.decision import decide
    from aws_mcp_server.settings import Settings

    decision = decide("s3 cp \ud800x s3://bucket/key", Settings(workdir=tmp_path))
    assert decision.verdict == "reject"
    assert decision.rule == "parse:control-char"


def test_the_read_tool_answers_every_hostile_command(fuzzed: dict[str, infra.Row]) -> None:
    facts = fuzzed[STDIO].facts
    assert facts["exceptions"] == []
    assert facts["tracebacks"] == []
    assert facts["leaked"] == []
    assert facts["server_exit"] == "exited after the session (as it should)"


def test_a_refused_command_never_reaches_the_emulator(fuzzed: dict[str, infra.Row]) -> None:
    facts = fuzzed[STDIO].facts
    assert facts["refused_marked_checked"] > 0
    # The control: markers of commands that ran do show up in what the emulator received.
    assert facts["ran_marker_seen"] > 0
    assert facts["refused_reached"] == []


def test_the_read_tool_writes_no_local_file(fuzzed: dict[str, infra.Row]) -> None:
    facts = fuzzed[STDIO].facts
    assert facts["new_files"] == []
    assert facts["refused_files"] == []


def test_every_fuzzed_call_has_one_audit_line(fuzzed: dict[str, infra.Row]) -> None:
    row = fuzzed[STDIO]
    assert row.facts["audit_lines"] == row.calls
    assert row.facts["audit_unparsable"] == 0
    assert row.facts["audit_outcomes"].get("refused", 0) == row.facts["refused"]


# --- concurrency -----------------------------------------------------------------------------

TRANSPORTS = ["concurrency: stdio, 1 session", "concurrency: HTTP /mcp, 4 sessions",
              "concurrency: HTTP POST /"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_concurrent_calls_see_only_their_own_results(
    concurrent: dict[str, infra.Row], transport: str
) -> None:
    facts = concurrent[transport].facts
    assert facts["protocol_errors"] == []
    assert facts["problems"] == []
    assert facts["kinds"].keys() >= {"whoami", "region", "create", "read-own", "help"}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_write_the_read_tool_refused_did_not_happen(
    concurrent: dict[str, infra.Row], transport: str
) -> None:
    facts = concurrent[transport].facts
    assert facts["refused_but_created"] == []
    assert facts["created_but_missing"] == []


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_every_concurrent_call_has_its_audit_line(
    concurrent: dict[str, infra.Row], transport: str
) -> None:
    row = concurrent[transport]
    facts = row.facts
    # Every call that reached the server (a call cancelled before its request left owes none),
    # but on POST / one whose client hung up before the server took it up: nothing of it ran.
    untaken = facts["audit_owed"] - facts["audit_lines"]
    if facts.get("abandoned"):
        assert untaken >= 0
        assert untaken + facts["audit_outcomes"].get("interrupted", 0) <= facts["abandoned"]
    else:
        assert untaken == 0
    assert facts["audit_owed"] >= row.calls + 1 - facts["cancelled"]


@pytest.fixture(scope="module")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[infra.HttpServer,
                                                                                Path]]:
    lab = tmp_path_factory.mktemp("soak-post")
    with infra.Moto() as moto:
        home = infra.make_aws_home(moto, lab / "aws", count=1)
        log = lab / "audit.jsonl"
        server = infra.HttpServer(home, ["--endpoint-url", moto.url, "--workdir",
                                         str(lab / "workdir"), "--timeout", "5",
                                         "--log-level", "ERROR", "--audit-log", str(log)], lab)
        try:
            yield server, log
        finally:
            server.stop()


def test_a_client_that_disconnects_from_post_cancels_its_command(
    http_server: tuple[infra.HttpServer, Path],
) -> None:
    server, log = http_server
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "execute_aws_read_command",
                       "arguments": {"command": "dynamodb wait table-exists --table-name none"}}}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(server.base + "/", json=body, timeout=1.0)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not (log.exists() and log.read_text().strip()):
        time.sleep(0.2)
    record = json.loads(log.read_text().splitlines()[-1])
    assert record["outcome"] in ("cancelled", "interrupted"), record


# --- faults ----------------------------------------------------------------------------------

ENDPOINTS = {mode: f"faults: endpoint that {title}" for mode, title in faults.TITLES.items()}


@pytest.mark.parametrize("mode", list(ENDPOINTS))
def test_a_call_to_a_bad_endpoint_ends_with_a_clear_error(
    faulted: dict[str, infra.Row], mode: str
) -> None:
    calls = faulted[ENDPOINTS[mode]].facts["calls"]
    assert len(calls) == SCALE.fault_hung_calls + 1
    assert [c for c in calls if not (c["error"] and c["clear"])] == []


@pytest.mark.parametrize("mode", list(ENDPOINTS))
def test_the_next_call_works_after_calls_timed_out(
    faulted: dict[str, infra.Row], mode: str
) -> None:
    assert faulted[ENDPOINTS[mode]].facts["next_call_ok"]


@pytest.mark.parametrize("mode", list(ENDPOINTS))
def test_timed_out_calls_leave_no_threads_or_connections_behind(
    faulted: dict[str, infra.Row], mode: str
) -> None:
    facts = faulted[ENDPOINTS[mode]].facts
    last = facts["watch"][-1]
    assert last["call_threads"] == 0, facts["watch"]
    assert last["sockets"] <= facts["baseline_sockets"] + 1
    assert last["held_open"] == 0


def test_a_call_that_finds_every_slot_busy_runs_once_one_frees(
    faulted: dict[str, infra.Row],
) -> None:
    facts = faulted[f"faults: every slot busy (HTTP, --max-concurrency {faults.SLOTS})"].facts
    assert facts["queued_ran"], facts["texts"]["queued"]
    # It waited for the first slot to free, not for its own deadline.
    assert facts["ends"]["queued"] >= facts["first_slot_free"] - 0.5


def test_requests_that_need_no_slot_are_answered_while_every_slot_is_busy(
    faulted: dict[str, infra.Row],
) -> None:
    facts = faulted[f"faults: every slot busy (HTTP, --max-concurrency {faults.SLOTS})"].facts
    assert facts["health_prompt"], facts["ends"]
    assert facts["list_prompt"], facts["ends"]


@pytest.mark.parametrize("scenario", ["faults: emulator killed mid `s3 cp` (large file)",
                                      "faults: emulator killed mid paginated listing"])
def test_an_emulator_killed_mid_call_is_reported_and_the_next_call_works(
    faulted: dict[str, infra.Row], scenario: str
) -> None:
    facts = faulted[scenario].facts
    assert facts["killed_at_s"] is not None, "the call ended before the emulator was killed"
    assert facts["reported_error"], facts["error"]
    assert facts["next_call_ok"]


# --- HTTP abuse ------------------------------------------------------------------------------

FLOOD = "HTTP abuse: malformed/oversized/unknown-session requests"
INVALID_IDS = {"id is an object", "id is an array"}


def test_every_bad_http_request_is_answered_with_an_error(abused: dict[str, infra.Row]) -> None:
    wrong = {
        kind: counts for kind, counts in abused[FLOOD].facts["by_kind"].items()
        if kind not in INVALID_IDS and set(counts) - {"error"}
        and not (kind in http_abuse.MAY_DROP and set(counts) <= {"error", "dropped"})
    }
    assert wrong == {}


def test_a_request_with_an_invalid_id_gets_an_error(abused: dict[str, infra.Row]) -> None:
    by_kind = abused[FLOOD].facts["by_kind"]
    assert all(set(by_kind[kind]) == {"error"} for kind in INVALID_IDS if kind in by_kind)


def test_a_well_behaved_client_keeps_getting_answers_during_the_abuse(
    abused: dict[str, infra.Row],
) -> None:
    good = abused["HTTP abuse: well-behaved client meanwhile"]
    assert good.calls > 0
    assert good.errors == 0
    assert "the server died" not in good.broke


def test_slow_header_clients_are_dropped_by_the_request_deadline(
    abused: dict[str, infra.Row],
) -> None:
    facts = abused[f"HTTP abuse: slowloris ({SCALE.slowloris} conns)"].facts
    assert facts["opened"] == SCALE.slowloris
    assert facts["open_at_end"] == 0


# --- audit -----------------------------------------------------------------------------------


@pytest.mark.parametrize("phase", ["audit: writable", "audit: writable again"])
def test_every_call_has_its_audit_line_while_the_log_is_writable(
    audited: dict[str, infra.Row], phase: str
) -> None:
    facts = audited[phase].facts
    assert facts["ran"] > 0
    assert facts["ran_without_line"] == 0
    assert facts["refused_without_line"] == 0


@pytest.mark.parametrize("phase", ["audit: read-only filesystem", "audit: log path is a directory",
                                   "audit: disk full", "audit: unwritable from the start"])
def test_no_call_runs_unaudited(audited: dict[str, infra.Row], phase: str) -> None:
    if phase not in audited:
        pytest.skip("needs root to mount a small tmpfs")
    facts = audited[phase].facts
    assert facts["ran_without_line"] == 0
    # Every call was refused for the log, saying so, and nothing else was refused silently.
    assert facts["told_unwritable"] == facts["calls"]
    assert facts["refused_without_line"] == 0


def test_the_audit_log_stays_parseable_after_the_disk_filled(
    audited: dict[str, infra.Row],
) -> None:
    if "audit: disk full" not in audited:
        pytest.skip("needs root to mount a small tmpfs")
    assert audited["audit: writable again"].facts["unparsable_lines"] == 0
