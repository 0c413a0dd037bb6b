"""Concurrency: many calls in flight with mixed profiles, regions, reads, writes, help, errors,
refusals and cancellations, over stdio, HTTP `/mcp` and HTTP `POST /`.

Every result is checked against what *that* call should see (cross-talk): the caller ARN of its
profile, the region it asked for (or its profile's), the bucket or user it named, the help page
it asked for; no result may name another call's resources or hold any profile's secret. The
server's RSS is sampled from /proc the whole time.
"""

from __future__ import annotations

import json
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.soak import infra
from benchmarks.soak.scale import Scale

READ, WRITE, LIST = "execute_aws_read_command", "execute_aws_write_command", "list_aws_profiles"
TOKEN = re.compile(r"\b(?:sk|nb|rf|tu)-\d+-[0-9a-f]{6}\b")
"""Per-call names (buckets, users) that must only ever appear in their own call's result."""
HELP_PAGES = (("s3api", "create-bucket"), ("ec2", "describe-instances"), ("iam", "get-user"),
              ("sts", "get-caller-identity"), ("dynamodb", "query"), ("s3", "cp"),
              ("sqs", "send-message"), ("lambda", "invoke"))
MB = 2**20
STALL = 5.0
"""Seconds no call in this mix needs against moto; a call this slow waited for something else."""


@dataclass
class Step:
    tool: str
    args: dict[str, Any]
    check: Callable[[bool, str], list[str]]
    token: str = ""
    """The one per-call name this step's result may contain."""
    cancel_after: float | None = None
    kind: str = ""


