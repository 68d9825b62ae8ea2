"""POST /internal/v1/lookup: what core asks about feature ids before referring to them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from internal_support import Clock, internal_client, signed
from support import assert_problem

from alephdraad_contracts import UNPROCESSABLE_CONTENT, VALIDATION_FAILED, new_ulid
from alephdraad_feature.internal.lookups import (
    ReplyState,
    register_reply_source,
    unregister_reply_source,
)
from alephdraad_feature.settings import Settings

LOOKUP = "/internal/v1/lookup"


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _reply_id() -> str:
    return f"rpl_{new_ulid()}"


async def _lookup(settings: Settings, clock: Clock, body: Any) -> Any:
    async with internal_client(settings, clock) as client:
        return await client.send(signed("POST", LOOKUP, body=body, created=clock.now))


async def test_unknown_reply_ids_are_reported_missing(settings: Settings, clock: Clock) -> None:
    first, second = _reply_id(), _reply_id()
    response = await _lookup(settings, clock, {"reply_ids": [first, second, first]})
    assert response.status_code == 200, response.text
    missing = {"exists": False, "deleted": False, "thread_id": None, "author_id": None}
    assert response.json() == {"replies": {first: missing, second: missing}}


async def test_an_empty_request_gets_an_empty_answer(settings: Settings, clock: Clock) -> None:
    response = await _lookup(settings, clock, {})
    assert response.status_code == 200, response.text
    assert response.json() == {"replies": {}}


async def test_a_registered_source_answers_for_the_ids_it_knows(
    settings: Settings, clock: Clock
) -> None:
    known, deleted, unknown = _reply_id(), _reply_id(), _reply_id()
    asked: list[list[str]] = []

    async def replies(reply_ids: Sequence[str]) -> Mapping[str, ReplyState]:
        asked.append(list(reply_ids))
        return {
            known: ReplyState(exists=True, deleted=False, thread_id=123, author_id=456),
            deleted: ReplyState(exists=True, deleted=True, thread_id=123, author_id=457),
        }

    register_reply_source(replies)
    try:
        response = await _lookup(settings, clock, {"reply_ids": [known, deleted, unknown]})
    finally:
        unregister_reply_source(replies)
    assert response.status_code == 200, response.text
    assert response.json()["replies"] == {
        known: {"exists": True, "deleted": False, "thread_id": 123, "author_id": 456},
        deleted: {"exists": True, "deleted": True, "thread_id": 123, "author_id": 457},
        unknown: {"exists": False, "deleted": False, "thread_id": None, "author_id": None},
    }
    # One call for all ids: the source reads them in one query.
    assert asked == [[known, deleted, unknown]]


@pytest.mark.parametrize(
    ("body", "problem", "field"),
    [
        ({"reply_ids": ["rpl_nope"]}, UNPROCESSABLE_CONTENT, "reply_ids.0"),
        ({"reply_ids": [f"rpl_{new_ulid().lower()}"]}, UNPROCESSABLE_CONTENT, "reply_ids.0"),
        ({"reply_ids": [f"thr_{new_ulid()}"]}, UNPROCESSABLE_CONTENT, "reply_ids.0"),
        (
            {"reply_ids": [f"rpl_{new_ulid()}" for _ in range(101)]},
            UNPROCESSABLE_CONTENT,
            "reply_ids",
        ),
        ({"reply_ids": "rpl_x"}, VALIDATION_FAILED, "reply_ids"),
        ({"reply_ids": [5]}, VALIDATION_FAILED, "reply_ids.0"),
        ({"thread_ids": [1]}, VALIDATION_FAILED, "thread_ids"),
        ([], VALIDATION_FAILED, "body"),
    ],
    ids=[
        "bad-id",
        "lower-case",
        "wrong-prefix",
        "101-ids",
        "not-a-list",
        "not-a-string",
        "unknown-field",
        "not-an-object",
    ],
)
async def test_bad_input_is_refused_with_the_field(
    settings: Settings, clock: Clock, body: Any, problem: Any, field: str
) -> None:
    response = await _lookup(settings, clock, body)
    problem_body = assert_problem(response, problem)
    assert [error["field"] for error in problem_body["errors"]] == [field]


async def test_100_ids_are_accepted(settings: Settings, clock: Clock) -> None:
    ids = [_reply_id() for _ in range(100)]
    response = await _lookup(settings, clock, {"reply_ids": ids})
    assert response.status_code == 200, response.text
    assert len(response.json()["replies"]) == 100


async def test_unsigned_lookup_is_refused(settings: Settings, clock: Clock) -> None:
    async with internal_client(settings, clock) as client:
        response = await client.post(LOOKUP, json={"reply_ids": []})
    assert response.status_code == 401
