"""GET /api/v1/threads/{id}/replies: one level at a time, keyset cursors, tombstones, limits,
bad cursors, a 5,000-reply thread paged end to end, and the query budget of a page."""

from __future__ import annotations

import base64
import json
import threading
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from core_stub import CoreStub
from pymongo import monitoring
from replies_support import (
    Member,
    TickingClock,
    fresh_id,
    path,
    replies_client,
    reply_document,
)
from support import MakeClient, assert_problem

from alephdraad_contracts import UNPROCESSABLE_CONTENT, VALIDATION_FAILED
from alephdraad_feature.platform.db import MongoDatabase
from alephdraad_feature.platform.pagination import encode_cursor
from alephdraad_feature.replies.errors import REPLY_NOT_FOUND


class _FindCounter(monitoring.CommandListener):
    """Counts the commands sent to the `replies` collection while recording (every client
    created after registration reports to it; it ignores everything else)."""

    def __init__(self) -> None:
        self.recording = False
        self.commands: list[str] = []
        self._lock = threading.Lock()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if not self.recording:
            return
        target = event.command.get(event.command_name)
        if target == "replies":
            with self._lock:
                self.commands.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


COMMANDS = _FindCounter()
monitoring.register(COMMANDS)


@pytest.fixture
def clock() -> TickingClock:
    return TickingClock()


@pytest.fixture
def thread_id(core_stub: CoreStub) -> int:
    thread = fresh_id()
    core_stub.add_thread(thread)
    return thread


