"""A discussion through the gateway: a thread in core, nested replies and reactions in the
feature service, counters for the thread list, an accepted answer verified across both
services, and the thread's deletion hiding its replies."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from alephdraad_stack.stack import Stack

from .conftest import (
    assert_problem,
    create_thread,
    eventually,
    gateway_from,
    log_in,
    register_verified,
)


@pytest.fixture(scope="module")
def gateway(stack: Stack) -> Iterator[httpx.Client]:
    with gateway_from(stack, "127.0.0.8") as client:
        yield client


def member(gateway: httpx.Client, stack: Stack, prefix: str) -> dict[str, str]:
    username = f"{prefix}_{uuid.uuid4().hex[:8]}"
    register_verified(gateway, stack, username)
    return {"Authorization": f"Bearer {log_in(gateway, username)['access_token']}"}


def reply(
    gateway: httpx.Client, auth: dict[str, str], thread_id: int, text: str, parent: str | None
) -> dict[str, Any]:
    body: dict[str, Any] = {"content": text}
    if parent is not None:
        body["parent_reply_id"] = parent
    created = gateway.post(f"/api/v1/threads/{thread_id}/replies", json=body, headers=auth)
    assert created.status_code == 201, created.text
    answer: dict[str, Any] = created.json()
    return answer


def test_thread_replies_reactions_stats_accepted_answer_and_deletion(
    gateway: httpx.Client, stack: Stack
) -> None:
    author = member(gateway, stack, "asker")
    helper = member(gateway, stack, "helper")
    thread_id = create_thread(gateway, stack, author, "How do I repot a monstera?")

    # Nested replies: an answer, a question about it, and the answer's follow-up.
    answer = reply(gateway, helper, thread_id, "Use a pot one size up.", None)
    question = reply(gateway, author, thread_id, "Which soil?", answer["id"])
    follow_up = reply(gateway, helper, thread_id, "Chunky aroid mix.", question["id"])
    assert (answer["depth"], question["depth"], follow_up["depth"]) == (0, 1, 2)
    assert_problem(
        gateway.post(
            f"/api/v1/threads/{thread_id}/replies",
            json={"content": "x" * 5001},
            headers=helper,
        ),
        422,
        "UNPROCESSABLE_CONTENT",
    )
    assert_problem(
        gateway.post("/api/v1/threads/999999999/replies", json={"content": "?"}, headers=helper),
        404,
        "THREAD_NOT_FOUND",
    )

    top = gateway.get(f"/api/v1/threads/{thread_id}/replies").json()
    assert [item["id"] for item in top["items"]] == [answer["id"]]
    assert top["items"][0]["child_count"] == 1
    branch = gateway.get(
        f"/api/v1/threads/{thread_id}/replies", params={"parent_reply_id": answer["id"]}
    ).json()
    assert [item["id"] for item in branch["items"]] == [question["id"]]

    # Reactions, changed and counted.
    assert (
        gateway.put(
            f"/api/v1/threads/{thread_id}/reactions", json={"type": "like"}, headers=helper
        ).status_code
        == 200
    )
    assert (
        gateway.put(
            f"/api/v1/threads/{thread_id}/reactions", json={"type": "fire"}, headers=helper
        ).status_code
        == 200
    )
    assert (
        gateway.put(
            f"/api/v1/threads/{thread_id}/reactions", json={"type": "love"}, headers=author
        ).status_code
        == 200
    )
    summary = gateway.get(f"/api/v1/threads/{thread_id}/reactions", headers=helper).json()
    assert summary["total"] == 2
    assert summary["counts"]["fire"] == 1
    assert summary["counts"]["love"] == 1
    assert summary["counts"]["like"] == 0
    assert summary["mine"] == "fire"
    stats = gateway.get("/api/v1/threads/stats", params={"ids": f"{thread_id}"}).json()
    counters = stats["threads"][str(thread_id)]
    assert counters["reply_count"] == 3
    assert counters["reaction_total"] == 2

    # The author accepts the helper's answer: core asks the feature service about the reply.
    accepted = gateway.put(
        f"/api/v1/threads/{thread_id}/accepted-reply",
        json={"reply_id": answer["id"]},
        headers=author,
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["accepted_reply_id"] == answer["id"]
    assert_problem(
        gateway.put(
            f"/api/v1/threads/{thread_id}/accepted-reply",
            json={"reply_id": answer["id"]},
            headers=helper,
        ),
        404,
        "THREAD_NOT_FOUND",
    )

    # The helper deletes the accepted answer: its children keep a tombstone, and core clears
    # the accepted answer when the feature service's reply.deleted event arrives.
    assert (
        gateway.delete(
            f"/api/v1/threads/{thread_id}/replies/{answer['id']}", headers=helper
        ).status_code
        == 204
    )
    tombstone = gateway.get(f"/api/v1/threads/{thread_id}/replies").json()["items"][0]
    assert (tombstone["id"], tombstone["deleted"], tombstone["content"]) == (
        answer["id"],
        True,
        None,
    )
    eventually(
        lambda: (
            True
            if gateway.get(f"/api/v1/threads/{thread_id}").json()["accepted_reply_id"] is None
            else None
        ),
        "the accepted answer cleared by reply.deleted",
    )

    # The author deletes the thread: the feature service hides what hangs on it.
    assert gateway.delete(f"/api/v1/threads/{thread_id}", headers=author).status_code == 204
    eventually(
        lambda: (
            True
            if gateway.get(f"/api/v1/threads/{thread_id}/replies").json()["items"] == []
            else None
        ),
        "the replies hidden by thread.deleted",
    )
    assert_problem(
        gateway.post(
            f"/api/v1/threads/{thread_id}/replies", json={"content": "late"}, headers=helper
        ),
        404,
        "THREAD_NOT_FOUND",
    )
