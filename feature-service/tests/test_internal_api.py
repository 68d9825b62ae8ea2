"""/internal/v1 through the ASGI client: what the guard refuses, what the routes answer."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from internal_support import CORE_SECRET, OTHER_SECRET, Clock, event, internal_client, signed
from support import assert_problem

from alephdraad_contracts import new_event_id
from alephdraad_feature.internal import holdings
from alephdraad_feature.internal.errors import SIGNATURE_REJECTED
from alephdraad_feature.internal.models import HandledEvent, SignatureNonce
from alephdraad_feature.openapi import openapi_document
from alephdraad_feature.settings import Settings

CHECK = "/internal/v1/users/456/deletion-check"


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _assert_rejected(response: httpx.Response, reason: str) -> None:
    body = assert_problem(response, SIGNATURE_REJECTED)
    assert body["reason"] == reason
    assert response.headers["www-authenticate"] == "Signature"


async def test_valid_signed_deletion_check(settings: Settings, clock: Clock) -> None:
    async with internal_client(settings, clock) as client:
        response = await client.send(signed("GET", CHECK, created=clock.now))
    assert response.status_code == 200, response.text
    body = response.json()
    # Every registered domain reports what it holds (nothing: this user never wrote here).
    assert body == {
        "can_delete": True,
        "blocking_reasons": [],
        "holdings": dict.fromkeys(sorted(holdings._COUNTERS), 0),
    }
    assert response.headers["x-request-id"] == "internal-test-0001"


async def test_the_deletion_check_asks_every_registered_domain(
    settings: Settings, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def replies_of(user_id: int) -> int:
        return 3 if user_id == 456 else 0

    async def wallet_of(user_id: int) -> str | None:
        return "WALLET_NOT_EMPTY" if user_id == 456 else None

    # Only this counter: the real domains' counters are registered too.
    monkeypatch.setattr(holdings, "_COUNTERS", {"replies": replies_of})
    monkeypatch.setattr(holdings, "_BLOCKERS", [wallet_of])
    async with internal_client(settings, clock) as client:
        blocked = await client.send(signed("GET", CHECK, created=clock.now))
        other = await client.send(
            signed("GET", "/internal/v1/users/8/deletion-check", created=clock.now)
        )
    assert blocked.json() == {
        "can_delete": False,
        "blocking_reasons": ["WALLET_NOT_EMPTY"],
        "holdings": {"replies": 3},
    }
    assert other.json() == {"can_delete": True, "blocking_reasons": [], "holdings": {"replies": 0}}


async def test_unsigned_request_is_refused(settings: Settings, clock: Clock) -> None:
    async with internal_client(settings, clock) as client:
        response = await client.get(CHECK)
    _assert_rejected(response, "missing_signature")


async def test_altered_body_is_refused_and_nothing_recorded(
    settings: Settings, clock: Clock
) -> None:
    event_id = new_event_id()
    request = signed("POST", "/internal/v1/events", body=event(event_id), created=clock.now)
    altered = httpx.Request(
        "POST",
        request.url,
        headers=request.headers,
        content=request.content.replace(b"123", b"124"),
    )
    async with internal_client(settings, clock) as client:
        response = await client.send(altered)
        assert await HandledEvent.find_one(HandledEvent.id == event_id) is None
    _assert_rejected(response, "digest_mismatch")


async def test_wrong_key_is_refused(settings: Settings, clock: Clock) -> None:
    async with internal_client(settings, clock) as client:
        response = await client.send(signed("GET", CHECK, created=clock.now, secret=OTHER_SECRET))
    _assert_rejected(response, "bad_signature")


async def test_unknown_keyid_is_refused(settings: Settings, clock: Clock) -> None:
    async with internal_client(settings, clock) as client:
        response = await client.send(
            signed("GET", CHECK, created=clock.now, keyid="core-test-99", secret=CORE_SECRET)
        )
    _assert_rejected(response, "unknown_keyid")


async def test_no_accepted_keys_refuses_everything(settings: Settings, clock: Clock) -> None:
    async with internal_client(settings, clock, accept_keys="") as client:
        response = await client.send(signed("GET", CHECK, created=clock.now))
    _assert_rejected(response, "unknown_keyid")


async def test_61_seconds_old_is_refused_60_is_not(settings: Settings, clock: Clock) -> None:
    async with internal_client(settings, clock) as client:
        stale = await client.send(signed("GET", CHECK, created=clock.now - timedelta(seconds=61)))
        edge = await client.send(signed("GET", CHECK, created=clock.now - timedelta(seconds=60)))
    _assert_rejected(stale, "stale")
    assert edge.status_code == 200, edge.text


async def test_reused_nonce_is_refused(settings: Settings, clock: Clock) -> None:
    request = signed("GET", CHECK, created=clock.now)
    async with internal_client(settings, clock) as client:
        first = await client.send(request)
        second = await client.send(request)
    assert first.status_code == 200, first.text
    _assert_rejected(second, "replayed_nonce")


async def test_nonce_is_stored_with_its_expiry_under_a_ttl_index(
    settings: Settings, clock: Clock
) -> None:
    request = signed("GET", CHECK, created=clock.now)
    nonce = request.headers["signature-input"].split('nonce="')[1].split('"')[0]
    async with internal_client(settings, clock) as client:
        assert (await client.send(request)).status_code == 200
        collection = SignatureNonce.get_pymongo_collection()
        stored = await collection.find_one({"_id": nonce})
        indexes = await collection.index_information()
    assert collection.name == "signature_nonces"
    assert stored is not None
    assert stored["expiresAt"] == clock.now + timedelta(seconds=60)
    ttl = [index for index in indexes.values() if index["key"] == [("expiresAt", 1)]]
    assert len(ttl) == 1
    assert ttl[0]["expireAfterSeconds"] == 0


async def test_event_is_handled_once_and_redelivery_is_a_duplicate(
    settings: Settings, clock: Clock
) -> None:
    event_id = new_event_id()
    async with internal_client(settings, clock) as client:
        first = await client.send(
            signed("POST", "/internal/v1/events", body=event(event_id), created=clock.now)
        )
        # The outbox re-signs a redelivery: a new nonce, the same event id.
        again = await client.send(
            signed("POST", "/internal/v1/events", body=event(event_id), created=clock.now)
        )
        records = await HandledEvent.find(HandledEvent.id == event_id).to_list()
    assert first.status_code == 200, first.text
    assert first.json() == {"status": "handled"}
    assert again.status_code == 200, again.text
    assert again.json() == {"status": "duplicate"}
    assert len(records) == 1
    assert records[0].type == "thread.deleted"
    assert records[0].known is True
    assert records[0].handled_at == clock.now
    assert HandledEvent.get_collection_name() == "handled_events"


async def test_unknown_event_type_is_recorded_and_acknowledged(
    settings: Settings, clock: Clock, json_log: object
) -> None:
    event_id = new_event_id()
    async with internal_client(settings, clock) as client:
        response = await client.send(
            signed(
                "POST",
                "/internal/v1/events",
                body=event(event_id, "wallet.exploded"),
                created=clock.now,
            )
        )
        record = await HandledEvent.find_one(HandledEvent.id == event_id)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "handled"}
    assert record is not None
    assert record.known is False
    assert record.data == {"thread_id": 123, "author_id": 456}
    warnings = [
        line
        for line in json_log.lines()  # type: ignore[attr-defined]
        if line["message"] == "unknown event type acknowledged"
    ]
    assert warnings
    assert warnings[0]["event_id"] == event_id


def test_internal_routes_are_not_in_the_public_openapi_document() -> None:
    paths = openapi_document()["paths"]
    assert paths
    assert not [path for path in paths if path.startswith("/internal")]
