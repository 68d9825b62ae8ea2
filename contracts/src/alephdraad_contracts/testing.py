"""Test helpers both services share (not used in production code).

`SignedStubServer` stands in for the other service in a service's own tests: a real HTTP server
on 127.0.0.1 that verifies every request's signature like the real receiver (401 otherwise),
records what it received and answers what the test's `respond` callback says.

`sync_pact_file` keeps the committed pact files in `contracts/pacts/` honest: a consumer test
writes its pact to a temporary directory and compares it with the committed one, so a changed
interaction fails CI until the new file is committed (and then the provider's verification,
which replays the committed file, has to pass with it).

`SigningProxy` lets a tool that cannot sign requests - the Pact verifier replaying a consumer's
interactions - talk to a real internal listener: it listens on 127.0.0.1, signs each request
it receives as `caller` (RFC 9421, exactly like `signed_client`), forwards it to `upstream` and
relays the answer. The provider under test still runs its real signature verification.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from ._http_client import SigningAuth
from ._problem import PROBLEM_CONTENT_TYPE, SIGNATURE_REJECTED
from ._signing import KeyRing, MemoryNonceStore, SignatureRejected, verify_signed_request

# Set to 1 to let consumer tests rewrite the committed pact files (`make pacts`).
UPDATE_PACTS_VARIABLE = "UPDATE_PACTS"

# Connection-scoped headers a proxy must not forward (RFC 9110 section 7.6.1), plus the ones
# httpx computes itself.
_NOT_FORWARDED = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


class SigningProxy:
    """`with SigningProxy(upstream, caller=…, keyid=…, secret=…) as proxy:` then send unsigned
    requests to `proxy.url`."""

    def __init__(self, upstream: str, *, caller: str, keyid: str, secret: bytes) -> None:
        self._client = httpx.Client(
            base_url=upstream.rstrip("/"),
            auth=SigningAuth(caller=caller, keyid=keyid, secret=secret),
            follow_redirects=False,
            timeout=30.0,
        )
        proxy = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {
                    name: value
                    for name, value in self.headers.items()
                    if name.lower() not in _NOT_FORWARDED
                }
                answer = proxy._client.request(
                    self.command, self.path, headers=headers, content=body
                )
                self.send_response(answer.status_code)
                for name, value in answer.headers.items():
                    if name.lower() not in _NOT_FORWARDED | {"content-encoding"}:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the upstream logs every request it serves."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> SigningProxy:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._client.close()


def _comparable(path: Path) -> object:
    document = json.loads(path.read_text(encoding="utf-8"))
    # Library versions, not the contract.
    document.pop("metadata", None)
    # Interactions merged from several tests: their order is not part of the contract.
    document["interactions"] = sorted(
        document.get("interactions", []), key=lambda i: json.dumps(i, sort_keys=True)
    )
    return document


def sync_pact_file(generated: Path, committed: Path) -> None:
    """Compare a freshly written pact with the committed one; copy it over when the
    UPDATE_PACTS variable is 1, otherwise raise AssertionError naming the file to refresh."""
    if os.environ.get(UPDATE_PACTS_VARIABLE) == "1":
        committed.parent.mkdir(parents=True, exist_ok=True)
        committed.write_text(generated.read_text(encoding="utf-8"), encoding="utf-8")
        return
    if not committed.exists():
        raise AssertionError(f"{committed} is missing: run `make pacts` and commit it")
    if _comparable(generated) != _comparable(committed):
        raise AssertionError(
            f"the consumer's interactions changed but {committed} did not: run `make pacts`, "
            "check that the provider still verifies, and commit the file"
        )


@dataclass(frozen=True)
class ReceivedRequest:
    """A request a `SignedStubServer` accepted (its signature verified)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


# (status, body): a JSON-able body is sent as JSON (problem+json from 400 on), bytes as they
# are, None as no content.
StubAnswer = tuple[int, Any]


class _BusyServer(ThreadingHTTPServer):
    # socketserver's default listen backlog is 5: a test sending dozens of requests at once
    # would see connections refused by the stand-in where the real service would queue them.
    request_queue_size = 128
    daemon_threads = True


class SignedStubServer:
    """A stand-in for another service's internal listener (see the module docstring).

    `respond(request)` runs on the server's request thread for every request whose signature
    `keys` accepts; `before_verify()`, when given, runs first for every request (a test can
    block there to make callers time out). Requests are answered one per connection (HTTP/1.0),
    so after `stop()` no pooled keep-alive connection reaches the stub any more; `start()`
    again listens on the same port, like a restarted service."""

    def __init__(
        self,
        respond: Callable[[ReceivedRequest], StubAnswer],
        *,
        keys: KeyRing,
        port: int = 0,
        before_verify: Callable[[], None] | None = None,
    ) -> None:
        self.port = port
        self.requests: list[ReceivedRequest] = []
        self._respond = respond
        self._keys = keys
        self._before_verify = before_verify
        self._nonces = MemoryNonceStore()
        self._lock = threading.Lock()
        self._server: _BusyServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> StubAnswer:
        if self._before_verify is not None:
            self._before_verify()
        try:
            verify_signed_request(
                method,
                path,
                headers,
                body,
                keys=self._keys,
                nonce_store=self._nonces,
                now=datetime.now(UTC),
            )
        except SignatureRejected as rejected:
            return 401, {**SIGNATURE_REJECTED.body(None), "reason": rejected.reason.value}
        request = ReceivedRequest(method, path, headers, body)
        with self._lock:
            self.requests.append(request)
        return self._respond(request)

    def start(self) -> None:
        stub = self

        class _Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, payload = stub._handle(
                    self.command, self.path, dict(self.headers.items()), body
                )
                data = (
                    payload
                    if isinstance(payload, bytes)
                    else (b"" if payload is None else json.dumps(payload).encode())
                )
                self.send_response(status)
                if data:
                    kind = PROBLEM_CONTENT_TYPE if status >= 400 else "application/json"
                    self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: tests assert on `requests`."""

        self._server = _BusyServer(("127.0.0.1", self.port), _Handler)
        self.port = self._server.server_address[1]
        # A short poll interval: shutdown() waits up to one interval.
        thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
