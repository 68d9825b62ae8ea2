from __future__ import annotations

import asyncio

import httpx
import pytest

from alephdraad_contracts import (
    CallerKey,
    KeyRing,
    MemoryNonceStore,
    SignatureRejected,
    SigningAuth,
    async_signed_client,
    bind_request_id,
    reset_request_id,
    signed_client,
    verify_signed_request,
)

SECRET = b"s" * 32
RING = KeyRing([CallerKey(keyid="f1", caller="feature-service", secret=SECRET)])
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


class Receiver:
    """A peer that verifies every request the way a service's internal listener will."""

    def __init__(self, fail_connects: int = 0) -> None:
        self.store = MemoryNonceStore()
        self.fail_connects = fail_connects
        self.attempts = 0
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.attempts += 1
        if self.attempts <= self.fail_connects:
            raise httpx.ConnectError("connection refused", request=request)
        self.seen.append(request)
        try:
            verified = verify_signed_request(
                request.method,
                str(request.url),
                request.headers,
                request.content,
                keys=RING,
                nonce_store=self.store,
            )
        except SignatureRejected as exc:
            return httpx.Response(401, json={"code": exc.reason.value})
        return httpx.Response(200, json={"caller": verified.caller})


def _client(receiver: Receiver, **kwargs: object) -> httpx.Client:
    return signed_client(
        "http://core:8001",
        caller="feature-service",
        keyid="f1",
        secret=SECRET,
        backoff=0,
        transport=httpx.MockTransport(receiver),
        **kwargs,  # type: ignore[arg-type]
    )


def test_round_trip_through_a_real_client() -> None:
    receiver = Receiver()
    with _client(receiver) as client:
        got = client.post("/internal/v1/lookup", json={"user_ids": [1]})
        assert got.json() == {"caller": "feature-service"}
        assert client.get("/internal/v1/sessions/x", params={"a": "b c"}).status_code == 200
    first = receiver.seen[0]
    assert first.headers["x-request-id"]
    assert "traceparent" not in first.headers


def test_replay_of_a_captured_request_is_refused() -> None:
    receiver = Receiver()
    with _client(receiver) as client:
        client.post("/internal/v1/events", content=b"{}")
    captured = receiver.seen[0]
    replay = httpx.Client(transport=httpx.MockTransport(receiver))
    resent = httpx.Request(captured.method, captured.url, headers=captured.headers, content=b"{}")
    assert replay.send(resent).json() == {"code": "replayed_nonce"}
    tampered = httpx.Request(captured.method, captured.url, headers=captured.headers, content=b"[]")
    assert replay.send(tampered).json() == {"code": "digest_mismatch"}


def test_request_id_comes_from_context_or_caller() -> None:
    receiver = Receiver()
    token = bind_request_id("ctx-id")
    try:
        with _client(receiver) as client:
            client.get("/a")
            client.get("/b", headers={"X-Request-ID": "explicit"})
    finally:
        reset_request_id(token)
    assert [r.headers["x-request-id"] for r in receiver.seen] == ["ctx-id", "explicit"]


def test_traceparent_is_propagated_when_valid() -> None:
    receiver = Receiver()
    values = iter([TRACEPARENT, "garbage", None])
    with _client(receiver, traceparent=lambda: next(values)) as client:
        client.get("/a")
        client.get("/b")
        client.get("/c")
        client.get("/d", headers={"traceparent": "set-by-caller"})
    got = [r.headers.get("traceparent") for r in receiver.seen]
    assert got == [TRACEPARENT, None, None, "set-by-caller"]


def test_idempotent_requests_retry_connection_failures() -> None:
    receiver = Receiver(fail_connects=1)
    with _client(receiver) as client:
        assert client.get("/internal/v1/sessions/x").status_code == 200
    assert receiver.attempts == 2


def test_non_idempotent_requests_do_not_retry() -> None:
    receiver = Receiver(fail_connects=1)
    with _client(receiver) as client, pytest.raises(httpx.ConnectError):
        client.post("/internal/v1/threads/1/delete", json={})
    assert receiver.attempts == 1


def test_retries_are_bounded() -> None:
    receiver = Receiver(fail_connects=5)
    with _client(receiver, retries=2) as client, pytest.raises(httpx.ConnectError):
        client.delete("/x")
    assert receiver.attempts == 3


def test_default_transport_and_timeouts() -> None:
    with signed_client(
        "http://core:8001", caller="feature-service", keyid="f1", secret=SECRET
    ) as c:
        assert c.timeout.connect == 2.0
        assert c.timeout.read == 5.0
        assert isinstance(c.auth, SigningAuth)


class AsyncReceiver(httpx.AsyncBaseTransport):
    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        return self.receiver(request)


def _async_client(receiver: Receiver, **kwargs: object) -> httpx.AsyncClient:
    return async_signed_client(
        "http://feature:8002",
        caller="feature-service",
        keyid="f1",
        secret=SECRET,
        backoff=0,
        transport=AsyncReceiver(receiver),
        **kwargs,  # type: ignore[arg-type]
    )


def test_async_client_signs_and_retries_only_idempotent() -> None:
    async def scenario() -> None:
        ok = Receiver(fail_connects=1)
        async with _async_client(ok) as client:
            got = await client.put("/internal/v1/x", json={"a": 1})
        assert got.json() == {"caller": "feature-service"}
        assert ok.attempts == 2

        refused = Receiver(fail_connects=1)
        async with _async_client(refused) as client:
            with pytest.raises(httpx.ConnectError):
                await client.post("/internal/v1/events", json={})
        assert refused.attempts == 1

        bounded = Receiver(fail_connects=5)
        async with _async_client(bounded, retries=1) as client:
            with pytest.raises(httpx.ConnectError):
                await client.get("/x")
        assert bounded.attempts == 2

        async with async_signed_client(
            "http://feature:8002", caller="feature-service", keyid="f1", secret=SECRET
        ) as default:
            assert default.timeout.connect == 2.0

    asyncio.run(scenario())
