"""POST /internal/v1/events, signed as core: validation, handlers in the recording transaction,
exactly-once effects, and the lookup-cache invalidations core's events cause."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import pytest
from core_stub import CoreStub
from internal_support import Clock, event, internal_client, signed
from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromPath
from pymongo.asynchronous.client_session import AsyncClientSession
from support import assert_problem

from alephdraad_contracts import (
    THREAD_DELETED,
    UNPROCESSABLE_CONTENT,
    USER_LOCKED,
    USER_RENAMED,
    VALIDATION_FAILED,
    new_event_id,
)
from alephdraad_feature.internal.core_client import CoreClient
from alephdraad_feature.internal.events import (
    EventHandler,
    register_event_handler,
    unregister_event_handler,
)
from alephdraad_feature.platform.db import MongoDatabase
from alephdraad_feature.settings import Settings

EVENTS = "/internal/v1/events"
EFFECTS = "test_event_effects"


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def _send(client: httpx.AsyncClient, clock: Clock, body: Any) -> httpx.Response:
    return await client.send(signed("POST", EVENTS, body=body, created=clock.now))


async def _recorded(mongo: MongoDatabase, event_id: str) -> dict[str, Any] | None:
    return await mongo.database["handled_events"].find_one({"_id": event_id})


# ---- validation -------------------------------------------------------------------------------


def _without(key: str) -> dict[str, Any]:
    envelope = event()
    del envelope[key]
    return envelope


@pytest.mark.parametrize(
    ("envelope", "field"),
    [
        (_without("version"), "body"),
        (_without("producer"), "body"),
        ({**event(), "id": "0193e6a0-0000-7000-8000-000000000001"}, "id"),
        ({**event(), "version": 0}, "version"),
        ({**event(), "version": "1"}, "version"),
        ({**event(), "producer": "someone-else"}, "producer"),
        ({**event(), "data": [1]}, "data"),
        ({**event(), "type": "Thread Deleted"}, "type"),
        ({**event(), "extra": True}, "body"),
        ({**event(), "occurred_at": "yesterday"}, "occurred_at"),
        ({**event(), "occurred_at": "2026-01-01T11:59:58"}, "occurred_at"),
    ],
    ids=[
        "no-version",
        "no-producer",
        "uuid-id",
        "version-0",
        "version-string",
        "unknown-producer",
        "data-not-object",
        "bad-type",
        "extra-member",
        "bad-time",
        "naive-time",
    ],
)
async def test_a_broken_envelope_is_400_and_nothing_recorded(
    settings: Settings, clock: Clock, mongo: MongoDatabase, envelope: dict[str, Any], field: str
) -> None:
    async with internal_client(settings, clock) as client:
        response = await _send(client, clock, envelope)
    body = assert_problem(response, VALIDATION_FAILED)
    assert [error["field"] for error in body["errors"]] == [field]
    if isinstance(envelope.get("id"), str):
        assert await _recorded(mongo, envelope["id"]) is None


@pytest.mark.parametrize(
    ("event_type", "data", "field"),
    [
        (THREAD_DELETED, {"thread_id": 123}, "data"),
        (THREAD_DELETED, {"thread_id": 0, "author_id": 1}, "data.thread_id"),
        (USER_RENAMED, {"user_id": 1, "old_username": "a", "username": "b", "x": 1}, "data"),
        (USER_LOCKED, {"user_id": "1", "until": None, "reason": "spam"}, "data.user_id"),
    ],
)
async def test_known_type_with_bad_data_is_422_and_nothing_recorded(
    settings: Settings,
    clock: Clock,
    mongo: MongoDatabase,
    event_type: str,
    data: dict[str, Any],
    field: str,
) -> None:
    envelope = event(event_type=event_type, data=data)
    async with internal_client(settings, clock) as client:
        response = await _send(client, clock, envelope)
    body = assert_problem(response, UNPROCESSABLE_CONTENT)
    assert [error["field"] for error in body["errors"]] == [field]
    assert await _recorded(mongo, envelope["id"]) is None


async def test_a_known_type_at_an_unknown_version_is_acknowledged_without_effect(
    settings: Settings, clock: Clock, mongo: MongoDatabase
) -> None:
    calls: list[Mapping[str, Any]] = []

    async def handler(data: Mapping[str, Any], _: AsyncClientSession) -> None:
        calls.append(data)

    register_event_handler(THREAD_DELETED)(handler)
    envelope = event(data={"thread_id": 1, "whatever": "v2 shape"}, version=2)
    try:
        async with internal_client(settings, clock) as client:
            response = await _send(client, clock, envelope)
    finally:
        unregister_event_handler(THREAD_DELETED, handler)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "handled"}
    record = await _recorded(mongo, envelope["id"])
    assert record is not None
    assert (record["known"], record["version"], record["producer"]) == (False, 2, "core-service")
    assert calls == []


# ---- handlers ---------------------------------------------------------------------------------


@pytest.fixture
async def effect_handler(settings: Settings) -> AsyncIterator[EventHandler]:
    """A thread.deleted handler that writes one document per event through the session."""

    async def record_effect(data: Mapping[str, Any], session: AsyncClientSession) -> None:
        collection = session.client[settings.mongodb_database][EFFECTS]
        await collection.insert_one({"threadId": data["thread_id"]}, session=session)

    register_event_handler(THREAD_DELETED)(record_effect)
    try:
        yield record_effect
    finally:
        unregister_event_handler(THREAD_DELETED, record_effect)


async def test_the_effect_and_the_record_commit_together_once(
    settings: Settings, clock: Clock, mongo: MongoDatabase, effect_handler: EventHandler
) -> None:
    envelope = event(data={"thread_id": 9001, "author_id": 1})
    async with internal_client(settings, clock) as client:
        first = await _send(client, clock, envelope)
        again = await _send(client, clock, envelope)
    assert first.json() == {"status": "handled"}
    assert again.json() == {"status": "duplicate"}
    assert await mongo.database[EFFECTS].count_documents({"threadId": 9001}) == 1
    record = await _recorded(mongo, envelope["id"])
    assert record is not None
    assert (record["type"], record["known"], record["handledAt"]) == (
        THREAD_DELETED,
        True,
        clock.now,
    )


async def test_a_failing_handler_leaves_neither_effect_nor_record(
    settings: Settings, clock: Clock, mongo: MongoDatabase, effect_handler: EventHandler
) -> None:
    async def broken(data: Mapping[str, Any], _: AsyncClientSession) -> None:
        raise RuntimeError("handler bug")

    # Registered after `effect_handler`, so the effect is written before the failure.
    register_event_handler(THREAD_DELETED)(broken)
    envelope = event(data={"thread_id": 9002, "author_id": 1})
    try:
        async with internal_client(settings, clock) as client:
            failed = await _send(client, clock, envelope)
            assert await _recorded(mongo, envelope["id"]) is None
            assert await mongo.database[EFFECTS].count_documents({"threadId": 9002}) == 0
            unregister_event_handler(THREAD_DELETED, broken)
            # core's outbox retries; with the bug fixed the event takes effect once.
            retried = await _send(client, clock, envelope)
    finally:
        unregister_event_handler(THREAD_DELETED, broken)
    assert failed.status_code == 500
    assert failed.headers["content-type"] == "application/problem+json"
    assert retried.json() == {"status": "handled"}
    assert await _recorded(mongo, envelope["id"]) is not None
    assert await mongo.database[EFFECTS].count_documents({"threadId": 9002}) == 1


async def test_several_handlers_of_one_type_run_in_registration_order(
    settings: Settings, clock: Clock
) -> None:
    order: list[str] = []

    async def first(_: Mapping[str, Any], __: AsyncClientSession) -> None:
        order.append("first")

    async def second(_: Mapping[str, Any], __: AsyncClientSession) -> None:
        order.append("second")

    register_event_handler(THREAD_DELETED)(first)
    register_event_handler(THREAD_DELETED)(second)
    try:
        async with internal_client(settings, clock) as client:
            response = await _send(client, clock, event())
    finally:
        unregister_event_handler(THREAD_DELETED, first)
        unregister_event_handler(THREAD_DELETED, second)
    assert response.json() == {"status": "handled"}
    assert order == ["first", "second"]


def test_a_handler_for_a_type_contracts_does_not_know_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown event type"):
        register_event_handler("wallet.exploded")


# ---- cache invalidation -------------------------------------------------------------------------


@get("/test/core-state/{kind:str}/{core_id:int}")
async def core_state(
    kind: FromPath[str], core_id: FromPath[int], core_client: NamedDependency[CoreClient]
) -> dict[str, Any]:
    """Test-only: what this process's core client says (from its cache when it can)."""
    if kind == "user":
        user = (await core_client.lookup(user_ids=[core_id])).user(core_id)
        return {"live": user.live, "locked": user.locked, "username": user.username}
    thread = (await core_client.lookup(thread_ids=[core_id])).thread(core_id)
    return {"live": thread.live}


