"""What every scenario needs, built from public pieces only: an emulator in its own process
(killable, restartable on the same port), a recording TCP relay in front of it, IAM users with
keys and profile files that map to them, the server started through its console entry, and the
numbers read from /proc.

Nothing here imports the server's internals: the server is a subprocess driven over stdio or
HTTP. moto (which imports botocore) runs in its own process so that it never meets the awscli
copy of botocore in this one.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
PYTHON = sys.executable
PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not happen within {timeout:g} s")
        time.sleep(interval)


def wait_answering(proc: subprocess.Popen[bytes], url: str, timeout: float, what: str,
                   exited: Callable[[], str]) -> None:
    """Until `url` answers a GET; raises `exited()` as soon as `proc` is gone instead."""

    def up() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(exited())
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return True
        except OSError:
            return False

    wait_for(up, timeout, what)


# --- results ---------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the table, plus the raw facts the tests assert on (`facts`)."""

    scenario: str
    calls: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    peak_rss: int | None = None
    broke: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    def pct(self, q: float) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    def cells(self) -> list[str]:
        p50, p99 = self.pct(0.5), self.pct(0.99)
        ms = lambda v: "-" if v is None else f"{v * 1000:.1f}"  # noqa: E731
        rss = "-" if self.peak_rss is None else f"{self.peak_rss / 2**20:.0f}"
        return [
            self.scenario, str(self.calls), str(self.errors), ms(p50), ms(p99), rss,
            "; ".join(self.broke) or "nothing",
        ]


def table(rows: Sequence[Row]) -> str:
    head = ["scenario", "calls", "errors", "p50 ms", "p99 ms", "peak RSS MB", "what broke"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in row.cells()) + " |")
    return "\n".join(lines)


def median_ms(samples: Sequence[float]) -> float:
    return statistics.median(samples) * 1000 if samples else float("nan")


# --- /proc -----------------------------------------------------------------------------------


def rss(pid: int) -> int | None:
    """Resident set size in bytes, or None once the process is gone."""
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return None


