"""What core reaches the replies through: its events (thread.deleted / restored, user.renamed,
user.deleted), its lookup of reply ids, the deletion check's holdings, reconcile, and the Pact
provider state "a reply exists"."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
import pytest
from core_stub import CoreStub
from internal_support import ACCEPT_KEYS, event, signed
from pymongo import MongoClient
from replies_support import Member, TickingClock, admin_headers, fresh_id, path, reply_document
from support import MakeClient, assert_problem
from test_pact_provider import a_reply_exists

from alephdraad_contracts import (
    THREAD_DELETED,
    THREAD_RESTORED,
    USER_DELETED,
    USER_RENAMED,
    new_event_id,
    new_ulid,
)
from alephdraad_feature.internal.core_client import CoreClient
from alephdraad_feature.internal.errors import THREAD_NOT_FOUND
from alephdraad_feature.internal.reconcile import do_reconcile, reference_sources
from alephdraad_feature.platform.db import MongoDatabase
from alephdraad_feature.replies.errors import REPLY_NOT_FOUND
from alephdraad_feature.settings import Settings

EVENTS = "/internal/v1/events"


@pytest.fixture
def clock() -> TickingClock:
    return TickingClock()


def _client(make_client: MakeClient, clock: TickingClock, core_stub: CoreStub) -> Any:
    """The app taking signed calls from core (events, lookups) and members' requests alike."""
    return make_client(
        clock=clock, **core_stub.settings_overrides(feature_internal_accept_keys=ACCEPT_KEYS)
    )


async def _deliver(
    client: httpx.AsyncClient,
    clock: TickingClock,
    event_type: str,
    data: dict[str, Any],
    event_id: str | None = None,
) -> httpx.Response:
    envelope = event(event_id or new_event_id(), event_type, data)
    response = await client.send(signed("POST", EVENTS, body=envelope, created=clock.now))
    assert response.status_code == 200, response.text
    return response


async def _docs(mongo: MongoDatabase, **query: Any) -> dict[str, dict[str, Any]]:
    found = await mongo.database["replies"].find(query).sort("_id", 1).to_list()
    return {doc["_id"]: doc for doc in found}


# ---- thread.deleted / thread.restored ---------------------------------------------------------


async def test_a_deleted_thread_hides_its_replies_until_it_is_restored(
    settings: Settings,
    core_stub: CoreStub,
    clock: TickingClock,
    make_client: MakeClient,
    mongo: MongoDatabase,
) -> None:
    thread_id = fresh_id()
    core_stub.add_thread(thread_id)
    alice = Member(core_stub)
    other_thread = fresh_id()
    core_stub.add_thread(other_thread)
    async with _client(make_client, clock, core_stub) as client:

        async def post(content: str, parent: str | None = None, thread: int = thread_id) -> str:
            body = {"content": content, **({"parent_reply_id": parent} if parent else {})}
            response = await client.post(path(thread), json=body, headers=alice.headers)
            assert response.status_code == 201, response.text
            return str(response.json()["id"])

        top = await post("top")
        child = await post("child", top)
        await post("elsewhere", thread=other_thread)
        assert (await client.delete(path(thread_id, top), headers=alice.headers)).status_code == 204
        before = (await client.get(path(thread_id))).json()
        assert [item["id"] for item in before["items"]] == [top]  # a tombstone

        await _deliver(client, clock, THREAD_DELETED, {"thread_id": thread_id, "author_id": 1})
        hidden = await _docs(mongo, threadId=thread_id)
        assert all(doc["hidden"] for doc in hidden.values())
        assert not any(
            doc["hidden"] for doc in (await _docs(mongo, threadId=other_thread)).values()
        )
        assert (await client.get(path(thread_id))).json() == {"items": [], "next_cursor": None}
        children = await client.get(path(thread_id), params={"parent_reply_id": top})
        assert_problem(children, REPLY_NOT_FOUND)
        # Frozen for the author; core still thinks the thread is live (its cache answer), but
        # the thread is hidden here, so no new reply can hang on it.
        edit = await client.patch(
            path(thread_id, child), json={"content": "x"}, headers=alice.headers
        )
        assert_problem(edit, REPLY_NOT_FOUND)
        removal = await client.delete(path(thread_id, child), headers=alice.headers)
        assert_problem(removal, REPLY_NOT_FOUND)
        late = await client.post(path(thread_id), json={"content": "late"}, headers=alice.headers)
        assert_problem(late, THREAD_NOT_FOUND)

        await _deliver(client, clock, THREAD_RESTORED, {"thread_id": thread_id, "author_id": 1})
        after = (await client.get(path(thread_id))).json()
        branch = (await client.get(path(thread_id), params={"parent_reply_id": top})).json()

    # Back exactly as it was: the tombstone and its live child.
    assert after == before
    assert [item["id"] for item in branch["items"]] == [child]
    restored = await _docs(mongo, threadId=thread_id)
    assert not any(doc["hidden"] for doc in restored.values())
    assert {key: doc["isDeleted"] for key, doc in restored.items()} == {top: True, child: False}
    stats = await mongo.database["thread_stats"].find_one({"_id": thread_id})
    assert stats is not None
    assert stats["replyCount"] == 1
    assert stats["hidden"] is False


