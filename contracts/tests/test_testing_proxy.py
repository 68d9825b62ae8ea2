import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from alephdraad_contracts import (
    CallerKey,
    KeyRing,
    MemoryNonceStore,
    SignatureRejected,
    signed_client,
    verify_signed_request,
)
from alephdraad_contracts.testing import (
    UPDATE_PACTS_VARIABLE,
    SignedStubServer,
    SigningProxy,
    StubAnswer,
    sync_pact_file,
)

KEY = CallerKey(keyid="feature-test", caller="feature-service", secret=b"k" * 32)


class _Upstream(BaseHTTPRequestHandler):
    """Verifies the signature like a provider would and echoes what it verified."""

    nonces = MemoryNonceStore()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            verified = verify_signed_request(
                self.command,
                self.path,
                dict(self.headers.items()),
                body,
                keys=KeyRing([KEY]),
                nonce_store=self.nonces,
                now=datetime.now(UTC),
            )
            status, payload = 200, {"caller": verified.caller, "path": self.path}
        except SignatureRejected as rejected:
            status, payload = 401, {"reason": rejected.reason.value}
        data = json.dumps({**payload, "body": body.decode()}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Upstream", "yes")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = _serve

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def upstream() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_requests_through_the_proxy_arrive_signed(upstream: str) -> None:
    with SigningProxy(upstream, caller=KEY.caller, keyid=KEY.keyid, secret=KEY.secret) as proxy:
        posted = httpx.post(
            f"{proxy.url}/internal/v1/lookup?x=1",
            json={"user_ids": [1]},
            headers={"Connection": "close"},
        )
        fetched = httpx.get(f"{proxy.url}/internal/v1/sessions/abc")
    assert posted.status_code == 200
    assert posted.json() == {
        "caller": "feature-service",
        "path": "/internal/v1/lookup?x=1",
        "body": '{"user_ids":[1]}',
    }
    assert posted.headers["X-Upstream"] == "yes"
    assert fetched.json()["path"] == "/internal/v1/sessions/abc"


def test_a_wrong_key_is_still_refused_by_the_provider(upstream: str) -> None:
    with SigningProxy(upstream, caller=KEY.caller, keyid=KEY.keyid, secret=b"x" * 32) as proxy:
        answer = httpx.delete(f"{proxy.url}/internal/v1/x")
    assert answer.status_code == 401
    assert answer.json()["reason"] == "bad_signature"


def _pact(path: Path, interactions: list[str], version: str = "1") -> Path:
    path.write_text(
        json.dumps(
            {"interactions": interactions, "metadata": {"pact-python": {"version": version}}}
        )
    )
    return path


def test_an_unchanged_pact_passes_with_other_library_versions_and_order(tmp_path: Path) -> None:
    generated = _pact(tmp_path / "new.json", ["b", "a"], version="2")
    committed = _pact(tmp_path / "committed.json", ["a", "b"])
    sync_pact_file(generated, committed)


def test_a_changed_pact_fails_until_updated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generated = _pact(tmp_path / "new.json", ["a", "b"])
    committed = _pact(tmp_path / "committed.json", ["a"])
    with pytest.raises(AssertionError, match="run `make pacts`"):
        sync_pact_file(generated, committed)
    monkeypatch.setenv(UPDATE_PACTS_VARIABLE, "1")
    sync_pact_file(generated, committed)
    assert json.loads(committed.read_text())["interactions"] == ["a", "b"]


def test_a_missing_pact_fails_or_is_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generated = _pact(tmp_path / "new.json", ["a"])
    committed = tmp_path / "pacts" / "x.json"
    with pytest.raises(AssertionError, match="is missing"):
        sync_pact_file(generated, committed)
    monkeypatch.setenv(UPDATE_PACTS_VARIABLE, "1")
    sync_pact_file(generated, committed)
    assert committed.read_text() == generated.read_text()


def _signed_client(url: str, secret: bytes = KEY.secret) -> httpx.Client:
    return signed_client(url, caller=KEY.caller, keyid=KEY.keyid, secret=secret, retries=0)


def test_the_stub_verifies_records_and_answers() -> None:
    answers: dict[str, StubAnswer] = {
        "/json": (200, {"ok": True}),
        "/raw": (200, b"not json"),
        "/empty": (204, None),
        "/problem": (404, {"code": "NOT_FOUND"}),
    }
    stub = SignedStubServer(
        lambda request: answers[request.path.split("?")[0]], keys=KeyRing([KEY])
    )
    stub.start()
    try:
        with _signed_client(stub.url) as client:
            posted = client.post("/json?x=1", json={"a": 1})
            raw = client.put("/raw")
            empty = client.delete("/empty")
            problem = client.patch("/problem", json={})
        with _signed_client(stub.url, secret=b"w" * 32) as client:
            refused = client.get("/json")
    finally:
        stub.stop()
    assert (posted.status_code, posted.json()) == (200, {"ok": True})
    assert posted.headers["content-type"] == "application/json"
    assert raw.content == b"not json"
    assert (empty.status_code, empty.content) == (204, b"")
    assert problem.headers["content-type"] == "application/problem+json"
    assert refused.status_code == 401
    assert refused.json()["code"] == "SIGNATURE_REJECTED"
    assert refused.json()["reason"] == "bad_signature"
    # Only verified requests are recorded.
    assert [(r.method, r.path) for r in stub.requests] == [
        ("POST", "/json?x=1"),
        ("PUT", "/raw"),
        ("DELETE", "/empty"),
        ("PATCH", "/problem"),
    ]
    assert stub.requests[0].json == {"a": 1}
    assert stub.requests[1].json is None


def test_a_stopped_stub_refuses_connections_and_restarts_on_its_port() -> None:
    calls: list[str] = []
    stub = SignedStubServer(
        lambda request: (200, {}), keys=KeyRing([KEY]), before_verify=lambda: calls.append("x")
    )
    stub.start()
    port = stub.port
    stub.stop()
    stub.stop()  # stopping twice is harmless
    with _signed_client(stub.url) as client, pytest.raises(httpx.ConnectError):
        client.get("/x")
    stub.start()
    try:
        assert stub.port == port
        with _signed_client(stub.url) as client:
            assert client.get("/x").status_code == 200
    finally:
        stub.stop()
    assert calls == ["x"]