@dataclass
class Outcome:
    kind: str
    took: float
    problems: list[str] = field(default_factory=list)
    protocol_error: str | None = None
    cancelled: bool = False


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def plan(scale: Scale, home: infra.AwsHome, seed: int) -> list[list[Step]]:
    """`scale.conc_calls` tool calls, grouped in sequences that run in order (create, then read)."""
    rng = random.Random(seed)
    profiles = home.profiles
    others = {p.name: [q.arn for q in profiles if q.name != p.name] for p in profiles}
    items: list[list[Step]] = []
    count = 0
    while count < scale.conc_calls:
        i = len(items)
        suffix = f"{i}-{rng.getrandbits(24):06x}"
        p = rng.choice(profiles)
        use_param = rng.random() < 0.5
        roll = rng.random()
        steps: list[Step]
        if roll < 0.22:
            # Who am I: the profile's own IAM user, never another's.
            # The profile travels as the tool parameter (`--profile` in the text is refused).
            args = {"command": "sts get-caller-identity", "profile": p.name}
            if use_param:
                args["region"] = rng.choice(infra.REGIONS)

            def whoami(err: bool, text: str, p: infra.Profile = p) -> list[str]:
                data = _json(text)
                if err or not isinstance(data, dict):
                    return [f"whoami {p.name}: {text[:120]!r}"]
                wrong = [a for a in others[p.name] if a in text]
                out = [] if data.get("Arn") == p.arn else [f"whoami {p.name}: got {data.get('Arn')}"]
                return out + ([f"whoami {p.name}: another profile's ARN"] if wrong else [])

            steps = [Step(READ, args, whoami, kind="whoami")]
        elif roll < 0.40:
            # Which region: the tool's, the command's, or the profile's.
            how = rng.choice(("param", "flag", "profile"))
            region = rng.choice(infra.REGIONS) if how != "profile" else p.region
            command = "ec2 describe-availability-zones"
            full = rng.random() < 0.5
            if not full:
                command += " --query 'AvailabilityZones[].RegionName' --output text"
            args = {"command": command, "profile": p.name}
            if how == "param":
                args["region"] = region
            elif how == "flag":
                args["command"] += f" --region {region}"

            def where(err: bool, text: str, region: str = region, full: bool = full) -> list[str]:
                if err:
                    return [f"region {region}: error {text[:120]!r}"]
                if full:
                    data = _json(text)
                    if not isinstance(data, dict):
                        return [f"region {region}: output is not one JSON document ({len(text)} B)"]
                    got = {z.get("RegionName") for z in data.get("AvailabilityZones", [])}
                else:
                    got = set(text.split())
                return [] if got == {region} else [f"region {region}: got {sorted(got)[:4]}"]

            steps = [Step(READ, args, where, kind="region")]
        elif roll < 0.56:
            # A write, then a read of what that write made, in the region it was made in.
            region = rng.choice(infra.REGIONS)
            bucket = f"sk-{suffix}"
            command = f"s3api create-bucket --bucket {bucket}"
            if region != "us-east-1":
                command += f" --create-bucket-configuration LocationConstraint={region}"

            def made(err: bool, text: str, bucket: str = bucket) -> list[str]:
                if err or bucket not in text:
                    return [f"create {bucket}: {text[:120]!r}"]
                return []

            def located(err: bool, text: str, bucket: str = bucket, region: str = region
                        ) -> list[str]:
                data = _json(text)
                want = None if region == "us-east-1" else region
                if err or not isinstance(data, dict) or data.get("LocationConstraint") != want:
                    return [f"location {bucket}: want {want}, got {text[:120]!r}"]
                return []

            steps = [
                Step(WRITE, {"command": command, "profile": p.name, "region": region}, made,
                     bucket, kind="create"),
                Step(READ, {"command": f"s3api get-bucket-location --bucket {bucket}",
                            "profile": rng.choice(profiles).name}, located, bucket,
                     kind="read-own"),
            ]
        elif roll < 0.64:
            user = f"tu-{suffix}"

            def user_made(err: bool, text: str, user: str = user) -> list[str]:
                data = _json(text)
                name = data.get("User", {}).get("UserName") if isinstance(data, dict) else None
                return [] if not err and name == user else [f"create-user {user}: {text[:120]!r}"]

            steps = [Step(WRITE, {"command": f"iam create-user --user-name {user}",
                                  "profile": p.name}, user_made, user, kind="create-user")]
        elif roll < 0.72:
            service, operation = rng.choice(HELP_PAGES)

            def helped(err: bool, text: str, operation: str = operation) -> list[str]:
                first = text.strip().splitlines()[0] if text.strip() else ""
                return [] if not err and first == operation else [
                    f"help {operation}: first line {first[:60]!r}"]

            steps = [Step(READ, {"command": f"{service} {operation} help"}, helped, kind="help")]
        elif roll < 0.82:
            if rng.random() < 0.5:
                name = f"nb-{suffix}"
                command = f"iam get-user --user-name {name}"
                expect = "NoSuchEntity"
            else:
                name = f"nb-{suffix}"
                command = f"s3api head-bucket --bucket {name}"
                expect = "404"

            def failed(err: bool, text: str, name: str = name, expect: str = expect) -> list[str]:
                if not err or expect not in text:
                    return [f"error {name}: want {expect}, got err={err} {text[:120]!r}"]
                if expect == "NoSuchEntity" and name not in text:
                    return [f"error {name}: the message names another resource: {text[:120]!r}"]
                return []

            steps = [Step(READ, {"command": command, "profile": p.name}, failed, name,
                          kind="aws-error")]
        elif roll < 0.88:
            bucket = f"rf-{suffix}"

            def refused(err: bool, text: str, bucket: str = bucket) -> list[str]:
                return [] if err and "execute_aws_write_command" in text else [
                    f"refusal {bucket}: {text[:120]!r}"]

            steps = [Step(READ, {"command": f"s3 mb s3://{bucket}"}, refused, bucket,
                          kind="refused")]
        elif roll < 0.92:
            names = [q.name for q in profiles]

            def listed(err: bool, text: str, names: list[str] = names) -> list[str]:
                missing = [n for n in names if n not in text]
                return [f"list_aws_profiles misses {missing}"] if err or missing else []

            steps = [Step(LIST, {}, listed, kind="profiles")]
        else:
            # Cancelled in flight: a waiter that polls until the deadline, abandoned by the client.
            table = f"nb-{suffix}"
            steps = [Step(READ, {"command": f"dynamodb wait table-exists --table-name {table}",
                                 "profile": p.name}, lambda err, text: [], table,
                          cancel_after=rng.uniform(0.2, 1.0), kind="cancelled")]
        items.append(steps)
        count += len(steps)
    return items


