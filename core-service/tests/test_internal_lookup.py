"""What core tells the other services about its ids, over signed internal calls."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from alephdraad_core.authn.models import Session
from alephdraad_core.internal.schemas import MAX_LOOKUP_IDS
from tests.conftest import BAD_SHAPE, BROKEN_RULE, assert_problem
from tests.content_helpers import make_member, make_thread
from tests.internal_support import INTERNAL, accept_feature_keys, call

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _accept_feature_keys(settings: Any) -> None:
    accept_feature_keys(settings)


LOOKUP = f"{INTERNAL}/lookup"


def _ok(response: Any) -> Any:
    assert response.status_code == 200, response.content
    return json.loads(response.content)


def _session(user: Any, fingerprint: str | None, **fields: Any) -> Session:
    values: dict[str, Any] = {
        "user": user,
        "device_fingerprint": fingerprint,
        "amr": ["pwd"],
        "expires_at": timezone.now() + timedelta(days=7),
        **fields,
    }
    return Session.objects.create(**values)


# --- lookup -----------------------------------------------------------------------------------


def test_lookup_reports_each_id_in_a_fixed_number_of_queries(
    client: Client, django_assert_num_queries: Any
) -> None:
    alice = make_member("alice")
    locked = make_member("locked_lee", is_locked=True)
    expired_lock = make_member(
        "was_locked", is_locked=True, locked_until=timezone.now() - timedelta(minutes=1)
    )
    live = make_thread(alice)
    gone = make_thread(locked, deleted=True)
    missing = 10**12
    body = {
        "user_ids": [alice.pk, locked.pk, expired_lock.pk, missing],
        "usernames": ["Alice", "locked_lee", "nobody_here"],
        "thread_ids": [live.pk, gone.pk, missing],
    }

    # The nonce insert, one query for users (ids and names together), one for threads.
    with django_assert_num_queries(3):
        answer = _ok(call(client, "POST", LOOKUP, body))

    assert answer["users"] == {
        str(alice.pk): {"exists": True, "username": "alice", "locked": False, "deleted": False},
        str(locked.pk): {
            "exists": True,
            "username": "locked_lee",
            "locked": True,
            "deleted": False,
        },
        str(expired_lock.pk): {
            "exists": True,
            "username": "was_locked",
            "locked": False,
            "deleted": False,
        },
        str(missing): {"exists": False, "username": None, "locked": False, "deleted": False},
    }
    assert answer["usernames"] == {
        "Alice": {"exists": True, "user_id": alice.pk, "locked": False},
        "locked_lee": {"exists": True, "user_id": locked.pk, "locked": True},
        "nobody_here": {"exists": False, "user_id": None, "locked": False},
    }
    assert answer["threads"] == {
        str(live.pk): {
            "exists": True,
            "deleted": False,
            "author_id": alice.pk,
            "category_slug": "general",
        },
        str(gone.pk): {
            "exists": True,
            "deleted": True,
            "author_id": locked.pk,
            "category_slug": "general",
        },
        str(missing): {"exists": False, "deleted": False, "author_id": None, "category_slug": None},
    }


def test_query_count_does_not_grow_with_the_number_of_ids(
    client: Client, django_assert_num_queries: Any
) -> None:
    users = [make_member() for _ in range(5)]
    threads = [make_thread(user) for user in users]
    with django_assert_num_queries(3):
        answer = _ok(
            call(
                client,
                "POST",
                LOOKUP,
                {
                    "user_ids": [user.pk for user in users],
                    "usernames": [user.username for user in users],
                    "thread_ids": [thread.pk for thread in threads],
                },
            )
        )
    assert len(answer["users"]) == len(answer["usernames"]) == len(answer["threads"]) == 5


def test_an_empty_lookup_answers_empty_maps(client: Client) -> None:
    assert _ok(call(client, "POST", LOOKUP, {})) == {"users": {}, "usernames": {}, "threads": {}}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"user_ids": list(range(1, MAX_LOOKUP_IDS + 2))}, BROKEN_RULE),
        ({"thread_ids": ["one"]}, BAD_SHAPE),
        ({"usernames": [7]}, BAD_SHAPE),
        ({"reply_ids": [1]}, BAD_SHAPE),
    ],
)
def test_a_bad_lookup_body_is_refused(
    client: Client, body: dict[str, Any], expected: tuple[int, str]
) -> None:
    assert_problem(call(client, "POST", LOOKUP, body), *expected)


# --- sessions ---------------------------------------------------------------------------------


def test_a_live_session_is_active(client: Client) -> None:
    user = make_member()
    session = _session(user, None)
    answer = _ok(call(client, "GET", f"{INTERNAL}/sessions/{session.pk}"))
    assert answer == {"active": True, "user_id": user.pk}


@pytest.mark.parametrize(
    "ended",
    [
        {"is_revoked": True},
        {"expires_at": timezone.now() - timedelta(seconds=1)},
    ],
)
def test_an_ended_session_is_not_active(client: Client, ended: dict[str, Any]) -> None:
    session = _session(make_member(), None, **ended)
    answer = _ok(call(client, "GET", f"{INTERNAL}/sessions/{session.pk}"))
    assert answer == {"active": False, "user_id": None}


def test_a_session_of_a_locked_user_is_not_active(client: Client) -> None:
    session = _session(make_member(is_locked=True), None)
    answer = _ok(call(client, "GET", f"{INTERNAL}/sessions/{session.pk}"))
    assert answer == {"active": False, "user_id": None}


@pytest.mark.parametrize("sid", [str(uuid.uuid4()), "not-a-uuid", "123"])
def test_an_unknown_or_malformed_session_is_not_active(client: Client, sid: str) -> None:
    answer = _ok(call(client, "GET", f"{INTERNAL}/sessions/{sid}"))
    assert answer == {"active": False, "user_id": None}


# --- device hashes ----------------------------------------------------------------------------


def test_device_hashes_are_the_distinct_recent_fingerprints(client: Client) -> None:
    user = make_member()
    other = make_member()
    now = timezone.now()
    _session(user, "a" * 64)
    _session(user, "a" * 64, is_revoked=True)
    _session(user, "b" * 64, last_active_at=now - timedelta(days=89))
    _session(user, "c" * 64, last_active_at=now - timedelta(days=91))
    _session(user, None)
    _session(other, "d" * 64)

    answer = _ok(call(client, "GET", f"{INTERNAL}/users/{user.pk}/device-hashes"))

    assert answer == {"hashes": ["a" * 64, "b" * 64]}


def test_device_hashes_of_an_unknown_user_are_not_found(client: Client) -> None:
    response = call(client, "GET", f"{INTERNAL}/users/{10**12}/device-hashes")
    assert_problem(response, 404, "USER_NOT_FOUND")