def threads(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return None


def threads_named(pid: int, name: str) -> int | None:
    """Threads of the process whose OS name is `name` (the server names its call workers)."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    count = 0
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/comm") as handle:
                count += handle.read().strip() == name
        except OSError:
            pass
    return count


def sockets(pid: int) -> int | None:
    """Open sockets of the process (fds that are sockets)."""
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    count = 0
    for name in names:
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{pid}/fd/{name}").startswith("socket:"):
                count += 1
    return count


def fds(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def find_pid_by_env(tag: str, timeout: float = 30) -> int:
    """The process whose environment carries `SOAK_TAG=tag` (a server the MCP client spawned)."""
    needle = f"SOAK_TAG={tag}".encode()
    found: list[int] = []

    def look() -> bool:
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/environ", "rb") as handle:
                    if needle in handle.read().split(b"\0"):
                        found.append(int(entry))
                        return True
            except OSError:
                continue
        return False

    wait_for(look, timeout, f"a process tagged {tag}")
    return found[0]


class Sampler:
    """Samples a process's RSS (and threads, sockets) every `interval` seconds on a thread."""

    def __init__(self, pid: int, interval: float = 0.25) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[tuple[float, int, int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.take()
            self._stop.wait(self.interval)

    def take(self) -> tuple[float, int, int, int] | None:
        mem, th, so = rss(self.pid), threads(self.pid), sockets(self.pid)
        if mem is None or th is None or so is None:
            return None
        sample = (time.monotonic(), mem, th, so)
        self.samples.append(sample)
        return sample

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.take()

    @property
    def peak(self) -> int | None:
        return max((s[1] for s in self.samples), default=None)

    def rss_at(self, fraction: float) -> int | None:
        """RSS at a fraction of the run (0 first sample, 1 last)."""
        if not self.samples:
            return None
        return self.samples[min(len(self.samples) - 1, int(fraction * (len(self.samples) - 1)))][1]


# --- the emulator ----------------------------------------------------------------------------

_MOTO_CODE = """
import logging, sys, time
logging.getLogger("werkzeug").setLevel(logging.ERROR)
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=int(sys.argv[1]), verbose=False)
server.start()
while True:
    time.sleep(3600)
"""


class Moto:
    """moto in its own process on a fixed loopback port: `kill()` is SIGKILL, `start()` again
    brings up an empty emulator on the same port."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Moto:
        self.proc = subprocess.Popen(
            [PYTHON, "-c", _MOTO_CODE, str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_scrubbed_env(),
        )

        proc = self.proc
        wait_answering(proc, self.url + "/moto-api/", 60, "moto answering",
                       lambda: f"moto exited with {proc.returncode}")
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> Moto:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _scrubbed_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("AWS_", "BOTO_")) and k not in ("PYTHONPATH", "SOAK_TAG")
    }
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env.update(extra or {})
    return env


# --- raw AWS query calls (moto does not check signatures) -----------------------------------


def aws_query(endpoint: str, service: str, params: Mapping[str, str], region: str = "us-east-1",
              key: str = "AKIAIOSFODNN7EXAMPLE") -> str:
    """POST a query-protocol action (IAM, STS, SQS...) unsigned-but-attributed to moto."""
    body = urllib.parse.urlencode(params).encode()
    request = urllib.request.Request(endpoint + "/", data=body, method="POST")
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    # moto picks the service from the credential scope of the Authorization header.
    request.add_header(
        "Authorization",
        f"AWS4-HMAC-SHA256 Credential={key}/20240101/{region}/{service}/aws4_request, "
        "SignedHeaders=host, Signature=0",
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return str(answer.read().decode())


def s3_raw(endpoint: str, method: str, path: str, body: bytes = b"") -> int:
    request = urllib.request.Request(endpoint + path, data=body or None, method=method)
    request.add_header(
        "Authorization",
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240101/us-east-1/s3/aws4_request, "
        "SignedHeaders=host, Signature=0",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            answer.read()
            return int(answer.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def s3_buckets(endpoint: str) -> set[str]:
    request = urllib.request.Request(endpoint + "/")
    request.add_header(
        "Authorization",
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240101/us-east-1/s3/aws4_request, "
        "SignedHeaders=host, Signature=0",
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return set(re.findall(r"<Name>([^<]+)</Name>", answer.read().decode()))


def _xml(text: str, tag: str) -> str:
    match = re.search(f"<{tag}>([^<]+)</{tag}>", text)
    if match is None:
        raise RuntimeError(f"no <{tag}> in {text[:300]}")
    return match.group(1)


@dataclass(frozen=True)
class Profile:
    name: str
    region: str
    user: str
    arn: str
    key: str
    secret: str


@dataclass
class AwsHome:
    """Throwaway config/credentials: one profile per moto IAM user, each with its own region."""

    home: Path
    profiles: list[Profile]

    @property
    def environ(self) -> dict[str, str]:
        return {
            "HOME": str(self.home),
            "AWS_CONFIG_FILE": str(self.home / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.home / "credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    @property
    def secrets(self) -> list[str]:
        return [p.secret for p in self.profiles]


REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2", "us-west-2", "eu-central-1", "sa-east-1")


def make_aws_home(moto: Moto, root: Path, count: int = 4) -> AwsHome:
    """Create `count` IAM users with access keys in moto and a profile for each (`default` is
    the first). Each profile's secret is distinct, so a leak is attributable."""
    root.mkdir(parents=True, exist_ok=True)
    profiles = []
    suffix = uuid.uuid4().hex[:6]
    for index in range(count):
        user = f"soak-user{index}-{suffix}"
        made = aws_query(moto.url, "iam", {"Action": "CreateUser", "UserName": user,
                                           "Version": "2010-05-08"})
        arn = _xml(made, "Arn")
        key = aws_query(moto.url, "iam", {"Action": "CreateAccessKey", "UserName": user,
                                          "Version": "2010-05-08"})
        name = "default" if index == 0 else f"p{index}"
        profiles.append(Profile(name, REGIONS[index % len(REGIONS)], user, arn,
                                _xml(key, "AccessKeyId"), _xml(key, "SecretAccessKey")))
    config, credentials = [], []
    for p in profiles:
        config.append(("[default]" if p.name == "default" else f"[profile {p.name}]")
                      + f"\nregion = {p.region}\noutput = json\n")
        credentials.append(f"[{p.name}]\naws_access_key_id = {p.key}\n"
                           f"aws_secret_access_key = {p.secret}\n")
    (root / "config").write_text("\n".join(config))
    (root / "credentials").write_text("\n".join(credentials))
    return AwsHome(root, profiles)


# --- the recording relay ---------------------------------------------------------------------


class Relay:
    """A TCP relay on 127.0.0.1 in front of `upstream_port` that keeps every byte a client sent.

    Whatever reached the emulator passed through here, byte for byte (request line, headers,
    body), so "this marker never reached the emulator" is a search of `sent`.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self._sent = bytearray()
        self._lock = threading.Lock()
        self.connections = 0
        self._server = socket.socket()
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(256)
        self.port = int(self._server.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=60)
        except OSError:
            client.close()
            return

        def back() -> None:
            with contextlib.suppress(OSError):
                while data := upstream.recv(65536):
                    client.sendall(data)
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_WR)

        threading.Thread(target=back, daemon=True).start()
        with contextlib.suppress(OSError):
            while data := client.recv(65536):
                with self._lock:
                    self._sent += data
                upstream.sendall(data)
        with contextlib.suppress(OSError):
            upstream.shutdown(socket.SHUT_WR)

    def sent(self) -> bytes:
        with self._lock:
            return bytes(self._sent)

    def close(self) -> None:
        self._closed = True
        self._server.close()




# --- the server ------------------------------------------------------------------------------


def server_env(home: AwsHome, tag: str | None = None) -> dict[str, str]:
    env = _scrubbed_env(home.environ)
    env["PYTHONPATH"] = str(ROOT)
    if tag:
        env["SOAK_TAG"] = tag
    return env


@dataclass
class StdioServer:
    """How to start `python -m aws_mcp_server FLAGS` over stdio with the official client.

    The server's stderr goes to `stderr_path` (through `sh -c 'exec ... 2>>FILE'`, so the pid
    is the server's own), and its environment carries a tag that finds that pid in /proc.
    """

    params: Any
    tag: str
    stderr_path: Path

    def pid(self, timeout: float = 30) -> int:
        return find_pid_by_env(self.tag, timeout)

    def log(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""


def stdio_server(home: AwsHome, flags: Sequence[str], log_dir: Path) -> StdioServer:
    import shlex

    from mcp.client.stdio import StdioServerParameters

    tag = uuid.uuid4().hex
    log_dir.mkdir(parents=True, exist_ok=True)
    stderr_path = log_dir / f"stdio-{tag[:8]}.err"
    line = shlex.join([PYTHON, "-m", "aws_mcp_server", *flags])
    params = StdioServerParameters(
        command="/bin/sh", args=["-c", f"exec {line} 2>>{shlex.quote(str(stderr_path))}"],
        env=server_env(home, tag), cwd=str(ROOT),
    )
    return StdioServer(params, tag, stderr_path)


_EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt)): ?(.*)$",
                             re.MULTILINE)


def log_problems(log: str) -> list[str]:
    """Tracebacks in a server's stderr, summarised by their exception lines."""
    chained = (log.count("The above exception was the direct cause")
               + log.count("During handling of the above exception"))
    count = log.count(TRACEBACK) - chained
    if count <= 0:
        return []
    kinds: dict[str, int] = {}
    for name, message in _EXCEPTION_LINE.findall(log):
        key = f"{name.rsplit('.', 1)[-1]}: {message[:70]}"
        kinds[key] = kinds.get(key, 0) + 1
    top = sorted(kinds.items(), key=lambda kv: -kv[1])[:2]
    return [f"server stderr: {count} tracebacks (" + "; ".join(k for k, _ in top) + ")"]


class HttpServer:
    """`python -m aws_mcp_server --transport http` on a free loopback port."""

    def __init__(self, home: AwsHome, flags: Sequence[str], log_dir: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.stderr_path = log_dir / f"http-{self.port}.err"
        with self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(
                [PYTHON, "-m", "aws_mcp_server", "--transport", "http", "--port", str(self.port),
                 *flags],
                env=server_env(home), cwd=str(ROOT), stdout=subprocess.DEVNULL, stderr=err,
            )
        self.pid = self.proc.pid

        wait_answering(self.proc, self.base + "/health", 90, "the HTTP server answering /health",
                       lambda: f"server exited {self.proc.returncode}: {self.log()[-2000:]}")

    def log(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return int(self.proc.returncode)


def text_of(result: Any) -> str:
    return "".join(getattr(block, "text", "") for block in getattr(result, "content", []))


TRACEBACK = "Traceback (most recent call last)"


def leaks(text: str, secrets: Sequence[str]) -> list[str]:
    """Which of `secrets` appear in `text` (named by their first characters only)."""
    return [s[:4] + "..." for s in secrets if s and s in text]


@contextlib.contextmanager
def lab_dir(prefix: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        subprocess.run(["rm", "-rf", str(path)], check=False)


class Canary:
    """An HTTP listener on 127.0.0.1 that answers `200 ok` to anything and keeps every byte it
    received: the target of the http:// values and endpoints the fuzzer offers, so a fetch (SSRF)
    or a request sent where it should not go is on record."""

    def __init__(self) -> None:
        self._got = bytearray()
        self._lock = threading.Lock()
        self.connections = 0
        self._server = socket.socket()
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(64)
        self.port = int(self._server.getsockname()[1])
        self.hostport = f"127.0.0.1:{self.port}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        client.settimeout(5)
        with contextlib.suppress(OSError), client:
            data = b""
            while b"\r\n\r\n" not in data and len(data) < 1 << 20:
                chunk = client.recv(65536)
                if not chunk:
                    break
                data += chunk
            with self._lock:
                self._got += data
            client.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

    def sent(self) -> bytes:
        with self._lock:
            return bytes(self._got)

    def close(self) -> None:
        self._server.close()


MARKER = re.compile(rb"mk[0-9a-f]{10}z", re.IGNORECASE)
_B64_RUN = re.compile(rb"[A-Za-z0-9+/]{16,}={0,2}")


def seen_markers(data: bytes) -> set[str]:
    """Every fuzz marker in `data`: as is (any case), and inside base64 runs (blob values)."""
    found = {m.decode().lower() for m in MARKER.findall(data)}
    for run in _B64_RUN.findall(data):
        for shift in range(4):
            piece = run[shift:]
            piece = piece[: len(piece) - len(piece) % 4]
            with contextlib.suppress(ValueError):
                found |= {m.decode().lower() for m in MARKER.findall(base64.b64decode(piece))}
    return found