Caller = Callable[[Step], Awaitable[tuple[bool, str]]]


async def _run_items(items: list[list[Step]], callers: list[Caller], inflight: int,
                     secrets: list[str]) -> list[Outcome]:
    import anyio

    queue = list(reversed(items))
    outcomes: list[Outcome] = []

    async def worker(call: Caller) -> None:
        while queue:
            for step in queue.pop():
                t0 = time.perf_counter()
                outcome = Outcome(step.kind, 0.0)
                try:
                    if step.cancel_after is not None:
                        with anyio.move_on_after(step.cancel_after) as scope:
                            await call(step)
                        outcome.cancelled = scope.cancelled_caught
                        if not outcome.cancelled:
                            outcome.problems.append("the waiter returned before it was cancelled")
                    else:
                        err, text = await call(step)
                        outcome.problems += step.check(err, text)
                        strays = {t for t in TOKEN.findall(text) if t != step.token}
                        if strays:
                            outcome.problems.append(f"{step.kind}: names another call's "
                                                    f"{sorted(strays)[:2]}")
                        if infra.leaks(text, secrets):
                            outcome.problems.append(f"{step.kind}: a profile secret in the result")
                        if infra.TRACEBACK in text:
                            outcome.problems.append(f"{step.kind}: a traceback in the result")
                except Exception as exc:
                    outcome.protocol_error = f"{step.kind}: {type(exc).__name__}: {exc!s:.150}"
                outcome.took = time.perf_counter() - t0
                outcomes.append(outcome)

    async with anyio.create_task_group() as group:
        for index in range(inflight):
            group.start_soon(worker, callers[index % len(callers)])
    return outcomes


def _mcp_caller(client: Any) -> Caller:
    async def call(step: Step) -> tuple[bool, str]:
        result = await client.call_tool(step.tool, step.args)
        return bool(result.is_error), infra.text_of(result)
    return call


def _post_caller(http: Any) -> Caller:
    counter = iter(range(1, 10**9))

    async def call(step: Step) -> tuple[bool, str]:
        body = {"jsonrpc": "2.0", "id": next(counter), "method": "tools/call",
                "params": {"name": step.tool, "arguments": step.args}}
        answer = await http.post("/", json=body)
        if answer.status_code != 200:
            raise RuntimeError(f"HTTP {answer.status_code}: {answer.text[:150]}")
        data = answer.json()
        if "error" in data:
            raise RuntimeError(f"JSON-RPC error {data['error']}")
        result = data["result"]
        text = "".join(b.get("text", "") for b in result.get("content", []))
        return bool(result.get("isError")), text
    return call


def _summarise(name: str, outcomes: list[Outcome], sampler: infra.Sampler,
               warm_fraction: float = 0.1) -> infra.Row:
    row = infra.Row(name, calls=len(outcomes))
    row.latencies = [o.took for o in outcomes if not o.cancelled]
    problems = [p for o in outcomes for p in o.problems]
    protocol = [o.protocol_error for o in outcomes if o.protocol_error]
    row.errors = len(protocol) + sum(1 for o in outcomes if o.problems)
    row.peak_rss = sampler.peak
    base, end = sampler.rss_at(warm_fraction), sampler.rss_at(1.0)
    growth = (end - base) if base is not None and end is not None else None
    if protocol:
        row.broke.append(f"{len(protocol)} protocol errors, e.g. {protocol[0]}")
    if problems:
        row.broke.append(f"{len(problems)} wrong results, e.g. {problems[0]}")
    stalled = [t for t in row.latencies if t > STALL]
    if stalled:
        row.broke.append(f"{len(stalled)} calls took over {STALL:g} s (max {max(stalled):.1f} s)")
    if growth is not None and growth > 50 * MB:
        row.broke.append(f"RSS grew {growth / MB:.0f} MB after warm-up (bound 50)")
    kinds = Counter(o.kind for o in outcomes)
    row.facts = {
        "protocol_errors": protocol, "problems": problems, "kinds": dict(kinds),
        "cancelled": sum(o.cancelled for o in outcomes), "stalled": len(stalled),
        "rss_after_warmup": base, "rss_end": end, "rss_growth": growth,
        "threads_end": sampler.samples[-1][2] if sampler.samples else None,
    }
    return row


