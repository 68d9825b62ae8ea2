"""PUT / DELETE / GET /api/v1/threads/{thread_id}/reactions: every rule, every bad input, and
what is stored (reactions and the thread's counters) after each."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from auth_support import admin_token, bearer, user_token
from core_stub import CoreStub
from reactions_support import (
    COMMANDS,
    LOOKUP,
    MakeWorld,
    auth,
    new_id,
    path,
    stored_counts,
    stored_reactions,
    stored_stats,
    summary,
    world_factory,
)
from support import MakeClient, assert_problem

from alephdraad_contracts import (
    MALFORMED_REQUEST,
    UNAUTHENTICATED,
    UNSUPPORTED_MEDIA_TYPE,
    UPSTREAM_UNAVAILABLE,
    VALIDATION_FAILED,
)
from alephdraad_feature.auth.errors import TokenInvalid
from alephdraad_feature.internal.errors import THREAD_NOT_FOUND, USER_LOCKED, USER_NOT_FOUND
from alephdraad_feature.openapi import openapi_document
from alephdraad_feature.platform.db import MongoDatabase
from alephdraad_feature.reactions.errors import REACTION_TYPE_UNKNOWN
from alephdraad_feature.reactions.models import REACTION_TYPES
from alephdraad_feature.reactions.schemas import ReactionCounts
from alephdraad_feature.settings import Settings

AUTH_TOKEN_INVALID = TokenInvalid.problem_type
REACTION_ID = re.compile(r"^rct_[0-9A-HJKMNP-TV-Z]{26}$")


@pytest.fixture
def make_world(make_client: MakeClient, core_stub: CoreStub) -> MakeWorld:
    return world_factory(make_client, core_stub)


# ---- setting and changing -----------------------------------------------------------------------


async def test_a_first_reaction_is_stored_with_the_seed_fields_and_counted(
    make_world: MakeWorld, mongo: MongoDatabase
) -> None:
    async with make_world() as world:
        response = await world.put("like")
    assert response.status_code == 200, response.text
    assert response.json() == summary("like", like=1)

    [reaction] = await stored_reactions(mongo, world.thread_id)
    assert REACTION_ID.fullmatch(reaction.pop("_id"))
    assert reaction == {
        "threadId": str(world.thread_id),
        "userId": world.alice,
        "type": "like",
        "createdAt": world.clock.now,
        "updatedAt": world.clock.now,
        "hidden": False,
    }
    assert await stored_counts(mongo, world.thread_id) == {"like": 1, "_total": 1}


async def test_the_same_type_again_changes_nothing(
    make_world: MakeWorld, mongo: MongoDatabase
) -> None:
    async with make_world() as world:
        first = await world.put("fire")
        before = await stored_reactions(mongo, world.thread_id)
        world.clock.now += timedelta(minutes=5)
        again = await world.put("fire")
    assert again.status_code == 200
    assert again.json() == first.json() == summary("fire", fire=1)
    assert await stored_reactions(mongo, world.thread_id) == before
    assert await stored_counts(mongo, world.thread_id) == {"fire": 1, "_total": 1}


async def test_changing_the_type_moves_one_count_and_keeps_the_reaction(
    make_world: MakeWorld, mongo: MongoDatabase
) -> None:
    async with make_world() as world:
        await world.put("like", world.bob)
        await world.put("like")
        [before] = [
            r for r in await stored_reactions(mongo, world.thread_id) if r["userId"] == world.alice
        ]
        world.clock.now += timedelta(minutes=5)
        response = await world.put("sad")
    assert response.status_code == 200
    assert response.json() == summary("sad", like=1, sad=1)
    [after] = [
        r for r in await stored_reactions(mongo, world.thread_id) if r["userId"] == world.alice
    ]
    # Same document, same creation time; only the type and updatedAt moved.
    assert after == {**before, "type": "sad", "updatedAt": world.clock.now}
    assert await stored_counts(mongo, world.thread_id) == {"like": 1, "sad": 1, "_total": 2}


async def test_every_type_is_accepted_and_counted_per_member(
    make_world: MakeWorld, mongo: MongoDatabase
) -> None:
    async with make_world() as world:
        for reaction_type in REACTION_TYPES:
            member = new_id()
            world.core.add_user(member, f"m{member}")
            response = await world.put(reaction_type, member)
            assert response.status_code == 200, response.text
            assert response.json()["mine"] == reaction_type
    assert response.json() == summary("laugh", **dict.fromkeys(REACTION_TYPES, 1))
    assert await stored_counts(mongo, world.thread_id) == {
        **dict.fromkeys(REACTION_TYPES, 1),
        "_total": 5,
    }


async def test_one_core_lookup_checks_the_thread_and_the_member(make_world: MakeWorld) -> None:
    async with make_world() as world:
        response = await world.put("love")
    assert response.status_code == 200
    [lookup] = world.core.requests_to("POST", LOOKUP)
    assert lookup.json["thread_ids"] == [world.thread_id]
    assert lookup.json["user_ids"] == [world.alice]


# ---- removing -----------------------------------------------------------------------------------


async def test_removing_a_reaction_counts_it_down(
    make_world: MakeWorld, mongo: MongoDatabase
) -> None:
    async with make_world() as world:
        await world.put("love", world.bob)
        await world.put("love")
        response = await world.delete()
        mine = await world.get(world.alice)
    assert response.status_code == 204
    assert response.content == b""
    assert [r["userId"] for r in await stored_reactions(mongo, world.thread_id)] == [world.bob]
    assert await stored_counts(mongo, world.thread_id) == {"love": 1, "_total": 1}
    assert mine.json() == summary(None, love=1)


async def test_removing_no_reaction_is_204_and_counts_nothing(
    make_world: MakeWorld, mongo: MongoDatabase
) -> None:
    async with make_world() as world:
        await world.put("fire", world.bob)
        never = await world.delete()
        await world.put("fire")
        await world.delete()
        twice = await world.delete()
    assert never.status_code == twice.status_code == 204
    assert await stored_counts(mongo, world.thread_id) == {"fire": 1, "_total": 1}


async def test_reacting_again_after_removing_makes_a_new_reaction(
    make_world: MakeWorld, mongo: MongoDatabase
) -> None:
    async with make_world() as world:
        await world.put("like")
        [first] = await stored_reactions(mongo, world.thread_id)
        await world.delete()
        response = await world.put("laugh")
    assert response.json() == summary("laugh", laugh=1)
    [second] = await stored_reactions(mongo, world.thread_id)
    assert second["_id"] != first["_id"]
    assert await stored_counts(mongo, world.thread_id) == {"laugh": 1, "_total": 1}


# ---- reading ------------------------------------------------------------------------------------


async def test_reading_anonymously_and_as_a_member(make_world: MakeWorld) -> None:
    async with make_world() as world:
        await world.put("like")
        await world.put("fire", world.bob)
        anonymous = await world.get()
        as_bob = await world.get(world.bob)
        as_stranger = await world.get(new_id())
    assert anonymous.status_code == 200
    assert anonymous.json() == summary(None, like=1, fire=1)
    assert as_bob.json() == summary("fire", like=1, fire=1)
    assert as_stranger.json() == summary(None, like=1, fire=1)
    # Only the two writes asked core; reads never do.
    assert world.lookups() == 2


async def test_a_thread_without_reactions_reads_as_zeros_without_asking_core(
    make_world: MakeWorld,
) -> None:
    async with make_world() as world:
        response = await world.get(world.alice, thread_id=new_id())
    assert response.status_code == 200
    assert response.json() == summary(None)
    assert world.lookups() == 0


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer not-a-jwt"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": ""},
        bearer(admin_token(1)),
        bearer(user_token(5, "old", lifetime=-60)),
    ],
    ids=["garbage", "basic", "empty", "admin-token", "expired"],
)
async def test_a_bad_token_on_the_optional_read_is_401_not_anonymous(
    make_world: MakeWorld, headers: dict[str, str]
) -> None:
    async with make_world() as world:
        response = await world.client.get(path(world.thread_id), headers=headers)
    if headers["Authorization"]:
        assert_problem(response, AUTH_TOKEN_INVALID)
    else:
        # An empty header is no credential at all: the same 401 as a member route without one.
        assert_problem(response, UNAUTHENTICATED)
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_reading_costs_one_query_anonymous_and_two_as_a_member(
    make_world: MakeWorld, settings: Settings
) -> None:
    async with make_world() as world:
        await world.put("like")
        with COMMANDS.counting(settings.mongodb_database) as anonymous:
            await world.get()
        with COMMANDS.counting(settings.mongodb_database) as member:
            await world.get(world.alice)
    assert anonymous == ["find"]
    assert member == ["find", "find"]


async def test_counts_stored_below_zero_read_as_zero(
    make_world: MakeWorld, mongo: MongoDatabase
) -> None:
    thread_id = new_id()
    await mongo.database["thread_stats"].insert_one(
        {
            "_id": thread_id,
            "reactionCounts": {"like": -2, "love": 3, "wow": 4, "sad": None},
            "reactionTotal": 5,
        }
    )
    async with make_world() as world:
        response = await world.get(thread_id=thread_id)
    assert response.json() == summary(None, love=3)
    assert ReactionCounts.from_stored(None).total == 0


# ---- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reaction_type", ["wow", "LIKE", "Like", " like", "", "haha", "like,love", "x" * 10_000]
)
async def test_an_unknown_type_is_422_listing_the_allowed_ones(
    make_world: MakeWorld, mongo: MongoDatabase, reaction_type: str
) -> None:
    async with make_world() as world:
        response = await world.put(reaction_type)
    body = assert_problem(response, REACTION_TYPE_UNKNOWN)
    assert body["allowed_types"] == ["like", "love", "fire", "sad", "laugh"]
    assert body["errors"] == [
        {"field": "type", "message": "must be one of: like, love, fire, sad, laugh"}
    ]
    assert "like, love, fire, sad, laugh" in body["detail"]
    assert world.lookups() == 0
    assert await stored_reactions(mongo, world.thread_id) == []
    assert await stored_stats(mongo, world.thread_id) is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "type"),
        ({"type": None}, "type"),
        ({"type": 5}, "type"),
        ({"type": ["like"]}, "type"),
        ({"type": "like", "extra": 1}, "extra"),
        ([], "body"),
        ("like", "body"),
        (None, "body"),
    ],
    ids=["missing", "null", "number", "list", "unknown-member", "array", "string", "json-null"],
)
async def test_a_body_of_the_wrong_shape_is_400(
    make_world: MakeWorld, mongo: MongoDatabase, body: Any, field: str
) -> None:
    async with make_world() as world:
        response = await world.client.put(
            path(world.thread_id),
            content=json.dumps(body),
            headers={**auth(world.alice), "Content-Type": "application/json"},
        )
    problem = assert_problem(response, VALIDATION_FAILED)
    assert [error["field"] for error in problem["errors"]] == [field]
    assert world.lookups() == 0
    assert await stored_reactions(mongo, world.thread_id) == []


async def test_a_body_that_is_not_json_is_400_and_another_media_type_415(
    make_world: MakeWorld, mongo: MongoDatabase
) -> None:
    async with make_world() as world:
        headers = {**auth(world.alice), "Content-Type": "application/json"}
        broken = await world.client.put(
            path(world.thread_id), content=b'{"type": ', headers=headers
        )
        empty = await world.client.put(path(world.thread_id), content=b"", headers=headers)
        form = await world.client.put(
            path(world.thread_id), data={"type": "like"}, headers=auth(world.alice)
        )
    assert_problem(broken, MALFORMED_REQUEST)
    assert_problem(empty, VALIDATION_FAILED)
    assert_problem(form, UNSUPPORTED_MEDIA_TYPE)
    assert world.lookups() == 0
    assert await stored_reactions(mongo, world.thread_id) == []


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
async def test_writing_without_a_member_token_is_401(make_world: MakeWorld, method: str) -> None:
    async with make_world() as world:
        anonymous = await world.client.request(method, path(world.thread_id), json={"type": "like"})
        admin = await world.client.request(
            method, path(world.thread_id), json={"type": "like"}, headers=bearer(admin_token(1))
        )
    assert_problem(anonymous, UNAUTHENTICATED)
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert_problem(admin, AUTH_TOKEN_INVALID)
    assert world.lookups() == 0


@pytest.mark.parametrize("thread_id", [0, 2**63, 10**30])
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_an_impossible_thread_id_is_404_without_asking_core(
    make_world: MakeWorld, method: str, thread_id: int
) -> None:
    async with make_world() as world:
        response = await world.client.request(
            method, path(thread_id), json={"type": "like"}, headers=auth(world.alice)
        )
    assert_problem(response, THREAD_NOT_FOUND)
    assert world.lookups() == 0


@pytest.mark.parametrize("segment", ["abc", "1.5", "-1", "%20", "1e3"])
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_a_thread_id_that_is_not_a_whole_number_is_404(
    make_world: MakeWorld, method: str, segment: str
) -> None:
    async with make_world() as world:
        response = await world.client.request(
            method, path(segment), json={"type": "like"}, headers=auth(world.alice)
        )
    # No route matches a non-number (404 NOT_FOUND); "-1" matches and names no thread.
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] in {"NOT_FOUND", "THREAD_NOT_FOUND"}
    assert world.lookups() == 0


# ---- what core says -----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
async def test_a_thread_core_does_not_know_or_deleted_is_404_and_nothing_changes(
    make_world: MakeWorld, mongo: MongoDatabase, method: str
) -> None:
    unknown, deleted = new_id(), new_id()
    async with make_world() as world:
        world.core.add_thread(deleted, deleted=True)
        responses = [
            await world.client.request(
                method, path(thread_id), json={"type": "like"}, headers=auth(world.alice)
            )
            for thread_id in (unknown, deleted)
        ]
    for thread_id, response in zip((unknown, deleted), responses, strict=True):
        assert_problem(response, THREAD_NOT_FOUND)
        assert await stored_reactions(mongo, thread_id) == []
        assert await stored_stats(mongo, thread_id) is None


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
async def test_a_locked_member_changes_nothing(
    make_world: MakeWorld, mongo: MongoDatabase, method: str
) -> None:
    async with make_world() as world:
        await world.put("like")
    # A fresh app: the first one holds "not locked" in its lookup cache for a few seconds.
    world.core.add_user(world.alice, "alice", locked=True)
    async with make_world() as other:
        response = await other.client.request(
            method, path(world.thread_id), json={"type": "sad"}, headers=auth(world.alice)
        )
    assert_problem(response, USER_LOCKED)
    [reaction] = await stored_reactions(mongo, world.thread_id)
    assert reaction["type"] == "like"
    assert await stored_counts(mongo, world.thread_id) == {"like": 1, "_total": 1}


async def test_a_member_core_deleted_is_404_user_not_found(
    make_world: MakeWorld, mongo: MongoDatabase
) -> None:
    ghost = new_id()
    async with make_world() as world:
        world.core.add_user(ghost, "ghost", deleted=True)
        response = await world.put("like", ghost)
    assert_problem(response, USER_NOT_FOUND)
    assert await stored_reactions(mongo, world.thread_id) == []


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
async def test_core_unreachable_is_503_and_nothing_changes(
    make_world: MakeWorld, core_stub: CoreStub, mongo: MongoDatabase, method: str
) -> None:
    async with make_world() as world:
        await world.put("love")
    core_stub.stop()
    async with make_world() as other:
        response = await other.client.request(
            method, path(world.thread_id), json={"type": "fire"}, headers=auth(world.alice)
        )
        # Reads do not depend on core.
        read = await other.get(world.alice, thread_id=world.thread_id)
    body = assert_problem(response, UPSTREAM_UNAVAILABLE)
    assert body["upstream"] == "core-service"
    assert response.headers["retry-after"] == "5"
    [reaction] = await stored_reactions(mongo, world.thread_id)
    assert reaction["type"] == "love"
    assert await stored_counts(mongo, world.thread_id) == {"love": 1, "_total": 1}
    assert read.json() == summary("love", love=1)


async def test_a_thread_deleted_here_is_404_even_while_core_is_cached_as_live(
    make_world: MakeWorld, mongo: MongoDatabase
) -> None:
    """Another process handled thread.deleted; this one still holds core's "live" answer in its
    lookup cache. The hidden flag, read in the write's transaction, refuses the change."""
    async with make_world() as world:
        await world.put("like", world.bob)
        await mongo.database["thread_stats"].update_one(
            {"_id": world.thread_id}, {"$set": {"hidden": True}}
        )
        changed = await world.put("love", world.bob)
        new = await world.put("love", world.alice)
        removed = await world.delete(world.bob)
        read = await world.get()
    for response in (changed, new, removed, read):
        assert_problem(response, THREAD_NOT_FOUND)
    # Core was asked about the thread with bob, then about alice alone: the thread's "live"
    # answer came from the cache.
    assert [r.json.get("thread_ids") for r in world.core.requests_to("POST", LOOKUP)] == [
        [world.thread_id],
        None,
    ]
    assert [(r["userId"], r["type"]) for r in await stored_reactions(mongo, world.thread_id)] == [
        (world.bob, "like")
    ]
    assert await stored_counts(mongo, world.thread_id) == {"like": 1, "_total": 1}


# ---- the published document -------------------------------------------------------------------


def test_the_routes_are_documented_with_their_problems_and_security() -> None:
    operations = openapi_document()["paths"]["/api/v1/threads/{thread_id}/reactions"]
    errors = {
        method: sorted(int(status) for status in operation["responses"] if status[0] in "45")
        for method, operation in operations.items()
    }
    assert errors == {
        "get": [400, 401, 404],
        "put": [400, 401, 403, 404, 409, 415, 422, 503],
        "delete": [400, 401, 403, 404, 409, 503],
    }
    assert operations["put"]["security"] == [{"userToken": []}]
    assert operations["delete"]["security"] == [{"userToken": []}]
    # A token is optional on the read: anonymous or a member.
    assert operations["get"]["security"] == [{}, {"userToken": []}]
    put_422 = operations["put"]["responses"]["422"]["content"]["application/problem+json"]
    assert [e["value"]["code"] for e in put_422["examples"].values()] == ["REACTION_TYPE_UNKNOWN"]
    body = operations["put"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/SetReactionRequest"}
