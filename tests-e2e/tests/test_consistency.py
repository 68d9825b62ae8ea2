"""The two databases stay consistent through the outboxes (DESIGN section 7), across outages.

Events core writes in the same transaction as a change reach the feature service through
core's worker (the outbox dispatcher) over signed internal calls; the feature service records
each event id once. These tests read both databases directly to see that happen.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from pymongo import MongoClient
from pymongo.database import Database

from alephdraad_stack.stack import Stack

from .conftest import (
    PASSWORD,
    assert_problem,
    create_thread,
    eventually,
    gateway_from,
    log_in,
    register_verified,
)


@pytest.fixture(scope="module")
def gateway(stack: Stack) -> Iterator[httpx.Client]:
    """The gateway, reached from a loopback address of this module's own: core's per-IP rate
    limits (register, login) then count these tests apart from the other modules'."""
    with gateway_from(stack, "127.0.0.7") as client:
        yield client


@pytest.fixture(scope="module")
def postgres(stack: Stack) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(stack.info()["components"]["postgres"]["url"], autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def mongo(stack: Stack) -> Iterator[Database[dict[str, Any]]]:
    url = stack.info()["components"]["mongo"]["url"]
    name = stack.service_env().get("MONGODB_DATABASE", "alephdraad_features")
    with MongoClient(url, serverSelectionTimeoutMS=5000) as client:
        yield client[name]


def member(gateway: httpx.Client, stack: Stack) -> tuple[str, dict[str, str]]:
    """A verified member, logged in: (username, auth headers)."""
    username = f"c_{uuid.uuid4().hex[:10]}"
    register_verified(gateway, stack, username, "Consistency")
    return username, {"Authorization": f"Bearer {log_in(gateway, username)['access_token']}"}


def outbox_row(
    postgres: psycopg.Connection[Any], event_type: str, key: str, value: int
) -> tuple[str, str, int] | None:
    """(id, status, attempts) of the newest outbox event of this type about this id."""
    row = postgres.execute(
        "SELECT id, status, attempts FROM event_outbox WHERE type = %s "
        "AND (envelope->'data'->>%s)::bigint = %s ORDER BY id DESC LIMIT 1",
        (event_type, key, value),
    ).fetchone()
    return None if row is None else (row[0], row[1], row[2])


def delivered(postgres: psycopg.Connection[Any], event_id: str) -> bool | None:
    """True once the outbox marks `event_id` delivered (None until then, for `eventually`)."""
    row = postgres.execute("SELECT status FROM event_outbox WHERE id = %s", (event_id,)).fetchone()
    return True if row is not None and row[0] == "delivered" else None


def test_a_thread_deleted_while_the_feature_service_is_down_reaches_it_exactly_once(
    gateway: httpx.Client,
    stack: Stack,
    postgres: psycopg.Connection[Any],
    mongo: Database[dict[str, Any]],
) -> None:
    _, auth = member(gateway, stack)
    thread_id = create_thread(gateway, stack, auth, "Deleted during an outage")

    stack.stop_component("feature")
    try:
        deleted = gateway.delete(f"/api/v1/threads/{thread_id}", headers=auth)
        assert deleted.status_code == 204, deleted.text
        # The change is committed with its event; the worker tries, fails and backs off.
        event_id, _, _ = eventually(
            lambda: (
                row
                if (row := outbox_row(postgres, "thread.deleted", "thread_id", thread_id))
                and row[2] >= 1
                else None
            ),
            "a failed delivery attempt",
        )
        assert delivered(postgres, event_id) is None
        assert mongo.handled_events.count_documents({"_id": event_id}) == 0
    finally:
        stack.start_component("feature")

    eventually(lambda: delivered(postgres, event_id), "delivery after the feature service is back")
    handled = list(mongo.handled_events.find({"_id": event_id}))
    assert len(handled) == 1
    assert handled[0]["type"] == "thread.deleted"
    assert handled[0]["data"]["thread_id"] == thread_id

    # A dispatcher that crashed after delivering but before recording it delivers again:
    # the feature service recognises the id and nothing happens twice.
    postgres.execute(
        "UPDATE event_outbox SET status = 'pending', delivered_at = NULL, "
        "next_attempt_at = now() WHERE id = %s",
        (event_id,),
    )
    eventually(lambda: delivered(postgres, event_id), "the redelivery")
    assert mongo.handled_events.count_documents({"_id": event_id}) == 1


def test_a_member_deletes_their_account_through_the_gateway(
    gateway: httpx.Client,
    stack: Stack,
    postgres: psycopg.Connection[Any],
    mongo: Database[dict[str, Any]],
) -> None:
    username, auth = member(gateway, stack)
    sudo = gateway.post("/api/v1/auth/sudo", json={"password": PASSWORD}, headers=auth)
    assert sudo.status_code == 200, sudo.text
    sudo_auth = {**auth, "X-Sudo-Token": sudo.json()["sudo_token"]}
    user_id = gateway.get("/api/v1/me", headers=auth).json()["id"]

    refused = gateway.request(
        "DELETE", "/api/v1/me", json={"confirmation": "delete"}, headers=sudo_auth
    )
    assert refused.status_code in (400, 422), refused.text

    # With the feature service away the deletion cannot be checked: refused, nothing changed.
    stack.stop_component("feature")
    try:
        unavailable = gateway.request(
            "DELETE", "/api/v1/me", json={"confirmation": "DELETE"}, headers=sudo_auth
        )
        assert_problem(unavailable, 503, "UPSTREAM_UNAVAILABLE")
        assert int(unavailable.headers["retry-after"]) > 0
    finally:
        stack.start_component("feature")
    assert gateway.get("/api/v1/me", headers=auth).status_code == 200

    deleted = gateway.request(
        "DELETE", "/api/v1/me", json={"confirmation": "DELETE"}, headers=sudo_auth
    )
    assert deleted.status_code == 204, deleted.text

    assert_problem(gateway.get("/api/v1/me", headers=auth), 401, "AUTH_SESSION_REVOKED")
    login = gateway.post("/api/v1/auth/login", json={"login": username, "password": PASSWORD})
    assert login.status_code == 401, login.text
    assert gateway.get(f"/api/v1/users/{username}").status_code == 404
    row = postgres.execute(
        "SELECT username, email, deleted_at IS NOT NULL FROM users WHERE id = %s", (user_id,)
    ).fetchone()
    assert row is not None
    assert row[0] != username
    assert username not in row[1]
    assert row[2] is True

    event_id, _, _ = eventually(
        lambda: (
            row
            if (row := outbox_row(postgres, "user.deleted", "user_id", user_id))
            and row[1] == "delivered"
            else None
        ),
        "user.deleted delivered",
    )
    assert mongo.handled_events.count_documents({"_id": event_id, "type": "user.deleted"}) == 1

    # The name and address are free again.
    register_verified(gateway, stack, username, "Again")
    assert log_in(gateway, username)["user"]["id"] != user_id
