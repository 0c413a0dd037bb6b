"""Audit: `--audit-log` on a path that stops being writable, then on a disk that fills.

Calls run one at a time, so each call's line can be looked for right after it returned (the
server writes the line before it answers). Each call is either a write that creates a bucket
(so the emulator tells whether it ran) or a write refused by the read tool. Per phase: how many
calls ran, how many have their line, and what the client was told.

The behaviour the project requires once the log cannot be written: the call is refused with a
clear error instead of running unaudited. What happens today is recorded, not assumed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.soak import infra
from benchmarks.soak.scale import Scale

READ, WRITE = "execute_aws_read_command", "execute_aws_write_command"


@dataclass
class Phase:
    name: str
    calls: int = 0
    ran: int = 0
    """Calls whose bucket exists in the emulator afterwards."""
    ran_with_line: int = 0
    ran_without_line: int = 0
    refused_with_line: int = 0
    refused_without_line: int = 0
    partial_lines: int = 0
    """Calls that left a fragment (not one complete record) in the log."""
    told_unwritable: int = 0
    """Calls refused because the log could not be written (`audit:unwritable`): no line can
    exist for them, and none ran."""
    told_error: int = 0
    """Calls that came back as a tool error (the refused ones, and any refused for the log)."""
    messages: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)


class AuditDisk:
    """A 64 KiB tmpfs for the audit log (root only); `None` from `make` when it cannot mount."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def make(cls, path: Path) -> AuditDisk | None:
        path.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0 or shutil.which("mount") is None:
            return None
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(path)],
                              capture_output=True, check=False)
        return cls(path) if done.returncode == 0 else None

    def remount(self, mode: str) -> None:
        subprocess.run(["mount", "-o", f"remount,{mode}", str(self.path)], check=True)

    def fill(self) -> int:
        """Fill the disk; returns how many bytes the filler took."""
        written = 0
        with contextlib.suppress(OSError), (self.path / "filler").open("wb", buffering=0) as out:
            while True:
                written += out.write(b"\0" * 512)
        return written

    def unfill(self) -> None:
        with contextlib.suppress(OSError):
            (self.path / "filler").unlink()

    def unmount(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], check=False)


def _lines(path: Path) -> list[str] | None:
    try:
        return path.read_text(errors="replace").splitlines()
    except OSError:
        return None


def _size(path: Path) -> int | None:
    """Bytes in the log; 0 when it does not exist yet, None when it cannot be read."""
    try:
        return path.stat().st_size if path.is_file() else (0 if not path.exists() else None)
    except OSError:
        return None


def _appended(path: Path, since: int | None) -> str:
    """What the last call appended: `line` (one complete JSON record), `partial` (bytes that
    are not one), or `none`."""
    if since is None:
        return "none"
    try:
        with path.open("rb") as handle:
            handle.seek(since)
            new = handle.read()
    except OSError:
        return "none"
    if not new:
        return "none"
    if new.endswith(b"\n") and new.count(b"\n") == 1:
        try:
            json.loads(new)
            return "line"
        except ValueError:
            pass
    return "partial"