def _settled_lines(audit: Path, expected: int, limit: float = 30.0) -> list[str]:
    """The audit log once it holds `expected` lines, or after `limit` seconds: a line is
    written when its call ends, and an abandoned call may run on until its deadline."""
    deadline = time.monotonic() + limit
    while True:
        lines = audit.read_text().splitlines() if audit.exists() else []
        if len(lines) >= expected or time.monotonic() > deadline:
            return lines
        time.sleep(0.25)


TOOLS_CALL = re.compile(rb'"method"\s*:\s*"tools/call"')


def _after(row: infra.Row, moto: infra.Moto, items: list[list[Step]], audit: Path,
           audit_before: int, calls: int, timeout: float, reached: int | None = None,
           abandoned: int = 0) -> None:
    """What the emulator and the audit log say after the run.

    `reached`: the tools/call requests that reached the server (counted on the wire, over
    HTTP). A client cancelling a call before its request left sends none, so the server owes
    it no line; over stdio every call is written to the pipe at once and `calls` is the count.
    `abandoned`: calls whose client hung up (`POST /`): one the server had not yet taken up
    when its client left was never decided or run, and has no line; each of the others has.
    """
    buckets = infra.s3_buckets(moto.url)
    refused = {s.token for steps in items for s in steps if s.kind == "refused"}
    created = {s.token for steps in items for s in steps if s.kind == "create"}
    ran_anyway = sorted(refused & buckets)
    missing = sorted(created - buckets)
    owed = calls if reached is None else reached
    # Over POST / a hung-up call is cancelled at once: its line comes within moments.
    new = _settled_lines(audit, audit_before + owed,
                         limit=5.0 if abandoned else timeout + 10)[audit_before:]
    outcomes = Counter(str(_json(line).get("outcome")) if isinstance(_json(line), dict)
                       else "unparsable" for line in new)
    interrupted = outcomes.get("interrupted", 0)
    untaken = owed - len(new)
    row.facts.update(refused_but_created=ran_anyway, created_but_missing=missing,
                     audit_lines=len(new), audit_owed=owed, audit_outcomes=dict(outcomes),
                     abandoned=abandoned, abandoned_before_taken_up=max(0, untaken))
    if ran_anyway:
        row.broke.append(f"{len(ran_anyway)} refused buckets exist")
        row.errors += len(ran_anyway)
    if missing:
        row.broke.append(f"{len(missing)} created buckets missing")
    if abandoned and untaken >= 0 and interrupted + untaken <= abandoned:
        pass  # every line is there but those of calls abandoned before the server took them up
    elif len(new) != owed:
        row.broke.append(f"audit has {len(new)} lines for {owed} calls that reached the server")
        row.errors += 1


