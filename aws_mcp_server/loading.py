"""The awscli side of the process, loaded once: in the background after the handshake, or by the
first thing that needs it.

    loading.start()      # after the MCP handshake: import awscli on a daemon thread
    loading.wait()       # before any use of the adapter: returns once it is fully loaded

Importing awscli, botocore and the adapter (which installs the stream capture and applies every
patch) takes about a third of a second; the MCP handshake needs none of it, so the server answers
`initialize` and `tools/list` first. Everything that reaches the adapter (`decision.decide`, the
server's engine) calls `wait()` first: it returns only after the whole load finished, so no call
can meet a module that another thread is still importing or a patch not yet applied. With no
`start()` before it (the `classify` command, tests), `wait()` loads in the calling thread.

After the load, the same background thread warms the models most calls need (`warm`) and, once
no call is running, moves what it built out of the garbage collector's reach (`gc.freeze`).
"""

from __future__ import annotations

import ctypes
import gc
import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

class LoadError(RuntimeError):
    """awscli (or a patch of it) could not be loaded: nothing can run."""


LOAD_FIX = (
    "Reinstall aws-mcp-server with the awscli version it declares (pip install --force-reinstall "
    "awscli-mcp-server), then restart the server; the server log has the details."
)

_lock = threading.Lock()
_done = threading.Event()
_started = False
_error: BaseException | None = None
_warmed = threading.Event()


def _import_adapter() -> None:
    # Every adapter module a call or a decision uses, imported here and only here in the server
    # process: the package import runs first (capture, then awscli, then every patch).
    import aws_mcp_server.adapter
    import aws_mcp_server.adapter.credentials
    import aws_mcp_server.adapter.driver
    import aws_mcp_server.adapter.output_facts
    import aws_mcp_server.adapter.resolution
    import aws_mcp_server.adapter.validation
    import aws_mcp_server.engine  # noqa: F401


def _load(serving: bool) -> None:
    global _error
    started = time.perf_counter()
    try:
        _import_adapter()
        imported = time.perf_counter()
        from aws_mcp_server.adapter import cli_handlers, resolution

        if serving:
            # The shared handler templates every call's session starts from (see cli_handlers),
            # worked out here rather than by the first call; a one-shot process does without.
            cli_handlers.prepare()
        # The command tables every decision reads; built here rather than by the first call.
        resolution.service_names()
        log.debug(
            "awscli loaded in %.0f ms (imports %.0f ms)",
            (time.perf_counter() - started) * 1000,
            (imported - started) * 1000,
        )
    except BaseException as exc:  # reported to every waiter, never lost with the thread
        _error = exc
        log.error("loading awscli failed: %s", exc, exc_info=log.isEnabledFor(logging.DEBUG))
    finally:
        _done.set()


def start(idle: Callable[[], bool] | None = None) -> None:
    """Load the awscli side on a daemon thread, then warm it (idempotent). `idle()` says when
    no call is running, for the one `gc.freeze()` after the warm-up (None: never freeze)."""
    global _started
    with _lock:
        if _started:
            return
        _started = True

    def run() -> None:
        _load(serving=True)
        if _error is None:
            warm(idle)

    threading.Thread(target=run, name="aws-load", daemon=True).start()


def wait() -> None:
    """Return once the awscli side is loaded; raise what loading raised. Loads it here if no
    `start()` came first."""
    if _done.is_set():
        if _error is not None:
            raise LoadError(f"awscli could not be loaded: {_error}") from _error
        return
    global _started
    with _lock:
        mine = not _started
        _started = True
    if mine:
        _load(serving=False)
    _done.wait()
    if _error is not None:
        raise LoadError(f"awscli could not be loaded: {_error}") from _error


def loaded() -> bool:
    return _done.is_set() and _error is None


QUIET_SECONDS = 0.25
"""How long no call may have run before a warm-up step starts (one step parses one service's
models, up to ~100 ms, and a call arriving meanwhile waits for it)."""


def warm(idle: Callable[[], bool] | None = None) -> None:
    """Parse the models most calls need, one service at a time and only after a quiet moment,
    then collect and freeze: the long-lived models stop being re-scanned by every full
    collection, the p95 tail. A call's objects are never frozen: at the freeze none runs."""
    from aws_mcp_server.adapter import driver

    def quiet() -> None:
        calm_since = time.monotonic()
        while idle is not None:
            if not idle():
                calm_since = time.monotonic()
            elif time.monotonic() - calm_since >= QUIET_SECONDS:
                return
            time.sleep(0.02)

    started = time.perf_counter()
    for service in driver.WARM_SERVICES:
        quiet()
        driver.warm_up((service,), freeze=False)
    log.debug("warm-up took %.0f ms", (time.perf_counter() - started) * 1000)
    if idle is not None:
        quiet()
        gc.collect()
        if idle():
            gc.freeze()
        release_memory()
    _warmed.set()


_M_ARENA_MAX = -8
"""glibc's mallopt parameter for the most malloc arenas (mallopt(3))."""

SERVER_ARENAS = 2
"""Arenas for the server process. glibc gives each new thread an arena of its own, up to eight
per core; every call runs on a fresh thread, and its garbage left spread over many arenas kept
resident memory about 6 MB higher than two arenas do, for no measurable speed."""


def _glibc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        # By its soname: ctypes.util.find_library would run ldconfig in a subprocess.
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def tune_allocator() -> bool:
    """Limit malloc arenas for this process (glibc only; elsewhere nothing changes). Call it at
    start-up, before threads allocate. True when the limit was set."""
    libc = _glibc()
    return bool(libc is not None and libc.mallopt(_M_ARENA_MAX, SERVER_ARENAS) == 1)


def release_memory() -> None:
    """Give free heap pages back to the system (glibc's malloc_trim; elsewhere nothing)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


def warmed(timeout: float | None = None) -> bool:
    """True once the warm-up finished (for tests and benchmarks)."""
    return _warmed.wait(timeout)
