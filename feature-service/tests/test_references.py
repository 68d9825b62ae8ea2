"""Failing closed: a write that refers to core ids checks them with core first, or writes nothing.

No public write route exists yet (replies come next), so a test-only route plays one: it
checks the thread and the author with `require_live_references`, then inserts a document.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from core_stub import CoreStub
from litestar import Request, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from pydantic import BaseModel
from support import MakeClient, assert_problem

from alephdraad_contracts import UPSTREAM_UNAVAILABLE
from alephdraad_feature.internal.core_client import CoreClient
from alephdraad_feature.internal.errors import (
    THREAD_NOT_FOUND,
    USER_LOCKED,
    USER_NOT_FOUND,
    ThreadNotFound,
    UserLocked,
    UserNotFound,
)
from alephdraad_feature.internal.references import (
    require_active_user,
    require_active_username,
    require_live_references,
    require_live_thread,
)
from alephdraad_feature.platform.db import MongoDatabase, get_mongo
from alephdraad_feature.settings import Settings

NOTES = "test_reference_notes"


class NoteIn(BaseModel):
    user_id: int
    text: str


@post("/test/threads/{thread_id:int}/notes", status_code=201)
async def create_note(
    request: Request[Any, Any, Any],
    thread_id: FromPath[int],
    data: JSONBody[NoteIn],
    core_client: NamedDependency[CoreClient],
) -> dict[str, Any]:
    """Test-only: the shape of every future write that refers to core ids."""
    await require_live_references(core_client, thread_ids=[thread_id], user_ids=[data.user_id])
    note = {
        "_id": uuid.uuid4().hex,
        "threadId": thread_id,
        "userId": data.user_id,
        "text": data.text,
    }
    await get_mongo(request.app).database[NOTES].insert_one(note)
    return {"id": note["_id"]}


async def _notes(mongo: MongoDatabase, text: str) -> list[dict[str, Any]]:
    return await mongo.database[NOTES].find({"text": text}).to_list()


def _text() -> str:
    return f"note-{uuid.uuid4().hex}"


async def test_a_write_with_live_ids_is_checked_in_one_call_then_written(
    core_stub: CoreStub, make_client: MakeClient, mongo: MongoDatabase
) -> None:
    core_stub.add_thread(123)
    core_stub.add_user(456, "alice")
    text = _text()
    async with make_client([create_note], **core_stub.settings_overrides()) as client:
        response = await client.post("/test/threads/123/notes", json={"user_id": 456, "text": text})
    assert response.status_code == 201, response.text
    notes = await _notes(mongo, text)
    assert [(note["_id"], note["threadId"], note["userId"]) for note in notes] == [
        (response.json()["id"], 123, 456)
    ]
    assert [r.json for r in core_stub.requests_to("POST", "/internal/v1/lookup")] == [
        {"user_ids": [456], "thread_ids": [123]}
    ]


@pytest.mark.parametrize(
    ("thread", "user", "problem"),
    [
        ({"deleted": True}, {}, THREAD_NOT_FOUND),
        (None, {}, THREAD_NOT_FOUND),
        ({}, {"locked": True}, USER_LOCKED),
        ({}, {"deleted": True}, USER_NOT_FOUND),
        ({}, None, USER_NOT_FOUND),
    ],
    ids=["thread-deleted", "thread-missing", "user-locked", "user-deleted", "user-missing"],
)
async def test_a_write_on_unusable_ids_is_refused_and_nothing_written(
    core_stub: CoreStub,
    make_client: MakeClient,
    mongo: MongoDatabase,
    thread: dict[str, Any] | None,
    user: dict[str, Any] | None,
    problem: Any,
) -> None:
    if thread is not None:
        core_stub.add_thread(123, **thread)
    if user is not None:
        core_stub.add_user(456, "alice", **user)
    text = _text()
    async with make_client([create_note], **core_stub.settings_overrides()) as client:
        response = await client.post("/test/threads/123/notes", json={"user_id": 456, "text": text})
    assert_problem(response, problem)
    assert await _notes(mongo, text) == []


async def test_core_down_is_503_with_retry_after_and_nothing_written(
    core_stub: CoreStub, make_client: MakeClient, mongo: MongoDatabase
) -> None:
    core_stub.add_thread(123)
    core_stub.add_user(456, "alice")
    core_stub.stop()
    text = _text()
    async with make_client([create_note], **core_stub.settings_overrides()) as client:
        response = await client.post("/test/threads/123/notes", json={"user_id": 456, "text": text})
    body = assert_problem(response, UPSTREAM_UNAVAILABLE)
    assert response.headers["retry-after"] == "5"
    assert body["upstream"] == "core-service"
    assert await _notes(mongo, text) == []


async def test_no_signing_key_is_503_and_nothing_written(
    make_client: MakeClient, mongo: MongoDatabase
) -> None:
    text = _text()
    async with make_client([create_note]) as client:
        response = await client.post("/test/threads/123/notes", json={"user_id": 456, "text": text})
    assert_problem(response, UPSTREAM_UNAVAILABLE)
    assert response.headers["retry-after"] == "5"
    assert await _notes(mongo, text) == []


async def test_the_helpers_directly(core_stub: CoreStub, settings: Settings) -> None:
    core_stub.add_thread(1)
    core_stub.add_thread(2, deleted=True)
    core_stub.add_user(10, "Active")
    core_stub.add_user(11, "Locked", locked=True)
    client = CoreClient.from_settings(
        Settings(**{**settings.model_dump(), **core_stub.settings_overrides()})
    )
    try:
        assert (await require_live_thread(client, 1)).thread_id == 1
        with pytest.raises(ThreadNotFound):
            await require_live_thread(client, 2)
        assert (await require_active_user(client, 10)).username == "Active"
        with pytest.raises(UserLocked):
            await require_active_user(client, 11)
        with pytest.raises(UserNotFound):
            await require_active_user(client, 12)
        assert (await require_active_username(client, "active")).user_id == 10
        with pytest.raises(UserLocked):
            await require_active_username(client, "LOCKED")
        with pytest.raises(UserNotFound):
            await require_active_username(client, "nobody")
    finally:
        await client.aclose()
