"""POST / PATCH / DELETE /api/v1/threads/{id}/replies: every rule and bad input of issue 8,
against the real app, a real MongoDB-compatible server and an HTTP stub of core. Each test
asserts the status, the body and what the database holds afterwards."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from auth_support import bearer, user_token
from core_stub import CoreStub
from replies_support import Member, TickingClock, admin_headers, fresh_id, path, replies_client
from support import MakeClient, assert_problem

from alephdraad_contracts import (
    MALFORMED_REQUEST,
    NOT_FOUND,
    RATE_LIMITED,
    REPLY_DELETED,
    UNAUTHENTICATED,
    UNPROCESSABLE_CONTENT,
    UPSTREAM_UNAVAILABLE,
    VALIDATION_FAILED,
    validate_event,
)
from alephdraad_feature.auth.errors import TokenInvalid
from alephdraad_feature.internal.errors import THREAD_NOT_FOUND, USER_LOCKED
from alephdraad_feature.platform.db import MongoDatabase
from alephdraad_feature.replies import services
from alephdraad_feature.replies.errors import (
    PARENT_NOT_IN_THREAD,
    REPLY_NOT_FOUND,
    REPLY_TOO_DEEP,
)

AUTH_TOKEN_INVALID = TokenInvalid.problem_type
ITEM_KEYS = {
    "id",
    "thread_id",
    "parent_reply_id",
    "depth",
    "user_id",
    "username",
    "content",
    "child_count",
    "created_at",
    "edited_at",
    "deleted",
    "author_deleted",
}


@pytest.fixture
def clock() -> TickingClock:
    return TickingClock()


@pytest.fixture
def thread_id(core_stub: CoreStub) -> int:
    thread = fresh_id()
    core_stub.add_thread(thread, author_id=1)
    return thread


@pytest.fixture
def alice(core_stub: CoreStub) -> Member:
    return Member(core_stub, "alice_" + str(fresh_id()))


@pytest.fixture
def bob(core_stub: CoreStub) -> Member:
    return Member(core_stub, "bob_" + str(fresh_id()))


async def _replies(mongo: MongoDatabase, **query: Any) -> list[dict[str, Any]]:
    return await mongo.database["replies"].find(query).sort("createdAt", 1).to_list()


async def _stats(mongo: MongoDatabase, thread_id: int) -> dict[str, Any] | None:
    return await mongo.database["thread_stats"].find_one({"_id": thread_id})


async def _post(
    client: httpx.AsyncClient, thread_id: int, member: Member, content: str = "hello", **body: Any
) -> httpx.Response:
    return await client.post(
        path(thread_id), json={"content": content, **body}, headers=member.headers
    )


# ---- posting ----------------------------------------------------------------------------------


async def test_a_reply_is_verified_with_core_then_stored_and_counted(
    make_client: MakeClient,
    core_stub: CoreStub,
    clock: TickingClock,
    mongo: MongoDatabase,
    thread_id: int,
    alice: Member,
) -> None:
    async with replies_client(make_client, core_stub, clock) as client:
        response = await _post(client, thread_id, alice, "  Same here:\r\nit <b>worked</b>.  ")
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == ITEM_KEYS
    assert body["id"].startswith("rpl_")
    assert len(body["id"]) == 30
    assert body == {
        "id": body["id"],
        "thread_id": thread_id,
        "parent_reply_id": None,
        "depth": 0,
        "user_id": alice.id,
        "username": alice.name,
        # Trimmed, CR LF folded, markup kept as the characters typed (never HTML).
        "content": "Same here:\nit <b>worked</b>.",
        "child_count": 0,
        "created_at": body["created_at"],
        "edited_at": None,
        "deleted": False,
        "author_deleted": False,
    }
    assert body["created_at"].endswith("Z")
    # One signed lookup asked about the thread and the author together.
    lookups = [r.json for r in core_stub.requests_to("POST", "/internal/v1/lookup")]
    assert lookups == [{"thread_ids": [thread_id], "user_ids": [alice.id]}]

    [stored] = await _replies(mongo, threadId=thread_id)
    assert stored["_id"] == body["id"]
    assert stored["content"] == "Same here:\nit <b>worked</b>."
    assert (stored["userId"], stored["username"], stored["depth"]) == (alice.id, alice.name, 0)
    assert (stored["isDeleted"], stored["hidden"], stored["childCount"]) == (False, False, 0)
    stats = await _stats(mongo, thread_id)
    assert stats is not None
    assert stats["replyCount"] == 1
    assert stats["lastReplyAt"] == stored["createdAt"]


async def test_the_username_is_cores_current_one(
    make_client: MakeClient, core_stub: CoreStub, clock: TickingClock, mongo: MongoDatabase
) -> None:
    thread = fresh_id()
    core_stub.add_thread(thread)
    user_id = fresh_id()
    # Renamed in core after the token was issued: the reply shows the new name.
    core_stub.add_user(user_id, "new_name")
    async with replies_client(make_client, core_stub, clock) as client:
        response = await client.post(
            path(thread), json={"content": "hi"}, headers=bearer(user_token(user_id, "old_name"))
        )
    assert response.status_code == 201, response.text
    assert response.json()["username"] == "new_name"
    [stored] = await _replies(mongo, threadId=thread)
    assert stored["username"] == "new_name"


async def test_replies_nest_to_depth_3_and_no_deeper(
    make_client: MakeClient,
    core_stub: CoreStub,
    clock: TickingClock,
    mongo: MongoDatabase,
    thread_id: int,
    alice: Member,
) -> None:
    async with replies_client(make_client, core_stub, clock) as client:
        parent_id = None
        chain = []
        for depth in range(4):
            body = {"parent_reply_id": parent_id} if parent_id else {}
            response = await _post(client, thread_id, alice, f"level {depth}", **body)
            assert response.status_code == 201, response.text
            assert response.json()["depth"] == depth
            assert response.json()["parent_reply_id"] == parent_id
            parent_id = response.json()["id"]
            chain.append(parent_id)
        too_deep = await _post(client, thread_id, alice, "level 4", parent_reply_id=parent_id)

    problem = assert_problem(too_deep, REPLY_TOO_DEEP)
    assert problem["errors"][0]["field"] == "parent_reply_id"
    stored = {doc["_id"]: doc for doc in await _replies(mongo, threadId=thread_id)}
    assert list(stored) == chain  # nothing of the refused reply
    # Each level counts its one child; the refused reply's increment was rolled back.
    assert [stored[i]["childCount"] for i in chain] == [1, 1, 1, 0]
    assert [stored[i]["depth"] for i in chain] == [0, 1, 2, 3]
    assert (await _stats(mongo, thread_id) or {})["replyCount"] == 4


async def test_a_parent_must_be_a_live_reply_of_the_same_thread(
    make_client: MakeClient,
    core_stub: CoreStub,
    clock: TickingClock,
    mongo: MongoDatabase,
    thread_id: int,
    alice: Member,
) -> None:
    other_thread = fresh_id()
    core_stub.add_thread(other_thread)
    async with replies_client(make_client, core_stub, clock) as client:
        elsewhere = (await _post(client, other_thread, alice, "elsewhere")).json()["id"]
        deleted = (await _post(client, thread_id, alice, "gone")).json()["id"]
        assert (
            await client.delete(path(thread_id, deleted), headers=alice.headers)
        ).status_code == 204
        unknown = "rpl_" + "0" * 26
        answers = {
            name: await _post(client, thread_id, alice, "child", parent_reply_id=parent)
            for name, parent in [
                ("other thread", elsewhere),
                ("deleted", deleted),
                ("unknown", unknown),
            ]
        }
        malformed = await _post(client, thread_id, alice, "child", parent_reply_id="rpl_nope")

    for name, response in answers.items():
        problem = assert_problem(response, PARENT_NOT_IN_THREAD)
        assert problem["errors"] == [{"field": "parent_reply_id", "message": problem["detail"]}], (
            name
        )
    problem = assert_problem(malformed, UNPROCESSABLE_CONTENT)
    assert problem["errors"][0]["field"] == "parent_reply_id"
    # Only the deleted reply is in the thread; the other thread's reply gained no child.
    assert [doc["_id"] for doc in await _replies(mongo, threadId=thread_id)] == [deleted]
    [foreign] = await _replies(mongo, threadId=other_thread)
    assert foreign["childCount"] == 0


@pytest.mark.parametrize(
    ("thread", "user", "problem"),
    [
        (None, {}, THREAD_NOT_FOUND),
        ({"deleted": True}, {}, THREAD_NOT_FOUND),
        ({}, {"locked": True}, USER_LOCKED),
    ],
    ids=["unknown-thread", "deleted-thread", "locked-author"],
)
async def test_core_refuses_and_nothing_is_written(
    make_client: MakeClient,
    core_stub: CoreStub,
    clock: TickingClock,
    mongo: MongoDatabase,
    thread: dict[str, Any] | None,
    user: dict[str, Any],
    problem: Any,
) -> None:
    thread_id = fresh_id()
    if thread is not None:
        core_stub.add_thread(thread_id, **thread)
    member = Member(core_stub, **user)
    async with replies_client(make_client, core_stub, clock) as client:
        response = await _post(client, thread_id, member)
    assert_problem(response, problem)
    assert await _replies(mongo, threadId=thread_id) == []
    assert await _stats(mongo, thread_id) is None


async def test_core_down_is_503_and_nothing_is_written(
    make_client: MakeClient,
    core_stub: CoreStub,
    clock: TickingClock,
    mongo: MongoDatabase,
    thread_id: int,
    alice: Member,
) -> None:
    core_stub.stop()
    async with replies_client(make_client, core_stub, clock) as client:
        response = await _post(client, thread_id, alice)
    body = assert_problem(response, UPSTREAM_UNAVAILABLE)
    assert response.headers["retry-after"] == "5"
    assert body["upstream"] == "core-service"
    assert await _replies(mongo, threadId=thread_id) == []
    assert await _stats(mongo, thread_id) is None
    # Not even a rate-limit slot was taken.
    assert (
        await mongo.database["rate_limits"].count_documents({"_id": {"$regex": f":{alice.id}:"}})
        == 0
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("x" * 5001, "At most 5000 characters"),
        ("", "Must not be empty"),
        (" \n\t\r\n ", "Must not be empty"),
        ("nul \x00 byte", "U+0000"),
        ("escape \x1b[2J", "U+001B"),
        ("bell \x07", "U+0007"),
        ("c1 \x85 control", "U+0085"),
    ],
    ids=["5001", "empty", "blank", "nul", "escape", "bell", "c1"],
)
async def test_content_rules_are_422_naming_the_field(
    make_client: MakeClient,
    core_stub: CoreStub,
    clock: TickingClock,
    mongo: MongoDatabase,
    thread_id: int,
    alice: Member,
    content: str,
    message: str,
) -> None:
    async with replies_client(make_client, core_stub, clock) as client:
        response = await _post(client, thread_id, alice, content)
    problem = assert_problem(response, UNPROCESSABLE_CONTENT)
    [error] = problem["errors"]
    assert error["field"] == "content"
    assert message in error["message"]
    assert await _replies(mongo, threadId=thread_id) == []
    # Refused before asking core.
    assert core_stub.requests_to("POST", "/internal/v1/lookup") == []


async def test_5000_characters_after_trimming_are_accepted(
    make_client: MakeClient,
    core_stub: CoreStub,
    clock: TickingClock,
    mongo: MongoDatabase,
    thread_id: int,
    alice: Member,
) -> None:
    text = "é" * 4999 + "\t"  # a tab is text; the trailing one is trimmed
    async with replies_client(make_client, core_stub, clock) as client:
        exact = await _post(client, thread_id, alice, "  " + "a\tb" + "z" * 4997 + "\n\n")
        trimmed = await _post(client, thread_id, alice, text)
    assert exact.status_code == 201, exact.text
    assert len(exact.json()["content"]) == 5000
    assert trimmed.status_code == 201, trimmed.text
    assert trimmed.json()["content"] == "é" * 4999
    assert len(await _replies(mongo, threadId=thread_id)) == 2


async def test_a_lone_surrogate_is_refused_not_a_500(
    make_client: MakeClient,
    core_stub: CoreStub,
    clock: TickingClock,
    mongo: MongoDatabase,
    thread_id: int,
    alice: Member,
) -> None:
    async with replies_client(make_client, core_stub, clock) as client:
        response = await client.post(
            path(thread_id),
            content=b'{"content": "half a pair \\ud800"}',
            headers={**alice.headers, "Content-Type": "application/json"},
        )
    assert response.status_code in (400, 422), response.text
    assert response.json()["code"] in {
        VALIDATION_FAILED.code,
        UNPROCESSABLE_CONTENT.code,
        MALFORMED_REQUEST.code,
    }
    assert await _replies(mongo, threadId=thread_id) == []


@pytest.mark.parametrize(
    ("body", "problem", "field"),
    [
        ({}, VALIDATION_FAILED, "content"),
        ({"content": 5}, VALIDATION_FAILED, "content"),
        ({"content": "hi", "user_id": 1}, VALIDATION_FAILED, "user_id"),
        ({"content": "hi", "parent_reply_id": 5}, VALIDATION_FAILED, "parent_reply_id"),
        (["hi"], VALIDATION_FAILED, "body"),
    ],
    ids=["missing", "not-a-string", "unknown-field", "parent-not-a-string", "not-an-object"],
)
async def test_malformed_bodies_are_400(
    make_client: MakeClient,
    core_stub: CoreStub,
    clock: TickingClock,
    thread_id: int,
    alice: Member,
    body: Any,
    problem: Any,
    field: str,
) -> None:
    async with replies_client(make_client, core_stub, clock) as client:
        response = await client.post(path(thread_id), json=body, headers=alice.headers)
    problem_body = assert_problem(response, problem)
    assert [error["field"] for error in problem_body["errors"]] == [field]


async def test_not_json_is_refused(
    make_client: MakeClient,
    core_stub: CoreStub,
    clock: TickingClock,
    thread_id: int,
    alice: Member,
) -> None:
    async with replies_client(make_client, core_stub, clock) as client:
        broken = await client.post(
            path(thread_id),
            content=b'{"content": ',
            headers={**alice.headers, "Content-Type": "application/json"},
        )
        form = await client.post(path(thread_id), data={"content": "hi"}, headers=alice.headers)
    assert_problem(broken, MALFORMED_REQUEST)
    assert form.status_code == 415


@pytest.mark.parametrize(
    ("bad_thread", "problem"),
    [
        ("0", THREAD_NOT_FOUND),
        ("-4", THREAD_NOT_FOUND),
        (str(2**63), THREAD_NOT_FOUND),
        (str(10**30), THREAD_NOT_FOUND),
        ("abc", NOT_FOUND),
    ],
)
async def test_impossible_thread_ids_are_404_without_asking_core(
    make_client: MakeClient,
    core_stub: CoreStub,
    clock: TickingClock,
    alice: Member,
    bad_thread: str,
    problem: Any,
) -> None:
    reply = "rpl_" + "4" * 26
    async with replies_client(make_client, core_stub, clock) as client:
        base = f"/api/v1/threads/{bad_thread}/replies"
        answers = [
            await client.post(base, json={"content": "hi"}, headers=alice.headers),
            await client.get(base),
            await client.patch(f"{base}/{reply}", json={"content": "hi"}, headers=alice.headers),
            await client.delete(f"{base}/{reply}", headers=alice.headers),
        ]
    for response in answers:
        assert_problem(response, problem)
    assert core_stub.requests_to("POST", "/internal/v1/lookup") == []


async def test_posting_needs_a_member_token(
    make_client: MakeClient, core_stub: CoreStub, clock: TickingClock, thread_id: int
) -> None:
    async with replies_client(make_client, core_stub, clock) as client:
        anonymous = await client.post(path(thread_id), json={"content": "hi"})
        admin = await client.post(path(thread_id), json={"content": "hi"}, headers=admin_headers())
        forged = await client.post(
            path(thread_id), json={"content": "hi"}, headers={"Authorization": "Bearer x.y.z"}
        )
    assert_problem(anonymous, UNAUTHENTICATED)
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert_problem(admin, AUTH_TOKEN_INVALID)
    assert_problem(forged, AUTH_TOKEN_INVALID)


# ---- rate limit -------------------------------------------------------------------------------


async def test_ten_replies_a_minute_per_user_then_429(
    make_client: MakeClient,
    core_stub: CoreStub,
    clock: TickingClock,
    mongo: MongoDatabase,
    thread_id: int,
    alice: Member,
    bob: Member,
) -> None:
    # Start at the beginning of a window, so all eleven land in the same one.
    clock.now = clock.now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    async with replies_client(make_client, core_stub, clock) as client:
        allowed = [await _post(client, thread_id, alice, f"n{i}") for i in range(10)]
        limited = await _post(client, thread_id, alice, "one too many")
        other_user = await _post(client, thread_id, bob, "bob is not limited")
        clock.advance(timedelta(seconds=60))
        next_window = await _post(client, thread_id, alice, "a new minute")

    assert [r.status_code for r in allowed] == [201] * 10
    problem = assert_problem(limited, RATE_LIMITED)
    assert "retry in" in problem["detail"]
    wait = int(limited.headers["retry-after"])
    assert 55 <= wait <= 60
    assert limited.headers["ratelimit-limit"] == "10"
    assert limited.headers["ratelimit-remaining"] == "0"
    assert limited.headers["ratelimit-reset"] == str(wait)
    assert other_user.status_code == 201
    assert next_window.status_code == 201
    contents = [
        doc["content"] for doc in await _replies(mongo, threadId=thread_id, userId=alice.id)
    ]
    assert "one too many" not in contents
    assert len(contents) == 11
    # The window lives in the shared store, with its end as the TTL date.
    windows = (
        await mongo.database["rate_limits"]
        .find({"_id": {"$regex": f"^replies:user:{alice.id}:"}})
        .to_list()
    )
    assert sorted(window["hits"] for window in windows) == [1, 11]
    assert all(window["expiresAt"] > clock.now - timedelta(minutes=2) for window in windows)


async def test_concurrent_posts_never_exceed_the_limit(
    make_client: MakeClient,
    core_stub: CoreStub,
    clock: TickingClock,
    mongo: MongoDatabase,
    thread_id: int,
    alice: Member,
) -> None:
    clock.now = clock.now.replace(second=0, microsecond=0) + timedelta(minutes=5)
    async with replies_client(make_client, core_stub, clock) as client:
        # The first post leaves core's answer in the lookup cache, so the burst races only on
        # the shared counter.
        first = await _post(client, thread_id, alice, "first")
        responses = await asyncio.gather(
            *(_post(client, thread_id, alice, f"burst {i}") for i in range(14))
        )
    assert first.status_code == 201
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 9 + [429] * 5
    assert await mongo.database["replies"].count_documents({"threadId": thread_id}) == 10
    assert (await _stats(mongo, thread_id) or {})["replyCount"] == 10


# ---- editing ----------------------------------------------------------------------------------


async def test_the_author_edits_and_edited_at_is_recorded(
    make_client: MakeClient,
    core_stub: CoreStub,
    clock: TickingClock,
    mongo: MongoDatabase,
    thread_id: int,
    alice: Member,
) -> None:
    async with replies_client(make_client, core_stub, clock) as client:
        created = (await _post(client, thread_id, alice, "first")).json()
        response = await client.patch(
            path(thread_id, created["id"]), json={"content": " second "}, headers=alice.headers
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body == {**created, "content": "second", "edited_at": body["edited_at"]}
    assert body["edited_at"] is not None
    assert body["edited_at"] > created["created_at"]
    [stored] = await _replies(mongo, threadId=thread_id)
    assert stored["content"] == "second"
    assert stored["editedAt"] == stored["updatedAt"] > stored["createdAt"]


async def test_only_the_author_may_edit_and_others_see_404(
    make_client: MakeClient,
    core_stub: CoreStub,
    clock: TickingClock,
    mongo: MongoDatabase,
    thread_id: int,
    alice: Member,
    bob: Member,
) -> None:
    other_thread = fresh_id()
    core_stub.add_thread(other_thread)
    async with replies_client(make_client, core_stub, clock) as client:
        reply = (await _post(client, thread_id, alice, "mine")).json()["id"]
        gone = (await _post(client, thread_id, alice, "gone")).json()["id"]
        await client.delete(path(thread_id, gone), headers=alice.headers)
        edit = {"content": "changed"}
        answers = {
            "someone else's": await client.patch(
                path(thread_id, reply), json=edit, headers=bob.headers
            ),
            "deleted": await client.patch(path(thread_id, gone), json=edit, headers=alice.headers),
            "wrong thread": await client.patch(
                path(other_thread, reply), json=edit, headers=alice.headers
            ),
            "unknown": await client.patch(
                path(thread_id, "rpl_" + "1" * 26), json=edit, headers=alice.headers
            ),
            "malformed": await client.patch(
                path(thread_id, "nope"), json=edit, headers=alice.headers
            ),
        }
        admin = await client.patch(path(thread_id, reply), json=edit, headers=admin_headers())
        anonymous = await client.patch(path(thread_id, reply), json=edit)
    for name, response in answers.items():
        assert_problem(response, REPLY_NOT_FOUND), name
    # Two different answers to someone else's reply and to none would reveal it exists.
    assert answers["someone else's"].json()["detail"].startswith(f"Thread {thread_id} has no reply")
    assert_problem(admin, AUTH_TOKEN_INVALID)
    assert_problem(anonymous, UNAUTHENTICATED)
    stored = {doc["_id"]: doc for doc in await _replies(mongo, threadId=thread_id)}
    assert stored[reply]["content"] == "mine"
    assert stored[reply]["editedAt"] is None


async def test_editing_checks_core_and_fails_closed(
    make_client: MakeClient,
    core_stub: CoreStub,
    clock: TickingClock,
    mongo: MongoDatabase,
    thread_id: int,
    alice: Member,
) -> None:
    async with replies_client(make_client, core_stub, clock) as client:
        reply = (await _post(client, thread_id, alice, "mine")).json()["id"]
        core_stub.add_user(alice.id, alice.name, locked=True)
        clock.advance(timedelta(seconds=10))  # past the lookup cache
        locked = await client.patch(
            path(thread_id, reply), json={"content": "x"}, headers=alice.headers
        )
        bad = await client.patch(
            path(thread_id, reply), json={"content": "\x00"}, headers=alice.headers
        )
        core_stub.stop()
        clock.advance(timedelta(seconds=10))
        down = await client.patch(
            path(thread_id, reply), json={"content": "x"}, headers=alice.headers
        )
    assert_problem(locked, USER_LOCKED)
    assert_problem(bad, UNPROCESSABLE_CONTENT)
    assert_problem(down, UPSTREAM_UNAVAILABLE)
    [stored] = await _replies(mongo, threadId=thread_id)
    assert (stored["content"], stored["editedAt"]) == ("mine", None)


# ---- deleting ---------------------------------------------------------------------------------


async def _outbox_for(mongo: MongoDatabase, reply_id: str) -> list[dict[str, Any]]:
    return (
        await mongo.database["event_outbox"]
        .find({"type": REPLY_DELETED, "envelope.data.reply_id": reply_id})
        .to_list()
    )


async def test_the_author_deletes_and_core_is_told_through_the_outbox(
    make_client: MakeClient,
    core_stub: CoreStub,
    clock: TickingClock,
    mongo: MongoDatabase,
    thread_id: int,
    alice: Member,
) -> None:
    async with replies_client(make_client, core_stub, clock) as client:
        keep = (await _post(client, thread_id, alice, "keep")).json()["id"]
        reply = (await _post(client, thread_id, alice, "remove me")).json()["id"]
        lookups_before = len(core_stub.requests_to("POST", "/internal/v1/lookup"))
        response = await client.delete(path(thread_id, reply), headers=alice.headers)
        again = await client.delete(path(thread_id, reply), headers=alice.headers)
        listed = await client.get(path(thread_id))

    assert response.status_code == 204, response.text
    assert response.content == b""
    assert_problem(again, REPLY_NOT_FOUND)
    # Deleting needs no answer from core.
    assert len(core_stub.requests_to("POST", "/internal/v1/lookup")) == lookups_before
    assert [item["id"] for item in listed.json()["items"]] == [keep]

    stored = {doc["_id"]: doc for doc in await _replies(mongo, threadId=thread_id)}
    assert stored[reply]["isDeleted"] is True
    assert stored[reply]["deletedAt"] == stored[reply]["updatedAt"]
    assert stored[reply]["deletedBy"] == {"kind": "user", "id": alice.id}
    assert stored[reply]["content"] == "remove me"  # kept for moderation, never shown
    assert stored[keep]["isDeleted"] is False
    assert (await _stats(mongo, thread_id) or {})["replyCount"] == 1

    [event] = await _outbox_for(mongo, reply)
    validate_event(event["envelope"])
    assert event["status"] == "pending"
    assert event["envelope"]["producer"] == "feature-service"
    assert event["envelope"]["data"] == {
        "reply_id": reply,
        "thread_id": thread_id,
        "author_id": alice.id,
        "actor": {"kind": "user", "id": alice.id},
    }


async def test_an_admin_deletes_any_reply(
    make_client: MakeClient,
    core_stub: CoreStub,
    clock: TickingClock,
    mongo: MongoDatabase,
    thread_id: int,
    alice: Member,
) -> None:
    async with replies_client(make_client, core_stub, clock) as client:
        reply = (await _post(client, thread_id, alice, "spam")).json()["id"]
        response = await client.delete(path(thread_id, reply), headers=admin_headers(42))
        again = await client.delete(path(thread_id, reply), headers=admin_headers(42))
    assert response.status_code == 204, response.text
    assert_problem(again, REPLY_NOT_FOUND)
    [stored] = await _replies(mongo, threadId=thread_id)
    assert stored["isDeleted"] is True
    assert stored["deletedBy"] == {"kind": "admin", "id": 42}
    [event] = await _outbox_for(mongo, reply)
    assert event["envelope"]["data"]["actor"] == {"kind": "admin", "id": 42}
    assert event["envelope"]["data"]["author_id"] == alice.id


async def test_someone_elses_reply_is_404_and_untouched(
    make_client: MakeClient,
    core_stub: CoreStub,
    clock: TickingClock,
    mongo: MongoDatabase,
    thread_id: int,
    alice: Member,
    bob: Member,
) -> None:
    async with replies_client(make_client, core_stub, clock) as client:
        reply = (await _post(client, thread_id, alice, "mine")).json()["id"]
        by_bob = await client.delete(path(thread_id, reply), headers=bob.headers)
        anonymous = await client.delete(path(thread_id, reply))
        forged = await client.delete(path(thread_id, reply), headers={"Authorization": "Bearer x"})
        unknown = await client.delete(path(thread_id, "rpl_" + "2" * 26), headers=alice.headers)
    assert_problem(by_bob, REPLY_NOT_FOUND)
    assert_problem(unknown, REPLY_NOT_FOUND)
    assert by_bob.json()["detail"] == unknown.json()["detail"].replace("2" * 26, reply[4:])
    assert_problem(anonymous, UNAUTHENTICATED)
    assert_problem(forged, AUTH_TOKEN_INVALID)
    [stored] = await _replies(mongo, threadId=thread_id)
    assert stored["isDeleted"] is False
    assert await _outbox_for(mongo, reply) == []
    assert (await _stats(mongo, thread_id) or {})["replyCount"] == 1


async def test_the_delete_and_its_event_commit_together(
    make_client: MakeClient,
    core_stub: CoreStub,
    clock: TickingClock,
    mongo: MongoDatabase,
    thread_id: int,
    alice: Member,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """If writing the event fails, the soft delete and every counter change are rolled back;
    once it works, all of them commit."""

    async def broken_outbox(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("outbox unavailable")

    async def state() -> tuple[bool, int, int, int]:
        stored = {doc["_id"]: doc for doc in await _replies(mongo, threadId=thread_id)}
        stats = await _stats(mongo, thread_id) or {}
        events = len(await _outbox_for(mongo, child))
        return stored[child]["isDeleted"], stored[parent]["childCount"], stats["replyCount"], events

    async with replies_client(make_client, core_stub, clock) as client:
        parent = (await _post(client, thread_id, alice, "parent")).json()["id"]
        child = (await _post(client, thread_id, alice, "child", parent_reply_id=parent)).json()[
            "id"
        ]
        monkeypatch.setattr(services, "emit_reply_deleted", broken_outbox)
        failed = await client.delete(path(thread_id, child), headers=alice.headers)
        assert failed.status_code == 500
        assert await state() == (False, 1, 2, 0)
        monkeypatch.undo()
        retried = await client.delete(path(thread_id, child), headers=alice.headers)
    assert retried.status_code == 204
    assert await state() == (True, 0, 1, 1)


async def test_concurrent_replies_to_one_parent_are_all_counted(
    make_client: MakeClient,
    core_stub: CoreStub,
    clock: TickingClock,
    mongo: MongoDatabase,
    thread_id: int,
) -> None:
    members = [Member(core_stub) for _ in range(20)]
    async with replies_client(make_client, core_stub, clock) as client:
        parent = (await _post(client, thread_id, members[0], "parent")).json()["id"]
        # One reply each first, one after another: core's answers about every member are then
        # in the lookup cache, so the burst below races on MongoDB only (the stub of core
        # accepts only a few connections at once).
        for member in members:
            assert (await _post(client, thread_id, member, "warm-up")).status_code == 201
        responses = await asyncio.gather(
            *(_post(client, thread_id, m, "child", parent_reply_id=parent) for m in members)
        )
        assert [r.status_code for r in responses] == [201] * 20
        # And all deleted at once: every decrement lands.
        children = [r.json()["id"] for r in responses]
        deletes = await asyncio.gather(
            *(
                client.delete(path(thread_id, c), headers=m.headers)
                for c, m in zip(children, members, strict=True)
            )
        )
    assert [r.status_code for r in deletes] == [204] * 20
    stored = {doc["_id"]: doc for doc in await _replies(mongo, threadId=thread_id)}
    assert stored[parent]["childCount"] == 0
    assert (await _stats(mongo, thread_id) or {})["replyCount"] == 21