async def _all_pages(
    client: httpx.AsyncClient, thread_id: int, **params: Any
) -> tuple[list[dict[str, Any]], int]:
    """Every item of one level, following next_cursor; and how many pages that took."""
    items: list[dict[str, Any]] = []
    cursor = None
    pages = 0
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(path(thread_id), params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["items"]) <= int(params.get("limit", 20))
        items.extend(body["items"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return items, pages


# ---- levels, order, tombstones ----------------------------------------------------------------


async def test_a_level_lists_oldest_first_by_default_and_newest_on_request(
    make_client: MakeClient, core_stub: CoreStub, clock: TickingClock, thread_id: int
) -> None:
    alice = Member(core_stub)
    async with replies_client(make_client, core_stub, clock) as client:
        top = []
        for n in range(3):
            response = await client.post(
                path(thread_id), json={"content": f"top {n}"}, headers=alice.headers
            )
            top.append(response.json()["id"])
        child = await client.post(
            path(thread_id),
            json={"content": "child", "parent_reply_id": top[0]},
            headers=alice.headers,
        )
        oldest = (await client.get(path(thread_id))).json()
        newest = (await client.get(path(thread_id), params={"sort": "newest"})).json()
        children = (await client.get(path(thread_id), params={"parent_reply_id": top[0]})).json()
    assert [item["id"] for item in oldest["items"]] == top
    assert oldest["next_cursor"] is None
    assert [item["id"] for item in newest["items"]] == top[::-1]
    assert oldest["items"][0]["child_count"] == 1
    assert [item["child_count"] for item in oldest["items"][1:]] == [0, 0]
    assert children == {"items": [child.json()], "next_cursor": None}
    assert children["items"][0]["depth"] == 1
    assert children["items"][0]["parent_reply_id"] == top[0]


async def test_deleted_replies_with_children_are_tombstones_until_the_branch_empties(
    make_client: MakeClient,
    core_stub: CoreStub,
    clock: TickingClock,
    mongo: MongoDatabase,
    thread_id: int,
) -> None:
    alice = Member(core_stub)
    async with replies_client(make_client, core_stub, clock) as client:

        async def post(content: str, parent: str | None = None) -> str:
            body = {"content": content, **({"parent_reply_id": parent} if parent else {})}
            response = await client.post(path(thread_id), json=body, headers=alice.headers)
            assert response.status_code == 201, response.text
            return str(response.json()["id"])

        async def level(parent: str | None = None) -> list[dict[str, Any]]:
            params = {"parent_reply_id": parent} if parent else {}
            response = await client.get(path(thread_id), params=params)
            assert response.status_code == 200, response.text
            return list(response.json()["items"])

        async def remove(reply_id: str) -> None:
            response = await client.delete(path(thread_id, reply_id), headers=alice.headers)
            assert response.status_code == 204, response.text

        # a ── b ── d
        #   └─ c
        a = await post("a")
        b = await post("b", a)
        c = await post("c", a)
        d = await post("d", b)

        await remove(b)
        [tomb, live_c] = await level(a)
        assert tomb == {
            "id": b,
            "thread_id": thread_id,
            "parent_reply_id": a,
            "depth": 1,
            "user_id": None,
            "username": None,
            "content": None,
            "child_count": 1,
            "created_at": tomb["created_at"],
            "edited_at": None,
            "deleted": True,
            "author_deleted": False,
        }
        assert live_c["id"] == c
        assert live_c["content"] == "c"
        assert [item["id"] for item in await level(b)] == [d]
        # A tombstone cannot be answered, edited or deleted again.
        refused = await client.post(
            path(thread_id), json={"content": "x", "parent_reply_id": b}, headers=alice.headers
        )
        assert refused.status_code == 422
        assert (await level())[0]["child_count"] == 2

        # d goes: b has no visible child left, so b disappears too, and a counts only c.
        await remove(d)
        assert [item["id"] for item in await level(a)] == [c]
        assert (await level())[0]["child_count"] == 1
        gone = await client.get(path(thread_id), params={"parent_reply_id": b})
        assert_problem(gone, REPLY_NOT_FOUND)

        # a goes while c lives: a tombstone at the top; then c goes and the thread is empty.
        await remove(a)
        [top] = await level()
        assert (top["id"], top["deleted"], top["content"], top["child_count"]) == (a, True, None, 1)
        await remove(c)
        assert await level() == []

    stored = {
        doc["_id"]: doc
        for doc in await mongo.database["replies"].find({"threadId": thread_id}).to_list()
    }
    assert {key: doc["childCount"] for key, doc in stored.items()} == {a: 0, b: 0, c: 0, d: 0}
    assert all(doc["isDeleted"] for doc in stored.values())
    stats = await mongo.database["thread_stats"].find_one({"_id": thread_id})
    assert stats is not None
    assert stats["replyCount"] == 0


async def test_replies_of_a_hidden_thread_and_of_unknown_threads_list_empty(
    make_client: MakeClient, core_stub: CoreStub, clock: TickingClock, mongo: MongoDatabase
) -> None:
    hidden_thread = fresh_id()
    await mongo.database["replies"].insert_one(
        reply_document(hidden_thread, created_at=clock(), hidden=True)
    )
    async with replies_client(make_client, core_stub, clock) as client:
        hidden = await client.get(path(hidden_thread))
        unknown = await client.get(path(fresh_id()))
    assert hidden.json() == {"items": [], "next_cursor": None}
    assert unknown.json() == {"items": [], "next_cursor": None}
    # Listing never asks core.
    assert core_stub.requests_to("POST", "/internal/v1/lookup") == []


async def test_an_anonymised_reply_keeps_its_text_without_its_author(
    make_client: MakeClient,
    core_stub: CoreStub,
    clock: TickingClock,
    mongo: MongoDatabase,
    thread_id: int,
) -> None:
    await mongo.database["replies"].insert_one(
        reply_document(
            thread_id, created_at=clock(), username=None, authorDeleted=True, content="still here"
        )
    )
    async with replies_client(make_client, core_stub, clock) as client:
        [item] = (await client.get(path(thread_id))).json()["items"]
    assert (item["content"], item["user_id"], item["username"], item["author_deleted"]) == (
        "still here",
        None,
        None,
        True,
    )


# ---- limits and cursors -----------------------------------------------------------------------


@pytest.mark.parametrize("limit", ["0", "-1", "101", "10000"])
async def test_a_limit_outside_1_to_100_is_422_never_clamped(
    make_client: MakeClient, core_stub: CoreStub, clock: TickingClock, thread_id: int, limit: str
) -> None:
    async with replies_client(make_client, core_stub, clock) as client:
        response = await client.get(path(thread_id), params={"limit": limit})
    problem = assert_problem(response, UNPROCESSABLE_CONTENT)
    assert [error["field"] for error in problem["errors"]] == ["limit"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "ten"}, "limit"),
        ({"sort": "sideways"}, "sort"),
        ({"parent_reply_id": "rpl_nope"}, "parent_reply_id"),
    ],
    ids=["limit-not-a-number", "unknown-sort", "malformed-parent"],
)
async def test_malformed_parameters_are_4xx_naming_them(
    make_client: MakeClient,
    core_stub: CoreStub,
    clock: TickingClock,
    thread_id: int,
    params: dict[str, str],
    field: str,
) -> None:
    async with replies_client(make_client, core_stub, clock) as client:
        response = await client.get(path(thread_id), params=params)
    assert response.status_code in (400, 422), response.text
    body = response.json()
    assert body["code"] in {VALIDATION_FAILED.code, UNPROCESSABLE_CONTENT.code}
    assert [error["field"] for error in body["errors"]] == [field]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor",
        "%%%",
        _b64(b"\xff\xfe"),
        _b64(b"[1, 2]"),
        _b64(json.dumps({"v": 1, "s": "replies:1:-:oldest", "p": [1, "rpl_x"]}).encode()),
        _b64(json.dumps({"v": 2, "s": "x", "p": []}).encode()),
        "é",
    ],
    ids=["text", "symbols", "not-utf8", "json-list", "other-thread", "other-version", "non-ascii"],
)
async def test_a_cursor_not_made_by_this_list_is_400(
    make_client: MakeClient, core_stub: CoreStub, clock: TickingClock, thread_id: int, cursor: str
) -> None:
    async with replies_client(make_client, core_stub, clock) as client:
        response = await client.get(path(thread_id), params={"cursor": cursor})
    problem = assert_problem(response, VALIDATION_FAILED)
    assert [error["field"] for error in problem["errors"]] == ["cursor"]