def run(scale: Scale, lab: Path, log: Any = None) -> list[infra.Row]:
    import anyio
    from mcp import Client

    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    disk = AuditDisk.make(lab / "auditfs")
    logdir = disk.path if disk else lab / "auditfs"
    audit = logdir / "audit.jsonl"
    phases: list[Phase] = []
    all_lines: list[str] = []
    peaks: list[infra.Sampler] = []
    try:
        with infra.Moto() as moto:
            home = infra.make_aws_home(moto, lab / "aws-audit", count=1)
            flags = ["--endpoint-url", moto.url, "--workdir", str(lab / "audit-workdir"),
                     "--log-level", "ERROR", "--audit-log", str(audit)]
            server = infra.stdio_server(home, flags, lab)
            params = server.params

            async def session() -> None:
                async with Client(params, mode="legacy", read_timeout_seconds=60) as client:
                    peaks.append(infra.Sampler(server.pid()).__enter__())
                    await _phase(client, "writable", audit, moto, scale, phases)
                    if disk is not None:
                        disk.remount("ro")
                        try:
                            await _phase(client, "read-only filesystem", audit, moto, scale,
                                         phases)
                        finally:
                            disk.remount("rw")
                    # Replace the file by a directory: unwritable for root too.
                    kept = audit.with_suffix(".kept")
                    audit.rename(kept)
                    audit.mkdir()
                    try:
                        await _phase(client, "log path is a directory", audit, moto, scale,
                                     phases)
                    finally:
                        audit.rmdir()
                        kept.rename(audit)
                    if disk is not None:
                        disk.fill()
                        try:
                            await _phase(client, "disk full", audit, moto, scale, phases)
                        finally:
                            disk.unfill()
                    await _phase(client, "writable again", audit, moto, scale, phases)

            log("audit: calls while the log is writable, unwritable, on a full disk ...")
            try:
                anyio.run(session)
            finally:
                for sampler in peaks:
                    sampler.__exit__()
            all_lines = _lines(audit) or []

            # A log that cannot be written from the start: does the server start, and run?
            blocked = lab / "audit-is-a-directory"
            blocked.mkdir()
            params = infra.stdio_server(home, [*flags[:-1], str(blocked)], lab).params
            start = Phase("unwritable from the start")

            async def from_start() -> None:
                try:
                    async with Client(params, mode="legacy", read_timeout_seconds=60) as client:
                        await _phase(client, start.name, blocked, moto, scale, phases)
                except Exception as exc:  # the server refusing to start is an acceptable answer
                    start.messages.append(f"the server did not serve: {type(exc).__name__}")
                    phases.append(start)

            anyio.run(from_start)
    finally:
        if disk is not None:
            disk.unmount()
    unparsable = 0
    for line in all_lines:
        try:
            json.loads(line)
        except ValueError:
            unparsable += 1
    rows = []
    for phase in phases:
        row = infra.Row(f"audit: {phase.name}", calls=phase.calls, latencies=phase.latencies,
                        peak_rss=peaks[0].peak if peaks else None)
        row.errors = phase.ran_without_line + phase.refused_without_line
        if phase.ran_without_line:
            row.broke.append(f"{phase.ran_without_line}/{phase.ran} writes RAN UNAUDITED"
                             + (" and the client was told nothing" if phase.told_error
                                <= phase.refused_with_line + phase.refused_without_line else ""))
        if phase.refused_without_line:
            row.broke.append(f"{phase.refused_without_line} refusals without a line")
        if phase.partial_lines:
            row.broke.append(f"{phase.partial_lines} calls left a partial line")
        row.facts = vars(phase)
        rows.append(row)
    if disk is None:
        rows.append(infra.Row("audit: read-only filesystem / disk full",
                              broke=["not run: needs root and a tmpfs mount"]))
    last = next((r for r in rows if r.scenario == "audit: writable again"), rows[-1])
    if unparsable:
        last.broke.append(f"{unparsable} unparsable lines in the log")
        last.errors += unparsable
    last.facts["unparsable_lines"] = unparsable
    last.facts["total_lines"] = len(all_lines)
    return rows


async def _phase(client: Any, name: str, audit: Path, moto: infra.Moto, scale: Scale,
                 phases: list[Phase]) -> None:
    phase = Phase(name)
    tag = "".join(c for c in name if c.isalnum())[:12].lower()
    for i in range(scale.audit_calls):
        refuse = i % 4 == 3
        bucket = f"au-{tag}-{i}-{time.monotonic_ns() % 10**6}"
        before = _size(audit)
        t0 = time.perf_counter()
        tool = READ if refuse else WRITE
        result = await client.call_tool(tool, {"command": f"s3api create-bucket --bucket {bucket}"})
        phase.latencies.append(time.perf_counter() - t0)
        appended = _appended(audit, before)
        text = infra.text_of(result)
        got_line = appended == "line"
        phase.partial_lines += appended == "partial"
        phase.calls += 1
        if result.is_error:
            phase.told_error += 1
            if not refuse and len(phase.messages) < 3:
                phase.messages.append(text[:200])
        ran = bucket in infra.s3_buckets(moto.url)
        if "audit:unwritable" in text:
            phase.told_unwritable += 1
        elif refuse:
            if got_line:
                phase.refused_with_line += 1
            else:
                phase.refused_without_line += 1
        if ran:
            phase.ran += 1
            if got_line:
                phase.ran_with_line += 1
            else:
                phase.ran_without_line += 1
    phases.append(phase)
