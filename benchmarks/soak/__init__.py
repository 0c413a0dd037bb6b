"""The soak harness (issue 14): see `python -m benchmarks.soak --help`.

Each scenario is `run(scale, lab_dir) -> list[Row]`; a Row is one line of the table plus the raw
`facts` that tests/test_soak.py asserts on.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from benchmarks.soak import audit, concurrency, faults, fuzz, http_abuse, infra
from benchmarks.soak.scale import Scale

SCENARIOS: dict[str, Callable[[Scale, Path], list[infra.Row]]] = {
    "fuzz": fuzz.run,
    "concurrency": concurrency.run,
    "faults": faults.run,
    "http": http_abuse.run,
    "audit": audit.run,
}