@pytest.mark.parametrize(
    "position",
    [
        [],
        [1],
        ["rpl_nope"],
        [{"$gt": ""}],
        [None],
        ["rpl_01kaz3qf0v8m2n4p6r8s9t0w1x"],
        ["rpl_01KAZ3QF0V8M2N4P6R8S9T0W1X", 3],
    ],
)
async def test_a_well_scoped_cursor_with_a_forged_position_is_400_not_500(
    make_client: MakeClient,
    core_stub: CoreStub,
    clock: TickingClock,
    thread_id: int,
    position: list[Any],
) -> None:
    cursor = encode_cursor(f"replies:{thread_id}:-:oldest", position)
    async with replies_client(make_client, core_stub, clock) as client:
        response = await client.get(path(thread_id), params={"cursor": cursor})
    assert_problem(response, VALIDATION_FAILED)


async def test_a_cursor_works_only_with_the_list_it_came_from(
    make_client: MakeClient,
    core_stub: CoreStub,
    clock: TickingClock,
    mongo: MongoDatabase,
    thread_id: int,
) -> None:
    await mongo.database["replies"].insert_many(
        [reply_document(thread_id, created_at=clock()) for _ in range(3)]
    )
    async with replies_client(make_client, core_stub, clock) as client:
        first = (await client.get(path(thread_id), params={"limit": 1})).json()
        cursor = first["next_cursor"]
        assert cursor is not None
        assert len(cursor) < 200
        same = await client.get(path(thread_id), params={"limit": 1, "cursor": cursor})
        other_sort = await client.get(
            path(thread_id), params={"limit": 1, "cursor": cursor, "sort": "newest"}
        )
        other_thread = await client.get(path(fresh_id()), params={"cursor": cursor})
        too_long = await client.get(path(thread_id), params={"cursor": "a" * 513})
    assert same.status_code == 200
    assert same.json()["items"][0]["id"] != first["items"][0]["id"]
    assert_problem(other_sort, VALIDATION_FAILED)
    assert_problem(other_thread, VALIDATION_FAILED)
    assert too_long.status_code in (400, 422)
    assert [error["field"] for error in too_long.json()["errors"]] == ["cursor"]


async def test_pages_stay_stable_while_replies_arrive(
    make_client: MakeClient,
    core_stub: CoreStub,
    clock: TickingClock,
    mongo: MongoDatabase,
    thread_id: int,
) -> None:
    first_batch = [reply_document(thread_id, created_at=clock()) for _ in range(5)]
    await mongo.database["replies"].insert_many(first_batch)
    async with replies_client(make_client, core_stub, clock) as client:
        page = (await client.get(path(thread_id), params={"limit": 2})).json()
        newest_page = (
            await client.get(path(thread_id), params={"limit": 2, "sort": "newest"})
        ).json()
        later = [reply_document(thread_id, created_at=clock()) for _ in range(3)]
        await mongo.database["replies"].insert_many(later)
        rest, _ = await _all_pages(client, thread_id, limit=2, cursor=page["next_cursor"])
        older_rest, _ = await _all_pages(
            client, thread_id, limit=2, sort="newest", cursor=newest_page["next_cursor"]
        )
    seen = [item["id"] for item in page["items"] + rest]
    assert seen == [doc["_id"] for doc in first_batch + later]
    # Newest first: what arrived after the first page is not mixed into the older pages.
    newest_seen = [item["id"] for item in newest_page["items"] + older_rest]
    assert newest_seen == [doc["_id"] for doc in first_batch][::-1]


