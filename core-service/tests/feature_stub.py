"""A stand-in for the feature service's internal listener: a real HTTP server on 127.0.0.1.

Core's outbound calls (events, deletion checks, lookups) go over real HTTP to it, signed by
core's real client; the stub (contracts' `SignedStubServer`) verifies each signature with the
published `core-service` test key, records what it received, and answers whatever the test
programmed. Use the `feature_stub` fixture (conftest imports it): it also points core's settings
at the stub and gives core the published key to sign with.

    def test_x(feature_stub: FeatureStub) -> None:
        feature_stub.respond("POST", "/internal/v1/events", 200, {"status": "handled"})
        ... core code that calls the feature service ...
        assert feature_stub.requests[0].json["type"] == "user.deleted"

Unprogrammed routes answer 404 problem+json; `feature_stub.stop()` closes the listener (the
port refuses connections, like a stopped service) and `start()` brings it back on the same port.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from alephdraad_contracts import CallerKey, KeyRing, load_signature_test_vectors
from alephdraad_contracts.testing import ReceivedRequest, SignedStubServer, StubAnswer

_VECTORS = load_signature_test_vectors()
_CORE_KEY = next(key for key in _VECTORS["keys"] if key["caller"] == "core-service")
CORE_SIGNING_KEY = CallerKey(
    keyid=_CORE_KEY["keyid"], caller="core-service", secret=bytes.fromhex(_CORE_KEY["secret_hex"])
)

Handler = Callable[[ReceivedRequest], StubAnswer]


class FeatureStub:
    def __init__(self) -> None:
        self._routes: dict[tuple[str, str], Handler] = {}
        self._server = SignedStubServer(self._answer, keys=KeyRing([CORE_SIGNING_KEY]))

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def requests(self) -> list[ReceivedRequest]:
        return self._server.requests

    def respond(self, method: str, path: str, status: int, body: Any = None) -> None:
        """Answer `method path` (path without query) with this status and JSON body."""
        self._routes[(method, path)] = lambda _request: (status, body)

    def handle(self, method: str, path: str, handler: Handler) -> None:
        """Answer `method path` with whatever `handler(request)` returns."""
        self._routes[(method, path)] = handler

    def requests_to(self, method: str, path: str) -> list[ReceivedRequest]:
        return [r for r in self.requests if r.method == method and r.path.split("?")[0] == path]

    def _answer(self, request: ReceivedRequest) -> StubAnswer:
        handler = self._routes.get((request.method, request.path.split("?")[0]))
        if handler is None:
            return 404, {"code": "NOT_FOUND", "status": 404}
        return handler(request)

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()


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