@pytest.mark.parametrize(
    ("kind", "change", "event_type", "data", "after"),
    [
        (
            "user",
            lambda stub: stub.add_user(5, "bob", locked=True),
            "user.locked",
            {"user_id": 5, "until": None, "reason": "spam"},
            {"live": True, "locked": True, "username": "bob"},
        ),
        (
            "user",
            lambda stub: stub.add_user(5, "bobby"),
            "user.renamed",
            {"user_id": 5, "old_username": "bob", "username": "bobby"},
            {"live": True, "locked": False, "username": "bobby"},
        ),
        (
            "user",
            lambda stub: stub.add_user(5, "bob", deleted=True),
            "user.deleted",
            {"user_id": 5},
            {"live": False, "locked": False, "username": "bob"},
        ),
        (
            "thread",
            lambda stub: stub.add_thread(7, deleted=True),
            "thread.deleted",
            {"thread_id": 7, "author_id": 5},
            {"live": False},
        ),
    ],
    ids=["user.locked", "user.renamed", "user.deleted", "thread.deleted"],
)
async def test_core_events_drop_cached_answers(
    settings: Settings,
    clock: Clock,
    core_stub: CoreStub,
    kind: str,
    change: Any,
    event_type: str,
    data: dict[str, Any],
    after: dict[str, Any],
) -> None:
    core_stub.add_user(5, "bob")
    core_stub.add_thread(7)
    path = f"/test/core-state/{kind}/{5 if kind == 'user' else 7}"
    async with internal_client(
        settings, clock, extra_route_handlers=[core_state], **core_stub.settings_overrides()
    ) as client:
        before = (await client.get(path)).json()
        change(core_stub)
        # Within the cache's lifetime the stale answer is still served...
        assert (await client.get(path)).json() == before
        assert len(core_stub.requests_to("POST", "/internal/v1/lookup")) == 1
        # ...until core's event drops it.
        received = await _send(client, clock, event(new_event_id(), event_type, data))
        assert received.json() == {"status": "handled"}
        now = (await client.get(path)).json()
    assert before["live"] is True
    assert now == after
    assert len(core_stub.requests_to("POST", "/internal/v1/lookup")) == 2


async def test_the_same_event_delivered_twice_at_once_takes_effect_once(
    settings: Settings, clock: Clock, mongo: MongoDatabase, effect_handler: EventHandler
) -> None:
    # Two replicas of core's dispatcher (or a retry racing a slow first attempt): both
    # transactions insert the same id; one commits, the other conflicts, is retried by the
    # driver and then finds the id recorded.
    envelope = event(data={"thread_id": 9003, "author_id": 1})
    async with internal_client(settings, clock) as client:
        responses = await asyncio.gather(
            _send(client, clock, envelope), _send(client, clock, envelope)
        )
    assert sorted(response.json()["status"] for response in responses) == [
        "duplicate",
        "handled",
    ]
    assert await mongo.database[EFFECTS].count_documents({"threadId": 9003}) == 1
    assert await mongo.database["handled_events"].count_documents({"_id": envelope["id"]}) == 1
