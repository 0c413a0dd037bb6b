"""Small loopback stand-ins for what moto does not provide: a proxy in front of moto that counts
(and can refuse) requests, and an IAM Identity Center (SSO) portal."""

from __future__ import annotations

import http.client
import http.server
import json
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

EXPIRED_KEY = "AKIAEXPIREDKEY000001"
"""Requests signed with this access key id are refused with ExpiredToken by the proxy."""


@dataclass
class Recorder:
    actions: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, action: str) -> None:
        with self.lock:
            self.actions[action] += 1


def _action(path: str, headers: http.client.HTTPMessage, body: bytes) -> str:
    target = headers.get("X-Amz-Target")
    if target:
        return target.split(".")[-1]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
    form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
    for source in (form, query):
        if "Action" in source:
            return source["Action"][0]
    return f"{headers.get('Host', '')} {path.split('?')[0]}"


@contextmanager
def counting_proxy(upstream_port: int) -> Iterator[tuple[str, Recorder]]:
    """A proxy on 127.0.0.1 in front of moto: counts requests by action (AssumeRole,
    GetCallerIdentity...) and answers ExpiredToken for requests signed with `EXPIRED_KEY`."""
    recorder = Recorder()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            return None

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            recorder.add(_action(self.path, self.headers, body))
            if EXPIRED_KEY in (self.headers.get("Authorization") or ""):
                payload = (
                    b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
                    b"<Type>Sender</Type><Code>ExpiredToken</Code><Message>The security token "
                    b"included in the request is expired</Message></Error>"
                    b"<RequestId>1</RequestId></ErrorResponse>"
                )
                self.send_response(400)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            upstream = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=30)
            headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
            upstream.request(self.command, self.path, body=body, headers=headers)
            answer = upstream.getresponse()
            data = answer.read()
            self.send_response(answer.status)
            for key, value in answer.getheaders():
                if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            upstream.close()

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", recorder
    finally:
        server.shutdown()
        server.server_close()


VALID_TOKEN = "valid-sso-access-token"


@contextmanager
def sso_portal() -> Iterator[tuple[str, Recorder]]:
    """The SSO portal's GetRoleCredentials on 127.0.0.1: credentials for the bearer token
    `VALID_TOKEN`, 401 for any other."""
    recorder = Recorder()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            return None

        def do_GET(self) -> None:
            recorder.add(self.path.split("?")[0])
            token = self.headers.get("x-amz-sso_bearer_token")
            if token != VALID_TOKEN:
                payload = json.dumps({"message": "Session token not found or invalid"}).encode()
                self.send_response(401)
                self.send_header("x-amzn-ErrorType", "UnauthorizedException")
            else:
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                role = query.get("role_name", ["?"])[0]
                payload = json.dumps(
                    {
                        "roleCredentials": {
                            "accessKeyId": f"ASIASSO{role.upper()[:10]}",
                            "secretAccessKey": "sso-secret",
                            "sessionToken": "sso-session-token",
                            "expiration": int((time.time() + 3600) * 1000),
                        }
                    }
                ).encode()
                self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", recorder
    finally:
        server.shutdown()
        server.server_close()
