"""Fuzz: hostile command text through `decide()` in-process and through the read tool over stdio.

Promises checked: `decide` never raises and never takes a second; the server never crashes,
never answers with a traceback or a protocol error, never returns a profile's secret, refuses
within a second, and a command it refused never reaches the emulator (its marker is in no byte
the emulator or the SSRF canary received) nor writes a local file.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.soak import infra
from benchmarks.soak.gen import Case, Generator
from benchmarks.soak.scale import Scale

TOOL_ERROR = re.compile(r"^(?:Error executing tool \S+: )?(?=Refused|Not run)")
RULE = re.compile(r"^Refused \(([^)]*)\)|^Refused: this command is classified \w+ \(([^:)]*)")
SLOW = 1.0
SEED_FILES = {
    "seed.txt": "hello\n",
    "policy.json": '{"Version": "2012-10-17", "Statement": []}',
    "items.json": '{"t": {"Keys": [{"id": {"S": "x"}}]}}',
    "t.yaml": "Resources: {}\n",
    "input.json": "{}",
    "code.zip": "PK",
    "id.pub": "ssh-rsa AAAA",
    "blob.bin": "\x00\x01",
}


def refusal(res: dict[str, Any]) -> str | None:
    """The rule family that refused the call, or None if it ran (or failed while running).

    A refusal is a tool error raised before anything ran: it opens with "Refused" (the rule in
    brackets) or "Not run" (older servers prefixed "Error executing tool NAME: "); a command that
    ran and failed returns the CLI's own message instead.
    """
    if not res.get("error"):
        return None
    text = res.get("text", "")
    head = TOOL_ERROR.match(text)
    if head is None:
        return None
    body = text[head.end():]
    match = RULE.match(body)
    if match:
        return (match.group(1) or match.group(2) or "?").split(":")[0].split(".")[0]
    return "other: " + " ".join(body.split()[:2])


def _seed_workdir(workdir: Path) -> set[str]:
    workdir.mkdir(parents=True, exist_ok=True)
    for name, body in SEED_FILES.items():
        (workdir / name).write_text(body)
    return set(SEED_FILES)


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Any:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def fuzz_decide(scale: Scale, home: infra.AwsHome, workdir: Path, relay_url: str,
                canary: str) -> infra.Row:
    """`scale.fuzz_decide` commands through `decision.decide` in this process."""
    with _environ(home.environ):
        from aws_mcp_server.decision import decide
        from aws_mcp_server.settings import Settings

        settings = Settings(endpoint_url=relay_url, workdir=workdir, timeout=scale.fuzz_timeout)
        row = infra.Row("fuzz: decide() in-process (RSS: this process)")
        gen = Generator(scale.seed, relay_url, canary)
        verdicts: Counter[str] = Counter()
        rules: Counter[str] = Counter()
        crashes: list[str] = []
        slow: list[tuple[float, str]] = []
        internal: list[str] = []
        unstable: list[str] = []
        empty_reason: list[str] = []
        started = time.perf_counter()
        for index in range(scale.fuzz_decide):
            case = gen.next()
            t0 = time.perf_counter()
            try:
                decision = decide(case.text, settings, region=case.region)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # the promise is that nothing escapes
                row.latencies.append(time.perf_counter() - t0)
                crashes.append(f"{type(exc).__name__}: {exc!s:.80} <- {case.text[:80]!r}")
                continue
            took = time.perf_counter() - t0
            row.latencies.append(took)
            verdicts[decision.verdict] += 1
            rules[decision.rule.split(":")[0]] += 1
            # The promise is about refusing: a reject must never take a second.
            if took > SLOW and decision.verdict == "reject":
                slow.append((took, case.text[:100]))
            if decision.rule == "internal":
                internal.append(f"{decision.reason[:100]} <- {case.text[:100]!r}")
            if decision.verdict == "reject" and not decision.reason.strip():
                empty_reason.append(case.text[:100])
            # Determinism: the same text decided again gives the same verdict (1 in 50).
            if index % 50 == 0:
                again = decide(case.text, settings, region=case.region)
                if (again.verdict, again.rule) != (decision.verdict, decision.rule):
                    unstable.append(f"{decision.rule} then {again.rule} <- {case.text[:80]!r}")
        wall = time.perf_counter() - started
    row.calls = scale.fuzz_decide
    # decide() runs in this process: its peak RSS is the one to report.
    row.peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    row.errors = len(crashes) + len(internal) + len(slow) + len(unstable) + len(empty_reason)
    if crashes:
        row.broke.append(f"{len(crashes)} decide() raised, e.g. {crashes[0]}")
    if internal:
        row.broke.append(f"{len(internal)} internal-error verdicts, e.g. {internal[0]}")
    if slow:
        worst = max(slow)
        row.broke.append(f"{len(slow)} refusals > {SLOW:g} s (worst {worst[0]:.2f} s: {worst[1]!r})")
    if unstable:
        row.broke.append(f"{len(unstable)} verdicts changed when decided again, e.g. {unstable[0]}")
    if empty_reason:
        row.broke.append(f"{len(empty_reason)} rejects without a reason")
    row.facts = {
        "crashes": crashes, "internal": internal, "slow": slow, "unstable": unstable,
        "empty_reason": empty_reason, "verdicts": dict(verdicts), "rule_families": dict(rules),
        "wall_s": round(wall, 1), "max_s": max(row.latencies, default=0.0),
        "over_1s_any_verdict": sum(1 for t in row.latencies if t > SLOW),
    }
    return row


async def _drive_stdio(params: Any, cases: list[Case], inflight: int, timeout: float,
                       results: list[dict[str, Any]]) -> None:
    import anyio
    from mcp import Client

    queue = list(enumerate(cases))
    queue.reverse()

    async with Client(params, mode="legacy", read_timeout_seconds=timeout) as client:

        async def worker() -> None:
            while queue:
                index, case = queue.pop()
                args: dict[str, Any] = {"command": case.text}
                if case.profile is not None:
                    args["profile"] = case.profile
                if case.region is not None:
                    args["region"] = case.region
                t0 = time.perf_counter()
                try:
                    result = await client.call_tool("execute_aws_read_command", args)
                    results[index] = {"error": bool(result.is_error), "text": infra.text_of(result),
                                      "took": time.perf_counter() - t0}
                except Exception as exc:
                    results[index] = {"exception": f"{type(exc).__name__}: {exc!s:.200}",
                                      "took": time.perf_counter() - t0}

        async with anyio.create_task_group() as group:
            for _ in range(inflight):
                group.start_soon(worker)


def _sendable(case: Case) -> bool:
    """The official client encodes UTF-8: lone surrogates cannot be sent by it at all."""
    try:
        for value in (case.text, case.profile or "", case.region or ""):
            value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _files_named_with_markers(roots: list[Path]) -> set[str]:
    found: set[str] = set()
    for root in roots:
        for _dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                found |= {m.decode().lower() for m in infra.MARKER.findall(name.encode())}
    return found


def fuzz_stdio(scale: Scale, lab: Path, moto: infra.Moto, home: infra.AwsHome) -> infra.Row:
    """`scale.fuzz_stdio` commands through `execute_aws_read_command` over stdio."""
    import anyio

    relay = infra.Relay(moto.port)
    canary = infra.Canary()
    workdir = lab / "fuzz-workdir"
    seeded = _seed_workdir(workdir)
    audit = lab / "fuzz-audit.jsonl"
    flags = ["--endpoint-url", relay.url, "--workdir", str(workdir), "--timeout",
             str(scale.fuzz_timeout), "--audit-log", str(audit), "--log-level", "ERROR"]
    server = infra.stdio_server(home, flags, lab)
    gen = Generator(scale.seed + 1, relay.url, canary.hostport, long_ok=False,
                    overlong_max=200_000)
    cases = []
    unsendable = 0
    while len(cases) < scale.fuzz_stdio:
        case = gen.next()
        if _sendable(case):
            cases.append(case)
        else:
            unsendable += 1
    results: list[dict[str, Any]] = [{} for _ in cases]
    row = infra.Row("fuzz: read tool over stdio")
    pid_box: list[int] = []
    sampler: infra.Sampler | None = None

    async def main() -> None:
        nonlocal sampler
        async with anyio.create_task_group() as group:
            group.start_soon(_drive_stdio, server.params, cases, scale.fuzz_inflight,
                             scale.fuzz_timeout + 30, results)
            pid = await anyio.to_thread.run_sync(server.pid)
            pid_box.append(pid)
            sampler = infra.Sampler(pid).__enter__()

    started = time.perf_counter()
    try:
        anyio.run(main)
    finally:
        if sampler is not None:
            sampler.__exit__()
    wall = time.perf_counter() - started
    server_exit = "exited after the session (as it should)"
    if pid_box and infra.rss(pid_box[0]) is not None:
        time.sleep(2)
        if infra.rss(pid_box[0]) is not None:
            server_exit = "still running 2 s after stdin closed"

    sent = relay.sent() + canary.sent()
    reached = infra.seen_markers(sent)
    # Who reached the SSRF canary (an allowed loopback --endpoint-url may; a fetch may not).
    at_canary = infra.seen_markers(canary.sent())
    canary_hits = [(refusal(r) or "ran", c.text[:160]) for c, r in zip(cases, results, strict=True)
                   if c.marker in at_canary]
    exceptions, tracebacks, leaked, slow_refusals = [], [], [], []
    refused_reached, refusal_rules = [], Counter()
    ran = ran_reached = refused = checked = 0
    for case, res in zip(cases, results, strict=True):
        row.latencies.append(res.get("took", 0.0))
        if "exception" in res or not res:
            exceptions.append(f"{res.get('exception', 'no answer')} <- {case.text[:80]!r}")
            continue
        text = res["text"]
        if infra.TRACEBACK in text:
            tracebacks.append(case.text[:80])
        if infra.leaks(text, home.secrets):
            leaked.append(case.text[:80])
        rule = refusal(res)
        if rule is not None:
            refused += 1
            refusal_rules[rule] += 1
            if res["took"] > SLOW:
                slow_refusals.append((round(res["took"], 2), case.text[:80]))
            if case.marked:
                checked += 1
                if case.marker in reached:
                    refused_reached.append(f"{rule} <- {case.text[:120]!r}")
        else:
            ran += 1
            if case.marked and case.marker in reached:
                ran_reached += 1
    new_files = sorted(set(os.listdir(workdir)) - seeded)
    named = _files_named_with_markers([lab, infra.ROOT])
    refused_markers = {c.marker for c, r in zip(cases, results, strict=True)
                       if refusal(r) is not None}
    refused_files = sorted(named & refused_markers)
    audit_lines, audit_bad, outcomes = _read_audit(audit)
    sampled = sampler.samples if sampler is not None else []

    row.calls = len(cases)
    row.peak_rss = sampler.peak if sampler is not None else None
    row.errors = (len(exceptions) + len(tracebacks) + len(leaked) + len(slow_refusals)
                  + len(refused_reached) + len(refused_files) + len(new_files))
    if exceptions:
        row.broke.append(f"{len(exceptions)} calls without an answer, e.g. {exceptions[0]}")
    if tracebacks:
        row.broke.append(f"{len(tracebacks)} tracebacks in results")
    if leaked:
        row.broke.append(f"{len(leaked)} results hold a profile secret")
    if slow_refusals:
        row.broke.append(f"{len(slow_refusals)} refusals slower than {SLOW:g} s, worst "
                         f"{max(slow_refusals)}")
    if refused_reached:
        row.broke.append(f"{len(refused_reached)} REFUSED commands reached the emulator, e.g. "
                         f"{refused_reached[0]}")
    if refused_files:
        row.broke.append(f"{len(refused_files)} refused commands left files")
    if new_files:
        row.broke.append(f"read tool wrote files into the workdir: {new_files[:3]}")
    if audit_lines != len(cases) or audit_bad:
        row.broke.append(f"audit: {audit_lines} lines for {len(cases)} calls, {audit_bad} unparsable")
        row.errors += 1
    if outcomes.get("refused", 0) != refused:
        row.broke.append(f"audit says {outcomes.get('refused', 0)} refused, the client saw {refused}")
        row.errors += 1
    row.broke += infra.log_problems(server.log())
    if server_exit != "exited after the session (as it should)":
        row.broke.append(f"server {server_exit}")
    row.facts = {
        "exceptions": exceptions, "tracebacks": tracebacks, "leaked": leaked,
        "slow_refusals": slow_refusals, "refused_reached": refused_reached,
        "refused_files": refused_files, "new_files": new_files, "refused": refused,
        "refused_marked_checked": checked, "ran": ran, "ran_marker_seen": ran_reached,
        "refusal_rules": dict(refusal_rules), "unsendable_skipped": unsendable,
        "audit_lines": audit_lines, "audit_unparsable": audit_bad,
        "audit_outcomes": dict(outcomes), "server_exit": server_exit,
        "relay_bytes": len(relay.sent()), "canary_connections": canary.connections,
        "canary_hits": canary_hits,
        "wall_s": round(wall, 1),
        "rss_first_last": (sampled[0][1], sampled[-1][1]) if sampled else None,
    }
    relay.close()
    canary.close()
    return row


def _read_audit(path: Path) -> tuple[int, int, Counter[str]]:
    """Lines, unparsable lines, and the count of each `outcome`."""
    outcomes: Counter[str] = Counter()
    if not path.exists():
        return 0, 0, outcomes
    lines = path.read_text(errors="replace").splitlines()
    bad = 0
    for line in lines:
        try:
            outcomes[str(json.loads(line).get("outcome"))] += 1
        except (ValueError, AttributeError):
            bad += 1
    return len(lines), bad, outcomes


def run(scale: Scale, lab: Path, log: Any = None) -> list[infra.Row]:
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    with infra.Moto() as moto:
        home = infra.make_aws_home(moto, lab / "aws-fuzz", count=2)
        relay = infra.Relay(moto.port)
        canary = infra.Canary()
        workdir = lab / "decide-workdir"
        _seed_workdir(workdir)
        log(f"fuzz: {scale.fuzz_decide} commands through decide() ...")
        rows = [fuzz_decide(scale, home, workdir, relay.url, canary.hostport)]
        relay.close()
        canary.close()
        log(f"fuzz: {scale.fuzz_stdio} commands through the read tool over stdio ...")
        rows.append(fuzz_stdio(scale, lab, moto, home))
    return rows
