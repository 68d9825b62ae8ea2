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
    verify_signed_request,
)
from alephdraad_contracts.testing import UPDATE_PACTS_VARIABLE, SigningProxy, sync_pact_file

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