async def test_an_admin_may_still_remove_a_reply_of_a_deleted_thread(
    settings: Settings,
    core_stub: CoreStub,
    clock: TickingClock,
    make_client: MakeClient,
    mongo: MongoDatabase,
) -> None:
    thread_id = fresh_id()
    reply = reply_document(thread_id, created_at=clock(), hidden=True)
    await mongo.database["replies"].insert_one(reply)
    async with _client(make_client, clock, core_stub) as client:
        response = await client.delete(path(thread_id, reply["_id"]), headers=admin_headers())
    assert response.status_code == 204, response.text
    assert (await _docs(mongo, _id=reply["_id"]))[reply["_id"]]["isDeleted"] is True


async def test_thread_events_are_idempotent(
    settings: Settings,
    core_stub: CoreStub,
    clock: TickingClock,
    make_client: MakeClient,
    mongo: MongoDatabase,
) -> None:
    thread_id = fresh_id()
    await mongo.database["replies"].insert_many(
        [reply_document(thread_id, created_at=clock()) for _ in range(3)]
    )
    data = {"thread_id": thread_id, "author_id": 1}
    event_id = new_event_id()
    async with _client(make_client, clock, core_stub) as client:
        first = await _deliver(client, clock, THREAD_DELETED, data, event_id)
        again = await _deliver(client, clock, THREAD_DELETED, data, event_id)
        # Another event with the same meaning (core deleted, restored, deleted again).
        await _deliver(client, clock, THREAD_DELETED, data)
    assert first.json() == {"status": "handled"}
    assert again.json() == {"status": "duplicate"}
    docs = await _docs(mongo, threadId=thread_id)
    assert len(docs) == 3
    assert all(doc["hidden"] for doc in docs.values())


# ---- user.renamed / user.deleted --------------------------------------------------------------


async def test_a_rename_rewrites_the_copied_username(
    settings: Settings,
    core_stub: CoreStub,
    clock: TickingClock,
    make_client: MakeClient,
    mongo: MongoDatabase,
) -> None:
    thread_id = fresh_id()
    user_id, other_id = fresh_id(), fresh_id()
    mine = [
        reply_document(thread_id, user_id=user_id, username="old", created_at=clock())
        for _ in range(3)
    ]
    mine[2].update(isDeleted=True, listed=False)
    theirs = reply_document(thread_id, user_id=other_id, username="old", created_at=clock())
    await mongo.database["replies"].insert_many([*mine, theirs])
    data = {"user_id": user_id, "old_username": "old", "username": "new"}
    async with _client(make_client, clock, core_stub) as client:
        await _deliver(client, clock, USER_RENAMED, data)
        await _deliver(client, clock, USER_RENAMED, data)  # a second event: no further change
        listed = (await client.get(path(thread_id))).json()["items"]
    docs = await _docs(mongo, threadId=thread_id)
    assert [docs[doc["_id"]]["username"] for doc in mine] == ["new", "new", "new"]
    assert docs[theirs["_id"]]["username"] == "old"
    assert [item["username"] for item in listed] == ["new", "new", "old"]


