"""What core's events do to reactions (thread.deleted / thread.restored hide and show them,
user.deleted removes them and counts them down), the deletion check's holdings, and reconcile's
sources and repairs."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from core_stub import CoreStub
from internal_support import ACCEPT_KEYS, event, signed
from reactions_support import (
    MakeWorld,
    World,
    counted_from_reactions,
    new_id,
    stored_counts,
    stored_reactions,
    stored_stats,
    summary,
    world_factory,
)
from support import MakeClient, assert_problem

from alephdraad_contracts import THREAD_DELETED, THREAD_RESTORED, USER_DELETED, new_event_id
from alephdraad_feature.internal.core_client import CoreClient
from alephdraad_feature.internal.errors import THREAD_NOT_FOUND
from alephdraad_feature.internal.holdings import count_holdings
from alephdraad_feature.internal.reconcile import do_reconcile, reference_sources
from alephdraad_feature.platform.db import MongoDatabase
from alephdraad_feature.reactions.services import (
    do_hide_reactions_of_orphaned_thread,
    do_remove_reactions_of_user,
)
from alephdraad_feature.settings import Settings

EVENTS = "/internal/v1/events"


@pytest.fixture
def make_world(make_client: MakeClient, core_stub: CoreStub) -> MakeWorld:
    return world_factory(make_client, core_stub)


async def _deliver(
    world: World, event_type: str, data: dict[str, Any], event_id: str | None = None
) -> dict[str, Any]:
    envelope = event(event_id or new_event_id(), event_type, data)
    response = await world.client.send(
        signed("POST", EVENTS, body=envelope, created=world.clock.now)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _thread_event(world: World, thread_id: int | None = None) -> dict[str, Any]:
    return {"thread_id": thread_id or world.thread_id, "author_id": world.bob}


# ---- thread.deleted / thread.restored ----------------------------------------------------------


async def test_a_deleted_thread_hides_its_reactions_and_a_restore_shows_them_again(
    make_world: MakeWorld, mongo: MongoDatabase
) -> None:
    other_thread = new_id()
    async with make_world(feature_internal_accept_keys=ACCEPT_KEYS) as world:
        world.core.add_thread(other_thread)
        await world.put("like")
        await world.put("fire", world.bob)
        await world.put("sad", thread_id=other_thread)

        first_id = new_event_id()
        assert await _deliver(world, THREAD_DELETED, _thread_event(world), first_id) == {
            "status": "handled"
        }
        hidden = await stored_reactions(mongo, world.thread_id)
        read_hidden = await world.get(world.alice)
        # Redelivery: recorded once, no further effect.
        assert await _deliver(world, THREAD_DELETED, _thread_event(world), first_id) == {
            "status": "duplicate"
        }
        # Core now says deleted too: writes are refused by core's answer.
        world.core.add_thread(world.thread_id, deleted=True)

        await _deliver(world, THREAD_RESTORED, _thread_event(world))
        world.core.add_thread(world.thread_id)
        shown = await stored_reactions(mongo, world.thread_id)
        read_shown = await world.get(world.alice)

    assert [(r["type"], r["hidden"]) for r in hidden] == [("like", True), ("fire", True)]
    assert_problem(read_hidden, THREAD_NOT_FOUND)
    # Kept and still counted while hidden, so a restore only flips flags.
    assert [(r["type"], r["hidden"]) for r in shown] == [("like", False), ("fire", False)]
    assert read_shown.json() == summary("like", like=1, fire=1)
    assert await stored_counts(mongo, world.thread_id) == {"like": 1, "fire": 1, "_total": 2}
    # Another thread's reactions were never touched.
    [other] = await stored_reactions(mongo, other_thread)
    assert other["hidden"] is False


async def test_a_deleted_thread_without_reactions_is_hidden_for_later_writes(
    make_world: MakeWorld, mongo: MongoDatabase
) -> None:
    async with make_world(feature_internal_accept_keys=ACCEPT_KEYS) as world:
        await _deliver(world, THREAD_DELETED, _thread_event(world))
        # This process's core cache was dropped by the event, but core (the stub) still says
        # live: the thread_stats flag alone refuses the write.
        response = await world.put("like")
    assert_problem(response, THREAD_NOT_FOUND)
    assert await stored_reactions(mongo, world.thread_id) == []
    stats = await stored_stats(mongo, world.thread_id)
    assert stats is not None
    assert stats["hidden"] is True
    assert not stats.get("reactionTotal")


# ---- user.deleted -------------------------------------------------------------------------------


async def test_a_deleted_user_loses_every_reaction_and_the_counts_follow(
    make_world: MakeWorld, mongo: MongoDatabase
) -> None:
    threads = [new_id(), new_id()]
    async with make_world(feature_internal_accept_keys=ACCEPT_KEYS) as world:
        for thread_id in threads:
            world.core.add_thread(thread_id)
        await world.put("love")
        await world.put("love", world.bob)
        await world.put("fire", thread_id=threads[0])
        await world.put("laugh", thread_id=threads[1])
        await world.put("laugh", world.bob, thread_id=threads[1])
        # A reaction on a thread that is hidden right now is removed and counted down too.
        await _deliver(world, THREAD_DELETED, _thread_event(world, threads[1]))

        event_id = new_event_id()
        await _deliver(world, USER_DELETED, {"user_id": world.alice}, event_id)
        again = await _deliver(world, USER_DELETED, {"user_id": world.alice}, event_id)
        holdings = await count_holdings(world.alice)

    assert again == {"status": "duplicate"}
    expected = {
        world.thread_id: ([(world.bob, "love")], {"love": 1, "_total": 1}),
        threads[0]: ([], {"_total": 0}),
        threads[1]: ([(world.bob, "laugh")], {"laugh": 1, "_total": 1}),
    }
    for thread_id, (reactions, counts) in expected.items():
        stored = await stored_reactions(mongo, thread_id)
        assert [(r["userId"], r["type"]) for r in stored] == reactions
        assert await stored_counts(mongo, thread_id) == counts
        assert await counted_from_reactions(mongo, thread_id) == counts
    assert holdings["reactions"] == 0


async def test_a_deleted_user_without_reactions_changes_nothing(
    make_world: MakeWorld, mongo: MongoDatabase
) -> None:
    async with make_world(feature_internal_accept_keys=ACCEPT_KEYS) as world:
        await world.put("sad", world.bob)
        assert await _deliver(world, USER_DELETED, {"user_id": world.alice}) == {
            "status": "handled"
        }
    assert [r["userId"] for r in await stored_reactions(mongo, world.thread_id)] == [world.bob]
    assert await stored_counts(mongo, world.thread_id) == {"sad": 1, "_total": 1}


# ---- the deletion check -------------------------------------------------------------------------


async def test_the_deletion_check_reports_reactions_and_never_blocks(
    make_world: MakeWorld,
) -> None:
    other_thread = new_id()
    async with make_world(feature_internal_accept_keys=ACCEPT_KEYS) as world:
        world.core.add_thread(other_thread)
        await world.put("like")
        await world.put("like", thread_id=other_thread)
        await _deliver(world, THREAD_DELETED, _thread_event(world, other_thread))
        response = await world.client.send(
            signed(
                "GET",
                f"/internal/v1/users/{world.alice}/deletion-check",
                created=world.clock.now,
            )
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["can_delete"] is True
    assert body["blocking_reasons"] == []
    # Hidden reactions are the member's data as well.
    assert body["holdings"]["reactions"] == 2


# ---- reconcile ----------------------------------------------------------------------------------


def test_reconcile_knows_both_references_and_repairs_like_the_events() -> None:
    sources = {s.name: s for s in reference_sources() if s.collection == "reactions"}
    assert set(sources) == {"reactions.thread", "reactions.user"}
    thread, user = sources["reactions.thread"], sources["reactions.user"]
    assert (thread.field, thread.kind, thread.match) == (
        "threadId",
        "thread",
        {"hidden": {"$ne": True}},
    )
    assert (user.field, user.kind, user.match) == ("userId", "user", {})
    assert thread.repair is do_hide_reactions_of_orphaned_thread
    assert user.repair is do_remove_reactions_of_user


async def test_reconcile_fixes_reactions_of_missing_threads_and_users(
    make_world: MakeWorld, core_stub: CoreStub, mongo: MongoDatabase, settings: Settings
) -> None:
    gone_thread, gone_user = new_id(), new_id()
    async with make_world() as world:
        world.core.add_thread(gone_thread)
        world.core.add_user(gone_user, "leaving")
        await world.put("like")
        await world.put("love", gone_user)
        await world.put("fire", thread_id=gone_thread)
        await world.put("fire", world.bob, thread_id=gone_thread)
    # Events that never arrived: the thread vanished from core, the user was deleted there.
    del core_stub.threads[gone_thread]
    core_stub.add_user(gone_user, "leaving", deleted=True)

    ours = {world.thread_id, gone_thread}
    members = [world.alice, world.bob, gone_user]
    # Only this test's documents: the session's database holds other tests' reactions too.
    # (Filtered on the other field: reconcile sets its own condition on the checked one.)
    sources = tuple(
        dataclasses.replace(
            source,
            match={
                **source.match,
                **(
                    {"userId": {"$in": members}}
                    if source.kind == "thread"
                    else {"threadId": {"$in": [str(t) for t in ours]}}
                ),
            },
        )
        for source in reference_sources()
        if source.collection == "reactions"
    )
    core_client = CoreClient.from_settings(
        Settings(**{**settings.model_dump(), **core_stub.settings_overrides()}), cached=False
    )
    try:
        report = await do_reconcile(mongo.database, core_client, fix=True, sources=sources)
        clean = await do_reconcile(mongo.database, core_client, sources=sources)
    finally:
        await core_client.aclose()

    by_name = {source.name: source for source in report.sources}
    assert by_name["reactions.thread"].orphans == by_name["reactions.thread"].fixed == [gone_thread]
    assert by_name["reactions.user"].orphans == by_name["reactions.user"].fixed == [gone_user]
    assert clean.exit_code == 0

    # The missing thread: reactions hidden, its counters hidden, nothing removed.
    assert [(r["userId"], r["hidden"]) for r in await stored_reactions(mongo, gone_thread)] == [
        (world.alice, True),
        (world.bob, True),
    ]
    stats = await stored_stats(mongo, gone_thread)
    assert stats is not None
    assert stats["hidden"] is True
    # The deleted user: their reaction removed and counted down, as user.deleted does.
    assert [r["userId"] for r in await stored_reactions(mongo, world.thread_id)] == [world.alice]
    assert await stored_counts(mongo, world.thread_id) == {"like": 1, "_total": 1}
