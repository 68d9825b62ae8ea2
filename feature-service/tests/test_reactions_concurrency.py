"""Many members reacting to one thread at the same moment: every request answers (write
conflicts are retried, never a 500) and the counters equal the reactions actually stored."""

from __future__ import annotations

import asyncio
import random

import httpx
import pytest
from core_stub import CoreStub
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError
from reactions_support import (
    COMMANDS,
    MakeWorld,
    World,
    counted_from_reactions,
    new_id,
    stored_counts,
    stored_reactions,
    world_factory,
)
from support import MakeClient

from alephdraad_feature.internal.core_client import get_core_client
from alephdraad_feature.platform.db import MongoDatabase
from alephdraad_feature.reactions.models import REACTION_TYPES
from alephdraad_feature.reactions.services import ReactionConflict, _in_transaction
from alephdraad_feature.settings import Settings

MEMBERS = 50
STEPS = 4
REMOVE = "remove"
# What core says about the members is fetched before the race, in one batched lookup, and kept
# for the whole test: the race is between MongoDB transactions, not between 50 connections to
# the core stub (a small threaded test server that drops some of 50 simultaneous connects).
CACHED_CORE = {"feature_lookup_cache_seconds": 60}


async def _ask_core_before_the_race(world: World, members: list[int]) -> None:
    transport = world.client._transport
    assert isinstance(transport, httpx.ASGITransport)
    core_client = get_core_client(transport.app)  # type: ignore[arg-type]
    await core_client.lookup(thread_ids=[world.thread_id], user_ids=members)


@pytest.fixture
def make_world(make_client: MakeClient, core_stub: CoreStub) -> MakeWorld:
    return world_factory(make_client, core_stub)


async def _step(world: World, member: int, step: str) -> httpx.Response:
    return await (world.delete(member) if step == REMOVE else world.put(step, member))


async def test_fifty_members_reacting_and_changing_at_once_keep_the_counts_exact(
    make_world: MakeWorld, mongo: MongoDatabase, settings: Settings
) -> None:
    rng = random.Random(2026)
    async with make_world(**CACHED_CORE) as world:
        members = [new_id() for _ in range(MEMBERS)]
        for member in members:
            world.core.add_user(member, f"member{member}")
        await _ask_core_before_the_race(world, members)
        # Everyone starts with a reaction (all 50 first writes hit the counters at once), then
        # changes it, repeats it, removes it or reacts again.
        plans = {
            member: [rng.choice(REACTION_TYPES)]
            + [rng.choice((*REACTION_TYPES, REMOVE)) for _ in range(STEPS - 1)]
            for member in members
        }

        async def act(member: int) -> list[int]:
            return [(await _step(world, member, step)).status_code for step in plans[member]]

        with COMMANDS.counting(settings.mongodb_database):
            statuses = await asyncio.gather(*(act(member) for member in members))
            conflicts = list(COMMANDS.failures)

    for member, answered in zip(members, statuses, strict=True):
        assert answered == [204 if step == REMOVE else 200 for step in plans[member]], member
    # What each member's last step left, exactly, one reaction at most per member.
    expected = {member: plan[-1] for member, plan in plans.items() if plan[-1] != REMOVE}
    stored = await stored_reactions(mongo, world.thread_id)
    assert {r["userId"]: r["type"] for r in stored} == expected
    assert len(stored) == len(expected)
    counted = await counted_from_reactions(mongo, world.thread_id)
    assert await stored_counts(mongo, world.thread_id) == counted
    # The race was real: transactions collided on the thread's counters and were retried.
    assert conflicts, "no write conflict happened: the requests did not overlap"
    assert set(conflicts) <= {"WriteConflict", "NoSuchTransaction"}, conflicts


async def test_one_member_racing_themself_keeps_one_reaction_and_exact_counts(
    make_world: MakeWorld, mongo: MongoDatabase
) -> None:
    """Double clicks and several tabs: the same member's requests at once. The unique
    {threadId, userId} index and the transaction keep one reaction, counted once."""
    async with make_world(**CACHED_CORE) as world:
        await _ask_core_before_the_race(world, [world.alice, world.bob])
        await world.put("like", world.bob)
        steps = [*REACTION_TYPES, REMOVE, *REACTION_TYPES, "love", "love", REMOVE]
        responses = await asyncio.gather(*(_step(world, world.alice, step) for step in steps))
        final = await world.get(world.alice)
    assert [r.status_code for r in responses] == [204 if step == REMOVE else 200 for step in steps]
    stored = await stored_reactions(mongo, world.thread_id)
    mine = [r for r in stored if r["userId"] == world.alice]
    assert len(mine) <= 1
    assert final.json()["mine"] == (mine[0]["type"] if mine else None)
    assert await stored_counts(mongo, world.thread_id) == await counted_from_reactions(
        mongo, world.thread_id
    )
    assert final.json()["total"] == len(stored)


async def test_a_duplicate_key_is_retried_and_a_persistent_one_is_a_409(
    mongo: MongoDatabase,
) -> None:
    """A duplicate key on {threadId, userId} means the member's other request inserted and
    committed first: the next attempt sees that reaction. It cannot go on for ever."""
    attempts = 0

    async def lose_twice(session: AsyncClientSession) -> str:
        nonlocal attempts
        attempts += 1
        if attempts <= 2:
            raise DuplicateKeyError("E11000 duplicate key error")
        return "stored"

    assert await _in_transaction(mongo.client, lose_twice) == "stored"
    assert attempts == 3

    attempts = 0

    async def always_lose(session: AsyncClientSession) -> str:
        nonlocal attempts
        attempts += 1
        raise DuplicateKeyError("E11000 duplicate key error")

    with pytest.raises(ReactionConflict) as raised:
        await _in_transaction(mongo.client, always_lose)
    assert raised.value.status_code == 409
    assert attempts == 5
