"""GET /api/v1/threads/stats: the counters of up to 100 threads in one query, every id asked
for answered (zeros when nothing is counted or the thread is hidden), and every bad `ids`."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from core_stub import CoreStub
from reactions_support import COMMANDS, new_id, world_factory
from support import MakeClient, assert_problem

from alephdraad_contracts import UNPROCESSABLE_CONTENT, VALIDATION_FAILED
from alephdraad_feature.openapi import openapi_document
from alephdraad_feature.platform.db import MongoDatabase
from alephdraad_feature.settings import Settings
from alephdraad_feature.threads.schemas import parse_thread_ids

STATS = "/api/v1/threads/stats"
ZERO_COUNTS = {"like": 0, "love": 0, "fire": 0, "sad": 0, "laugh": 0}
ZERO = {
    "reply_count": 0,
    "reaction_counts": ZERO_COUNTS,
    "reaction_total": 0,
    "last_reply_at": None,
}
WHEN = datetime(2026, 1, 7, 10, 0, tzinfo=UTC)


def _stats_document(thread_id: int, n: int, *, hidden: bool = False) -> dict[str, Any]:
    return {
        "_id": thread_id,
        "replyCount": n,
        "lastReplyAt": WHEN + timedelta(minutes=n),
        "reactionCounts": {"like": n, "fire": 1},
        "reactionTotal": n + 1,
        "hidden": hidden,
    }


def _expected(n: int) -> dict[str, Any]:
    return {
        "reply_count": n,
        "reaction_counts": {**ZERO_COUNTS, "like": n, "fire": 1},
        "reaction_total": n + 1,
        "last_reply_at": (WHEN + timedelta(minutes=n)).isoformat().replace("+00:00", "Z"),
    }


async def test_a_hundred_threads_in_one_query_each_answered(
    make_client: MakeClient, mongo: MongoDatabase, settings: Settings
) -> None:
    counted = [new_id() for _ in range(40)]
    hidden = [new_id() for _ in range(10)]
    never = [new_id() for _ in range(50)]
    await mongo.database["thread_stats"].insert_many(
        [_stats_document(t, n + 1) for n, t in enumerate(counted)]
        + [_stats_document(t, 7, hidden=True) for t in hidden]
    )
    # Shuffled, so the answer's order is shown to be the order asked, not the storage order.
    asked = counted + hidden + never
    random.Random(8).shuffle(asked)
    async with make_client() as client:
        with COMMANDS.counting(settings.mongodb_database) as commands:
            response = await client.get(STATS, params={"ids": ",".join(map(str, asked))})
    assert response.status_code == 200, response.text
    # The query budget: ONE find, whatever the number of ids (no N+1, no getMore).
    assert commands == ["find"]
    threads = response.json()["threads"]
    assert list(threads) == [str(t) for t in asked]
    for n, thread_id in enumerate(counted):
        assert threads[str(thread_id)] == _expected(n + 1)
    # Deleted in core (hidden here) and never counted: zeros, indistinguishable.
    for thread_id in hidden + never:
        assert threads[str(thread_id)] == ZERO


async def test_duplicates_collapse_and_repeated_parameters_add_up(
    make_client: MakeClient, mongo: MongoDatabase
) -> None:
    a, b, c = new_id(), new_id(), new_id()
    await mongo.database["thread_stats"].insert_one(_stats_document(b, 2))
    async with make_client() as client:
        response = await client.get(f"{STATS}?ids={b},{a},{b}, {b} &ids={c}&ids={a}")
    assert response.status_code == 200, response.text
    assert response.json() == {"threads": {str(b): _expected(2), str(a): ZERO, str(c): ZERO}}


async def test_reactions_show_up_in_the_stats(make_client: MakeClient, core_stub: CoreStub) -> None:
    async with world_factory(make_client, core_stub)() as world:
        await world.put("love")
        await world.put("love", world.bob)
        await world.put("sad", world.bob)
        response = await world.client.get(STATS, params={"ids": str(world.thread_id)})
    assert response.json()["threads"][str(world.thread_id)] == {
        **ZERO,
        "reaction_counts": {**ZERO_COUNTS, "love": 1, "sad": 1},
        "reaction_total": 2,
    }


async def test_counters_below_zero_read_as_zero(
    make_client: MakeClient, mongo: MongoDatabase
) -> None:
    thread_id = new_id()
    await mongo.database["thread_stats"].insert_one(
        {"_id": thread_id, "replyCount": -1, "reactionCounts": {"sad": -3, "like": 2}}
    )
    async with make_client() as client:
        response = await client.get(STATS, params={"ids": str(thread_id)})
    assert response.json()["threads"][str(thread_id)] == {
        **ZERO,
        "reaction_counts": {**ZERO_COUNTS, "like": 2},
        "reaction_total": 2,
    }


async def test_exactly_the_limit_is_accepted(make_client: MakeClient) -> None:
    async with make_client() as client:
        distinct = await client.get(STATS, params={"ids": ",".join(map(str, range(1, 101)))})
        repeated = await client.get(STATS, params={"ids": ",".join(["5"] * 100)})
    assert distinct.status_code == 200
    assert len(distinct.json()["threads"]) == 100
    assert repeated.json() == {"threads": {"5": repeated.json()["threads"]["5"]}}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("ids=", "give at least one thread id"),
        ("ids=%20", "give at least one thread id"),
        ("ids=1,,2", "entry 2 ('') is not a thread id"),
        ("ids=1,", "entry 2 ('') is not a thread id"),
        ("ids=1&ids=", "entry 2 ('') is not a thread id"),
        ("ids=abc", "entry 1 ('abc') is not a thread id"),
        ("ids=0", "entry 1 ('0') is not a thread id"),
        ("ids=-1", "entry 1 ('-1') is not a thread id"),
        ("ids=%2B1", "entry 1 ('+1') is not a thread id"),
        ("ids=1.5", "entry 1 ('1.5') is not a thread id"),
        ("ids=1e3", "entry 1 ('1e3') is not a thread id"),
        ("ids=1;2", "entry 1 ('1;2') is not a thread id"),
        (f"ids={2**63}", f"entry 1 ('{2**63}') is not a thread id"),
        ("ids=" + "9" * 40, "entry 1 ('999999999999999999999999…') is not a thread id"),
        ("ids=" + ",".join(["1"] * 101), "at most 100 thread ids, got 101"),
        ("ids=" + ",".join(map(str, range(1, 102))), "at most 100 thread ids, got 101"),
    ],
)
async def test_bad_ids_are_422_naming_the_problem(
    make_client: MakeClient, settings: Settings, query: str, message: str
) -> None:
    async with make_client() as client:
        with COMMANDS.counting(settings.mongodb_database) as commands:
            response = await client.get(f"{STATS}?{query}")
    body = assert_problem(response, UNPROCESSABLE_CONTENT)
    [error] = body["errors"]
    assert error["field"] == "ids"
    assert error["message"].startswith(message), error["message"]
    assert commands == []


async def test_no_ids_parameter_is_400(make_client: MakeClient) -> None:
    async with make_client() as client:
        response = await client.get(STATS)
        other = await client.get(f"{STATS}?id=1")
    for answer in (response, other):
        body = assert_problem(answer, VALIDATION_FAILED)
        assert [error["field"] for error in body["errors"]] == ["ids"]


def test_parsing_keeps_the_first_of_duplicates_in_order() -> None:
    assert parse_thread_ids("3, 1,3 ,2,1") == [3, 1, 2]
    assert parse_thread_ids(str(2**63 - 1)) == [2**63 - 1]


def test_the_route_is_public_and_documented_with_its_problems() -> None:
    operation = openapi_document()["paths"][STATS]["get"]
    assert "security" not in operation
    assert sorted(s for s in operation["responses"] if s[0] in "45") == ["400", "422"]
    document = openapi_document()
    schema = document["components"]["schemas"]["ThreadStatsItem"]
    assert set(schema["required"]) == {
        "reply_count",
        "reaction_counts",
        "reaction_total",
        "last_reply_at",
    }