def run(scale: Scale, lab: Path, log: Any = None) -> list[infra.Row]:
    import anyio
    import httpx
    from mcp import Client

    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    rows: list[infra.Row] = []
    with infra.Moto() as moto:
        home = infra.make_aws_home(moto, lab / "aws-conc", count=scale.conc_profiles)
        workdir = lab / "conc-workdir"
        workdir.mkdir(parents=True, exist_ok=True)
        flags = ["--endpoint-url", moto.url, "--workdir", str(workdir), "--timeout",
                 str(scale.conc_timeout),
                 "--log-level", "ERROR", "--max-concurrency", "8"]

        # stdio: one server, one session, `conc_inflight` calls in flight.
        log(f"concurrency: {scale.conc_calls} calls over stdio ...")
        audit = lab / "conc-stdio-audit.jsonl"
        stdio = infra.stdio_server(home, [*flags, "--audit-log", str(audit)], lab)
        items = plan(scale, home, scale.seed + 10)

        async def over_stdio() -> tuple[list[Outcome], infra.Sampler]:
            async with Client(stdio.params, mode="legacy", read_timeout_seconds=60) as client:
                pid = stdio.pid()
                with infra.Sampler(pid) as sampler:
                    got = await _run_items(items, [_mcp_caller(client)], scale.conc_inflight,
                                           home.secrets)
                    err, text = await _mcp_caller(client)(
                        Step(READ, {"command": "sts get-caller-identity"}, lambda e, t: []))
                    if err:
                        got.append(Outcome("after", 0, [f"the next call failed: {text[:100]}"]))
                return got, sampler

        outcomes, sampler = anyio.run(over_stdio)
        row = _summarise("concurrency: stdio, 1 session", outcomes, sampler)
        _after(row, moto, items, audit, 0, len(outcomes) + 1, scale.conc_timeout)
        row.broke += infra.log_problems(stdio.log())
        rows.append(row)

        # HTTP: one server; /mcp with 4 sessions, then POST / with one pooled client.
        audit = lab / "conc-http-audit.jsonl"
        server = infra.HttpServer(home, [*flags, "--audit-log", str(audit)], lab)
        try:
            for name, transport in (("concurrency: HTTP /mcp, 4 sessions", "mcp"),
                                    ("concurrency: HTTP POST /", "post")):
                log(f"{name}: {scale.conc_calls} calls ...")
                items = plan(scale, home, scale.seed + (20 if transport == "mcp" else 30))
                before = len(audit.read_text().splitlines()) if audit.exists() else 0
                # Through a recording relay: how many tools/call requests reached the server.
                relay = infra.Relay(server.port)

                async def over_http(transport: str = transport,
                                    items: list[list[Step]] = items,
                                    relay: infra.Relay = relay,
                                    ) -> tuple[list[Outcome], infra.Sampler]:
                    from contextlib import AsyncExitStack

                    async with AsyncExitStack() as stack:
                        if transport == "mcp":
                            callers = [
                                _mcp_caller(await stack.enter_async_context(
                                    Client(f"{relay.url}/mcp", mode="legacy",
                                           read_timeout_seconds=60)))
                                for _ in range(4)
                            ]
                        else:
                            http = await stack.enter_async_context(httpx.AsyncClient(
                                base_url=relay.url, timeout=60,
                                limits=httpx.Limits(max_connections=scale.conc_inflight)))
                            callers = [_post_caller(http)]
                        with infra.Sampler(server.pid) as sampler:
                            got = await _run_items(items, callers, scale.conc_inflight,
                                                   home.secrets)
                            err, text = await callers[0](
                                Step(READ, {"command": "sts get-caller-identity"},
                                     lambda e, t: []))
                            if err:
                                got.append(Outcome("after", 0, [f"next call failed: {text[:99]}"]))
                        return got, sampler

                outcomes, sampler = anyio.run(over_http)
                row = _summarise(name, outcomes, sampler)
                reached = len(TOOLS_CALL.findall(relay.sent()))
                relay.close()
                _after(row, moto, items, audit, before, len(outcomes) + 1, scale.conc_timeout,
                       reached, sum(o.cancelled for o in outcomes) if transport == "post" else 0)
                if not server.alive():
                    row.broke.append("the server exited")
                rows.append(row)
            rows[-1].broke += infra.log_problems(server.log())
        finally:
            server.stop()
    return rows
