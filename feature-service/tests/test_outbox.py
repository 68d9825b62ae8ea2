"""The outbox: events written in the change's transaction, delivered to a real HTTP stub of core
by leased dispatchers (exactly once each, even with two at a time), retried with backoff."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from core_stub import CoreStub, ReceivedRequest
from internal_support import Clock
from pymongo.asynchronous.client_session import AsyncClientSession
from support import MakeClient

from alephdraad_contracts import THREAD_DELETED, EventInvalid, validate_event
from alephdraad_feature.internal.core_client import CoreClient
from alephdraad_feature.outbox.dispatcher import OutboxDispatcher, backoff_seconds
from alephdraad_feature.outbox.selectors import outbox_backlog
from alephdraad_feature.outbox.services import NotInTransaction, do_retry_events, emit_event
from alephdraad_feature.platform.db import MongoDatabase
from alephdraad_feature.settings import Settings

CHANGES = "test_outbox_changes"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def outbox(mongo: MongoDatabase) -> AsyncIterator[Any]:
    """The raw `event_outbox` collection, emptied for this test."""
    collection = mongo.database["event_outbox"]
    await collection.delete_many({})
    yield collection
    await collection.delete_many({})


async def _emit(mongo: MongoDatabase, clock: Clock, count: int) -> list[str]:
    """`count` events, each in its own committed transaction, 1 ms apart (so in id order)."""
    ids = []
    for index in range(count):
        clock.now += timedelta(milliseconds=1)

        async def change(session: AsyncClientSession, index: int = index) -> str:
            envelope = await emit_event(
                session, THREAD_DELETED, {"thread_id": index + 1, "author_id": 1}, now=clock.now
            )
            return str(envelope["id"])

        async with mongo.client.start_session() as session:
            ids.append(await session.with_transaction(change))
    return ids


@pytest.fixture
def make_dispatcher(settings: Settings, core_stub: CoreStub, clock: Clock) -> Callable[..., Any]:
    @asynccontextmanager
    async def _make(
        owner: str = "dispatcher-1", *, batch_size: int = 100, **overrides: Any
    ) -> AsyncIterator[OutboxDispatcher]:
        core_client = CoreClient.from_settings(
            Settings(**{**settings.model_dump(), **core_stub.settings_overrides(**overrides)})
        )
        try:
            yield OutboxDispatcher(
                core_client,
                batch_size=batch_size,
                lease_seconds=30,
                max_backoff_seconds=60,
                owner=owner,
                clock=clock,
            )
        finally:
            await core_client.aclose()

    return _make


# ---- emitting ---------------------------------------------------------------------------------


async def test_an_emitted_event_commits_with_the_change(
    mongo: MongoDatabase, outbox: Any, clock: Clock
) -> None:
    async def change(session: AsyncClientSession) -> dict[str, Any]:
        await mongo.database[CHANGES].insert_one({"_id": "committed"}, session=session)
        return await emit_event(
            session, THREAD_DELETED, {"thread_id": 5, "author_id": 6}, now=clock.now
        )

    await mongo.database[CHANGES].delete_many({})
    async with mongo.client.start_session() as session:
        envelope = await session.with_transaction(change)
    validate_event(envelope)
    assert envelope["producer"] == "feature-service"
    stored = await outbox.find_one({"_id": envelope["id"]})
    assert stored == {
        "_id": envelope["id"],
        "type": THREAD_DELETED,
        "version": 1,
        "occurredAt": clock.now,
        "envelope": envelope,
        "status": "pending",
        "attempts": 0,
        "nextAttemptAt": clock.now,
        "leaseOwner": None,
        "leaseUntil": None,
        "lastError": None,
        "deliveredAt": None,
        "requestId": None,
    }
    assert await mongo.database[CHANGES].count_documents({"_id": "committed"}) == 1


async def test_an_aborted_transaction_leaves_no_event_and_no_change(
    mongo: MongoDatabase, outbox: Any
) -> None:
    class Abort(Exception):
        pass

    async def change(session: AsyncClientSession) -> None:
        await mongo.database[CHANGES].insert_one({"_id": "aborted"}, session=session)
        await emit_event(session, THREAD_DELETED, {"thread_id": 5, "author_id": 6})
        raise Abort

    await mongo.database[CHANGES].delete_many({})
    async with mongo.client.start_session() as session:
        with pytest.raises(Abort):
            await session.with_transaction(change)
    assert await outbox.count_documents({}) == 0
    assert await mongo.database[CHANGES].count_documents({"_id": "aborted"}) == 0


async def test_emitting_outside_a_transaction_is_refused(mongo: MongoDatabase, outbox: Any) -> None:
    async with mongo.client.start_session() as session:
        with pytest.raises(NotInTransaction):
            await emit_event(session, THREAD_DELETED, {"thread_id": 5, "author_id": 6})
    assert await outbox.count_documents({}) == 0


async def test_an_event_breaking_its_schema_is_refused_before_writing(
    mongo: MongoDatabase, outbox: Any
) -> None:
    async def change(session: AsyncClientSession) -> None:
        await mongo.database[CHANGES].insert_one({"_id": "invalid"}, session=session)
        await emit_event(session, THREAD_DELETED, {"thread_id": "five"})

    await mongo.database[CHANGES].delete_many({})
    async with mongo.client.start_session() as session:
        with pytest.raises(EventInvalid):
            await session.with_transaction(change)
    assert await outbox.count_documents({}) == 0
    assert await mongo.database[CHANGES].count_documents({}) == 0


# ---- dispatching ------------------------------------------------------------------------------


async def test_due_events_are_delivered_in_id_order_and_marked(
    mongo: MongoDatabase,
    outbox: Any,
    clock: Clock,
    core_stub: CoreStub,
    make_dispatcher: Callable[..., Any],
) -> None:
    ids = await _emit(mongo, clock, 3)
    assert ids == sorted(ids)
    async with make_dispatcher() as dispatcher:
        report = await dispatcher.do_dispatch_pass()
    assert report.as_dict() == {
        "delivered": 3,
        "retried": 0,
        "dead": 0,
        "lease_lost": 0,
        "unreachable": False,
    }
    assert [envelope["id"] for envelope in core_stub.events] == ids
    for envelope in core_stub.events:
        validate_event(envelope)
    stored = await outbox.find({}).sort("_id", 1).to_list()
    assert [(e["status"], e["attempts"], e["deliveredAt"]) for e in stored] == [
        ("delivered", 1, clock.now)
    ] * 3
    assert all(e["leaseOwner"] is None and e["leaseUntil"] is None for e in stored)


async def test_a_pass_takes_at_most_a_batch_and_until_empty_takes_all(
    mongo: MongoDatabase,
    outbox: Any,
    clock: Clock,
    core_stub: CoreStub,
    make_dispatcher: Callable[..., Any],
) -> None:
    await _emit(mongo, clock, 5)
    async with make_dispatcher(batch_size=2) as dispatcher:
        first = await dispatcher.do_dispatch_pass()
        assert len(core_stub.events) == 2
        rest = await dispatcher.do_dispatch_until_empty()
    assert (first.delivered, rest.delivered) == (2, 3)
    assert await outbox.count_documents({"status": "delivered"}) == 5


async def test_a_permanent_refusal_marks_the_event_dead(
    mongo: MongoDatabase,
    outbox: Any,
    clock: Clock,
    core_stub: CoreStub,
    make_dispatcher: Callable[..., Any],
) -> None:
    core_stub.respond(
        "POST", "/internal/v1/events", 422, {"code": "UNPROCESSABLE_CONTENT", "status": 422}
    )
    [event_id] = await _emit(mongo, clock, 1)
    async with make_dispatcher() as dispatcher:
        report = await dispatcher.do_dispatch_pass()
        # Dead events are not due any more.
        clock.now += timedelta(days=1)
        again = await dispatcher.do_dispatch_pass()
    assert (report.dead, again.attempted) == (1, 0)
    stored = await outbox.find_one({"_id": event_id})
    assert stored["status"] == "dead"
    assert stored["attempts"] == 1
    assert stored["lastError"].startswith("422 ")
    assert "UNPROCESSABLE_CONTENT" in stored["lastError"]
    assert stored["leaseOwner"] is None
    assert len(core_stub.requests_to("POST", "/internal/v1/events")) == 1


async def test_a_transient_failure_backs_off_exponentially_up_to_the_cap(
    mongo: MongoDatabase,
    outbox: Any,
    clock: Clock,
    core_stub: CoreStub,
    make_dispatcher: Callable[..., Any],
) -> None:
    core_stub.respond("POST", "/internal/v1/events", 503, {"code": "NOT_READY"})
    [event_id] = await _emit(mongo, clock, 1)
    waits = []
    async with make_dispatcher() as dispatcher:
        for _ in range(8):
            report = await dispatcher.do_dispatch_pass()
            assert report.retried == 1
            stored = await outbox.find_one({"_id": event_id})
            waits.append((stored["nextAttemptAt"] - clock.now).total_seconds())
            # Not due before its time...
            clock.now = stored["nextAttemptAt"] - timedelta(milliseconds=1)
            assert (await dispatcher.do_dispatch_pass()).attempted == 0
            # ...due at it.
            clock.now = stored["nextAttemptAt"]
        core_stub.clear_responses()
        delivered = await dispatcher.do_dispatch_pass()
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60]
    assert delivered.delivered == 1
    stored = await outbox.find_one({"_id": event_id})
    assert (stored["status"], stored["attempts"], stored["lastError"]) == ("delivered", 9, None)


def test_backoff_seconds() -> None:
    assert [backoff_seconds(n, 300) for n in (1, 2, 3, 9, 10, 1000)] == [1, 2, 4, 256, 300, 300]


async def test_core_unreachable_stops_the_pass(
    mongo: MongoDatabase,
    outbox: Any,
    clock: Clock,
    core_stub: CoreStub,
    make_dispatcher: Callable[..., Any],
) -> None:
    first, second, third = await _emit(mongo, clock, 3)
    core_stub.stop()
    async with make_dispatcher() as dispatcher:
        report = await dispatcher.do_dispatch_pass()
    assert (report.retried, report.unreachable) == (1, True)
    stored = {e["_id"]: e async for e in outbox.find({})}
    assert stored[first]["attempts"] == 1
    assert stored[first]["lastError"] == "core-service unreachable"
    assert stored[first]["nextAttemptAt"] == clock.now + timedelta(seconds=1)
    assert [stored[i]["attempts"] for i in (second, third)] == [0, 0]
    assert all(e["status"] == "pending" and e["leaseOwner"] is None for e in stored.values())


async def test_no_signing_key_delivers_nothing_and_keeps_the_events(
    mongo: MongoDatabase, outbox: Any, clock: Clock, settings: Settings
) -> None:
    await _emit(mongo, clock, 2)
    core_client = CoreClient.from_settings(settings)
    try:
        dispatcher = OutboxDispatcher(
            core_client, batch_size=10, lease_seconds=30, max_backoff_seconds=60, clock=clock
        )
        report = await dispatcher.do_dispatch_pass()
    finally:
        await core_client.aclose()
    assert report.unreachable
    assert await outbox.count_documents({"status": "pending"}) == 2


async def test_a_leased_event_is_skipped_until_its_lease_runs_out(
    mongo: MongoDatabase,
    outbox: Any,
    clock: Clock,
    core_stub: CoreStub,
    make_dispatcher: Callable[..., Any],
) -> None:
    [event_id] = await _emit(mongo, clock, 1)
    async with make_dispatcher("crashed") as crashed, make_dispatcher("healthy") as healthy:
        # `crashed` claims the event and dies before delivering it.
        claimed = await crashed.claim_next()
        assert claimed is not None
        assert (claimed["leaseOwner"], claimed["leaseUntil"]) == (
            "crashed",
            clock.now + timedelta(seconds=30),
        )
        assert (await healthy.do_dispatch_pass()).attempted == 0
        clock.now += timedelta(seconds=30)
        report = await healthy.do_dispatch_pass()
        # The crashed dispatcher comes back and finishes its stale attempt: not recorded.
        late = await crashed.do_deliver(claimed, stale_report := type(report)())
    assert report.delivered == 1
    assert late.result == "delivered"
    assert stale_report.lease_lost == 1
    stored = await outbox.find_one({"_id": event_id})
    assert (stored["status"], stored["attempts"]) == ("delivered", 1)


async def test_two_dispatchers_at_once_deliver_each_event_exactly_once(
    mongo: MongoDatabase,
    outbox: Any,
    clock: Clock,
    core_stub: CoreStub,
    make_dispatcher: Callable[..., Any],
) -> None:
    ids = await _emit(mongo, clock, 30)
    # The first event request waits until a second one is in flight too: proof that the two
    # dispatchers really deliver at the same time (serialised, this would break the barrier).
    barrier = threading.Barrier(2, timeout=10)
    waited = threading.Event()

    def meet_once(_: ReceivedRequest) -> tuple[int, Any] | None:
        if not waited.is_set():
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                return 503, {"code": "BARRIER_BROKEN"}
            waited.set()
        return None

    core_stub.on_event = meet_once
    async with (
        make_dispatcher("one", batch_size=7) as one,
        make_dispatcher("two", batch_size=7) as two,
    ):
        first, second = await asyncio.gather(
            one.do_dispatch_until_empty(), two.do_dispatch_until_empty()
        )
    assert waited.is_set()
    counts = core_stub.event_counts()
    assert sorted(counts) == ids
    assert set(counts.values()) == {1}
    assert first.delivered + second.delivered == 30
    assert first.delivered > 0
    assert second.delivered > 0
    assert first.lease_lost == second.lease_lost == 0
    assert await outbox.count_documents({"status": "delivered", "attempts": 1}) == 30


# ---- operator actions and the backlog ---------------------------------------------------------


async def test_retry_makes_dead_events_due_again(
    mongo: MongoDatabase,
    outbox: Any,
    clock: Clock,
    core_stub: CoreStub,
    make_dispatcher: Callable[..., Any],
) -> None:
    core_stub.respond("POST", "/internal/v1/events", 400, {"code": "VALIDATION_FAILED"})
    dead_one, dead_two, delivered = await _emit(mongo, clock, 3)
    async with make_dispatcher(batch_size=2) as dispatcher:
        await dispatcher.do_dispatch_pass()
        core_stub.clear_responses()
        await dispatcher.do_dispatch_pass()
        assert await outbox.count_documents({"status": "dead"}) == 2
        outcome = await do_retry_events(
            [dead_one, delivered, "evt_01JUNKJUNKJUNKJUNKJUNKJUNK"], now=clock.now
        )
        assert outcome == {
            dead_one: "retrying",
            delivered: "delivered",
            "evt_01JUNKJUNKJUNKJUNKJUNKJUNK": "unknown",
        }
        assert await do_retry_events(all_dead=True, now=clock.now) == {dead_two: "retrying"}
        report = await dispatcher.do_dispatch_pass()
    assert report.delivered == 2
    assert await outbox.count_documents({"status": "delivered"}) == 3


async def test_the_backlog_counts_and_ages(mongo: MongoDatabase, outbox: Any, clock: Clock) -> None:
    assert await outbox_backlog(clock.now) == type(await outbox_backlog(clock.now))(
        pending=0, dead=0, oldest_pending_seconds=None
    )
    first, _ = await _emit(mongo, clock, 2)
    await outbox.update_one({"_id": first}, {"$set": {"status": "dead"}})
    oldest = await outbox.find_one({"status": "pending"})
    clock.now = oldest["occurredAt"] + timedelta(seconds=90)
    backlog = await outbox_backlog(clock.now)
    assert (backlog.pending, backlog.dead, backlog.oldest_pending_seconds) == (1, 1, 90.0)


async def test_readyz_reports_the_backlog_and_stays_ready(
    mongo: MongoDatabase, outbox: Any, clock: Clock, make_client: MakeClient
) -> None:
    await _emit(mongo, clock, 3)
    clock.now += timedelta(minutes=10)
    async with make_client(clock=clock) as client:
        response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    outbox_detail = response.json()["outbox"]
    assert outbox_detail["pending"] == 3
    assert outbox_detail["dead"] == 0
    assert outbox_detail["oldest_pending_seconds"] == pytest.approx(600.002, abs=0.01)