# ---- a 5,000-reply thread ---------------------------------------------------------------------


async def test_every_reply_of_a_5000_reply_thread_is_listed_exactly_once(
    make_client: MakeClient,
    core_stub: CoreStub,
    clock: TickingClock,
    mongo: MongoDatabase,
    thread_id: int,
) -> None:
    """2,000 top-level replies (eight per millisecond, so the id breaks ties), 2,700 children
    under 30 of them and 300 grandchildren under 10 children, some deleted: paged through the
    API level by level in both orders, every visible reply appears exactly once and nothing
    else does. (Levels stay a few thousand long: the embedded test server sorts without the
    index, so a page costs the size of its level there; MongoDB walks the index.)"""
    documents: list[dict[str, Any]] = []
    start = clock.now
    for n in range(2000):
        documents.append(
            reply_document(thread_id, created_at=start + timedelta(milliseconds=n // 8))
        )
    parents = documents[:30]
    for n in range(2700):
        parent = parents[n % 30]
        child = reply_document(
            thread_id, created_at=start + timedelta(seconds=10, milliseconds=n // 3), parent=parent
        )
        parent["childCount"] += 1
        documents.append(child)
    grandparents = documents[2000:2010]
    for n in range(300):
        parent = grandparents[n % 10]
        grandchild = reply_document(
            thread_id, created_at=start + timedelta(seconds=20, milliseconds=n), parent=parent
        )
        parent["childCount"] += 1
        documents.append(grandchild)
    # Deleted leaves vanish; a deleted reply with children is a tombstone.
    for doc in documents[100:150] + documents[2100:2110]:
        doc["isDeleted"] = True
    documents[2000]["isDeleted"] = True  # has 30 grandchildren: a tombstone
    for doc in documents:
        doc["listed"] = not doc["isDeleted"] or doc["childCount"] > 0
    assert len(documents) == 5000
    await mongo.database["replies"].insert_many(documents)
    visible = {doc["_id"] for doc in documents if not doc["isDeleted"] or doc["childCount"] > 0}
    assert len(visible) == 4940

    async with replies_client(make_client, core_stub, clock) as client:
        for sort in ("oldest", "newest"):
            seen: list[str] = []
            top, pages = await _all_pages(client, thread_id, limit=100, sort=sort)
            assert pages == 20  # 1,950 top-level replies
            seen.extend(item["id"] for item in top)
            branches = [item["id"] for item in top if item["child_count"]]
            while branches:
                parent_id = branches.pop()
                children, _ = await _all_pages(
                    client, thread_id, limit=40, sort=sort, parent_reply_id=parent_id
                )
                seen.extend(item["id"] for item in children)
                branches.extend(item["id"] for item in children if item["child_count"])
            counts = Counter(seen)
            assert max(counts.values()) == 1, sort
            assert set(counts) == visible, sort
            keys = [(datetime.fromisoformat(item["created_at"]), item["id"]) for item in top]
            assert keys == sorted(keys, reverse=sort == "newest")


async def test_a_page_is_one_query_whatever_its_size(
    make_client: MakeClient,
    core_stub: CoreStub,
    clock: TickingClock,
    mongo: MongoDatabase,
    thread_id: int,
) -> None:
    parent = reply_document(thread_id, created_at=clock(), childCount=100)
    children = [reply_document(thread_id, created_at=clock(), parent=parent) for _ in range(100)]
    await mongo.database["replies"].insert_many([parent, *children])
    async with replies_client(make_client, core_stub, clock) as client:
        budgets = []
        for params in ({"limit": 1}, {"limit": 100}):
            COMMANDS.commands.clear()
            COMMANDS.recording = True
            try:
                response = await client.get(path(thread_id), params=params)
            finally:
                COMMANDS.recording = False
            assert response.status_code == 200
            budgets.append(list(COMMANDS.commands))
        COMMANDS.commands.clear()
        COMMANDS.recording = True
        try:
            branch = await client.get(
                path(thread_id), params={"parent_reply_id": parent["_id"], "limit": 100}
            )
        finally:
            COMMANDS.recording = False
        branch_budget = list(COMMANDS.commands)
    assert budgets == [["find"], ["find"]]
    assert len(branch.json()["items"]) == 100
    # One query checks the parent is visible, one reads the page.
    assert sorted(branch_budget) == ["aggregate", "find"] or sorted(branch_budget) == [
        "count",
        "find",
    ]