async def test_a_deleted_user_is_anonymised_and_the_text_kept(
    settings: Settings,
    core_stub: CoreStub,
    clock: TickingClock,
    make_client: MakeClient,
    mongo: MongoDatabase,
) -> None:
    thread_id = fresh_id()
    user_id = fresh_id()
    theirs = [
        reply_document(
            thread_id, user_id=user_id, username="gone", content=f"t{n}", created_at=clock()
        )
        for n in range(2)
    ]
    other = reply_document(thread_id, user_id=fresh_id(), username="stays", created_at=clock())
    await mongo.database["replies"].insert_many([*theirs, other])
    async with _client(make_client, clock, core_stub) as client:
        await _deliver(client, clock, USER_DELETED, {"user_id": user_id})
        snapshot = await _docs(mongo, threadId=thread_id)
        await _deliver(client, clock, USER_DELETED, {"user_id": user_id})
        # A rename arriving late must not bring the name back.
        await _deliver(
            client,
            clock,
            USER_RENAMED,
            {"user_id": user_id, "old_username": "gone", "username": "back"},
        )
        listed = (await client.get(path(thread_id))).json()["items"]
    docs = await _docs(mongo, threadId=thread_id)
    assert docs == snapshot  # the repeats changed nothing
    for doc in theirs:
        stored = docs[doc["_id"]]
        assert (stored["username"], stored["authorDeleted"]) == (None, True)
        assert stored["content"] == doc["content"]
        assert stored["userId"] == user_id  # kept internally, never shown
    assert docs[other["_id"]]["authorDeleted"] is False
    assert [(i["content"], i["user_id"], i["username"], i["author_deleted"]) for i in listed] == [
        ("t0", None, None, True),
        ("t1", None, None, True),
        (other["content"], other["userId"], "stays", False),
    ]
    stats = await mongo.database["thread_stats"].find_one({"_id": thread_id})
    assert stats is None  # counts untouched: the replies stay


# ---- core's lookup, the deletion check --------------------------------------------------------


async def test_core_looks_reply_ids_up_in_one_query(
    settings: Settings,
    core_stub: CoreStub,
    clock: TickingClock,
    make_client: MakeClient,
    mongo: MongoDatabase,
) -> None:
    thread_id = fresh_id()
    live = reply_document(thread_id, user_id=11, created_at=clock())
    deleted = reply_document(
        thread_id, user_id=12, created_at=clock(), isDeleted=True, listed=False
    )
    hidden = reply_document(thread_id, user_id=13, created_at=clock(), hidden=True)
    await mongo.database["replies"].insert_many([live, deleted, hidden])
    unknown = "rpl_" + "3" * 26
    ids = [live["_id"], deleted["_id"], hidden["_id"], unknown]
    async with _client(make_client, clock, core_stub) as client:
        response = await client.send(
            signed("POST", "/internal/v1/lookup", body={"reply_ids": ids}, created=clock.now)
        )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "replies": {
            live["_id"]: {
                "exists": True,
                "deleted": False,
                "thread_id": thread_id,
                "author_id": 11,
            },
            deleted["_id"]: {
                "exists": True,
                "deleted": True,
                "thread_id": thread_id,
                "author_id": 12,
            },
            # Whether the thread is live is core's own knowledge.
            hidden["_id"]: {
                "exists": True,
                "deleted": False,
                "thread_id": thread_id,
                "author_id": 13,
            },
            unknown: {"exists": False, "deleted": False, "thread_id": None, "author_id": None},
        }
    }


