"""A stand-in for the feature service's internal listener: a real HTTP server on 127.0.0.1.

Core's outbound calls (events, deletion checks, lookups) go over real HTTP to it, signed by
core's real client; the stub verifies each signature with the contracts verifier, records what
it received, and answers whatever the test programmed. Use the `feature_stub` fixture (conftest
imports it): it also points core's settings at the stub and gives core the published
`core-service` test key to sign with.

    def test_x(feature_stub: FeatureStub) -> None:
        feature_stub.respond("POST", "/internal/v1/events", 200, {"status": "handled"})
        ... core code that calls the feature service ...
        assert feature_stub.requests[0].json["type"] == "user.deleted"

Unprogrammed routes answer 404 problem+json; `feature_stub.stop()` closes the listener (the
port refuses connections, like a stopped service) and `start()` brings it back on the same port.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from alephdraad_contracts import (
    CallerKey,
    KeyRing,
    MemoryNonceStore,
    SignatureRejected,
    load_signature_test_vectors,
    verify_signed_request,
)

_VECTORS = load_signature_test_vectors()
_CORE_KEY = next(key for key in _VECTORS["keys"] if key["caller"] == "core-service")
CORE_SIGNING_KEY = CallerKey(
    keyid=_CORE_KEY["keyid"], caller="core-service", secret=bytes.fromhex(_CORE_KEY["secret_hex"])
)


@dataclass
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


Answer = tuple[int, Any]  # (status, JSON body); a body of None sends no content
Handler = Callable[[ReceivedRequest], Answer]


@dataclass
class FeatureStub:
    port: int = 0
    requests: list[ReceivedRequest] = field(default_factory=list)
    _routes: dict[tuple[str, str], Handler] = field(default_factory=dict)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _nonces: MemoryNonceStore = field(default_factory=MemoryNonceStore)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def respond(self, method: str, path: str, status: int, body: Any = None) -> None:
        """Answer `method path` (path without query) with this status and JSON body."""
        self._routes[(method, path)] = lambda _request: (status, body)

    def handle(self, method: str, path: str, handler: Handler) -> None:
        """Answer `method path` with whatever `handler(request)` returns."""
        self._routes[(method, path)] = handler

    def requests_to(self, method: str, path: str) -> list[ReceivedRequest]:
        return [r for r in self.requests if r.method == method and r.path.split("?")[0] == path]

    def start(self) -> None:
        stub = self

        class _Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = dict(self.headers.items())
                try:
                    verify_signed_request(
                        self.command,
                        self.path,
                        headers,
                        body,
                        keys=KeyRing([CORE_SIGNING_KEY]),
                        nonce_store=stub._nonces,
                        now=datetime.now(UTC),
                    )
                except SignatureRejected as rejected:
                    self._answer(401, {"code": "SIGNATURE_REJECTED", "reason": rejected.reason})
                    return
                request = ReceivedRequest(self.command, self.path, headers, body)
                with stub._lock:
                    stub.requests.append(request)
                handler = stub._routes.get((self.command, self.path.split("?")[0]))
                if handler is None:
                    self._answer(404, {"code": "NOT_FOUND", "status": 404})
                    return
                self._answer(*handler(request))

            def _answer(self, status: int, payload: Any) -> None:
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                if data:
                    kind = "application/problem+json" if status >= 400 else "application/json"
                    self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@pytest.fixture
def feature_stub(settings: Any) -> Iterator[FeatureStub]:
    stub = FeatureStub()
    stub.start()
    settings.INTERNAL_SIGNING_KEY = CORE_SIGNING_KEY
    settings.FEATURE_INTERNAL_URL = stub.url
    # Short, so a test of an unreachable peer does not wait out production's timeout.
    settings.INTERNAL_TIMEOUT_SECONDS = 2.0
    try:
        yield stub
    finally:
        stub.stop()
