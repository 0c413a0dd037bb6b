"""How big each scenario is: the full run (the default) and `--quick` (under a minute each)."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Scale:
    seed: int = 14
    fuzz_decide: int = 100_000
    fuzz_stdio: int = 5_000
    fuzz_inflight: int = 4
    fuzz_timeout: float = 10.0
    conc_calls: int = 1_000
    """Calls per transport (stdio, HTTP /mcp, HTTP POST /)."""
    conc_inflight: int = 16
    conc_profiles: int = 4
    conc_timeout: float = 20.0
    """The server's --timeout: what a cancelled waiter would run to if nothing stopped it."""
    fault_timeout: float = 5.0
    fault_hung_calls: int = 8
    fault_watch: tuple[float, ...] = (0.0, 5.0, 15.0, 30.0)
    """Seconds after the hung calls returned at which threads and sockets are counted."""
    big_file_mb: int = 200
    list_objects: int = 600
    abuse_requests: int = 10_000
    abuse_connections: int = 32
    slowloris: int = 200
    slowloris_seconds: float = 20.0
    session_flood: int = 1_000
    audit_calls: int = 40
    """Calls per audit phase (writable, unwritable, disk full, writable again)."""

    def quick(self) -> Scale:
        return replace(
            self, fuzz_decide=3_000, fuzz_stdio=300, conc_calls=120, conc_timeout=10.0,
            fault_timeout=2.0,
            fault_watch=(0.0, 11.0), big_file_mb=40, list_objects=200, abuse_requests=1_000,
            abuse_connections=16, slowloris=40, slowloris_seconds=4.0, session_flood=100,
            audit_calls=8,
        )


FULL = Scale()
QUICK = FULL.quick()