async def test_the_deletion_check_counts_live_replies(
    settings: Settings,
    core_stub: CoreStub,
    clock: TickingClock,
    make_client: MakeClient,
    mongo: MongoDatabase,
) -> None:
    user_id = fresh_id()
    thread_id = fresh_id()
    await mongo.database["replies"].insert_many(
        [
            reply_document(thread_id, user_id=user_id, created_at=clock()),
            reply_document(thread_id, user_id=user_id, created_at=clock()),
            reply_document(thread_id, user_id=user_id, created_at=clock(), isDeleted=True),
        ]
    )
    async with _client(make_client, clock, core_stub) as client:
        response = await client.send(
            signed("GET", f"/internal/v1/users/{user_id}/deletion-check", created=clock.now)
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["can_delete"] is True
    assert body["holdings"]["replies"] == 2


# ---- reconcile --------------------------------------------------------------------------------


async def test_reconcile_hides_replies_of_missing_threads_and_anonymises_missing_users(
    settings: Settings,
    core_stub: CoreStub,
    clock: TickingClock,
    make_client: MakeClient,
    mongo: MongoDatabase,
) -> None:
    live_thread, gone_thread = fresh_id(), fresh_id()
    live_user, gone_user = fresh_id(), fresh_id()
    core_stub.add_thread(live_thread)
    core_stub.add_user(live_user, "here")
    # gone_thread and gone_user: core never heard of them (their events were lost).
    await mongo.database["replies"].insert_many(
        [
            reply_document(live_thread, user_id=live_user, created_at=clock()),
            reply_document(gone_thread, user_id=live_user, created_at=clock()),
            reply_document(live_thread, user_id=gone_user, created_at=clock()),
        ]
    )
    sources = tuple(s for s in reference_sources() if s.name.startswith("replies."))
    assert {s.name for s in sources} == {"replies.thread", "replies.user"}
    # Other tests' replies refer to ids this stub does not know: look only at ours (each
    # source scoped by the other reference, since its own field is what it groups by).
    scope = {
        "replies.thread": {"userId": {"$in": [live_user, gone_user]}},
        "replies.user": {"threadId": {"$in": [live_thread, gone_thread]}},
    }
    scoped = tuple(replace(s, match={**s.match, **scope[s.name]}) for s in sources)
    core_client = CoreClient.from_settings(
        Settings(**{**settings.model_dump(), **core_stub.settings_overrides()})
    )
    try:
        report = await do_reconcile(mongo.database, core_client, fix=True, sources=scoped)
        again = await do_reconcile(mongo.database, core_client, fix=False, sources=scoped)
    finally:
        await core_client.aclose()
    found = {s.name: s.orphans for s in report.sources}
    assert found == {"replies.thread": [gone_thread], "replies.user": [gone_user]}
    assert again.exit_code == 0
    hidden = await _docs(mongo, threadId=gone_thread)
    assert all(doc["hidden"] for doc in hidden.values())
    anonymised = await _docs(mongo, userId=gone_user)
    assert all(doc["authorDeleted"] and doc["username"] is None for doc in anonymised.values())
    untouched = await _docs(mongo, threadId=live_thread, userId=live_user)
    assert all(not doc["hidden"] and not doc["authorDeleted"] for doc in untouched.values())


# ---- Pact provider state ----------------------------------------------------------------------


async def test_the_pact_state_a_reply_exists_answers_as_core_expects(
    settings: Settings,
    core_stub: CoreStub,
    clock: TickingClock,
    make_client: MakeClient,
    mongodb_url: str,
) -> None:
    """The state handler the provider verification uses, against the in-process service: the
    lookup answers what core's consumer test expects (core-service tests/test_pact_consumer)."""
    reply_id = "rpl_" + new_ulid()
    params = {"id": reply_id, "thread_id": 2001, "author_id": 1001}
    with MongoClient(mongodb_url, tz_aware=True) as sync_client:
        a_reply_exists(sync_client[settings.mongodb_database], params)
        a_reply_exists(sync_client[settings.mongodb_database], params)  # set up twice: harmless
    async with _client(make_client, clock, core_stub) as client:
        response = await client.send(
            signed("POST", "/internal/v1/lookup", body={"reply_ids": [reply_id]}, created=clock.now)
        )
        listed = (await client.get(path(2001))).json()["items"]
    assert response.json() == {
        "replies": {
            reply_id: {"exists": True, "deleted": False, "thread_id": 2001, "author_id": 1001}
        }
    }
    assert reply_id in [item["id"] for item in listed]
