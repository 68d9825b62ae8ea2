"""The admin users API: search, detail with sessions, lock, unlock, revoke sessions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from alephdraad_core.accounts.models import User
from alephdraad_core.admins.models import Admin
from alephdraad_core.authn.models import Session
from alephdraad_core.security.models import SecurityEvent
from tests.admins_helpers import (
    admin_token,
    bearer,
    get,
    iso_z,
    make_admin,
    make_session,
    make_user,
    post_json,
    user_token,
)
from tests.admins_urls import USER_ENDPOINT
from tests.conftest import BAD_SHAPE, BROKEN_RULE, assert_problem

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.admins_urls")]

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
ITEM_FIELDS = {
    "id",
    "email",
    "username",
    "full_name",
    "is_verified",
    "is_locked",
    "locked_reason",
    "locked_until",
    "totp_enabled",
    "created_at",
}


@pytest.fixture
def admin() -> Admin:
    return make_admin()


@pytest.fixture
def token(admin: Admin) -> str:
    return admin_token(admin)


def _usernames(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["username"] for item in response.json()["items"]]


# GET /admin/users


def test_list_item_shape_and_newest_first(client: Client, token: str) -> None:
    older = make_user("older_one", created_at=T0, full_name="Older One", is_verified=True)
    newer = make_user("newer_one", created_at=T0 + timedelta(hours=1), totp_enabled=True)

    response = get(client, "/users", token=token)

    assert response.status_code == 200
    body = response.json()
    assert body["next_cursor"] is None
    assert body["items"] == [
        {
            "id": newer.pk,
            "email": "newer_one@example.com",
            "username": "newer_one",
            "full_name": "",
            "is_verified": False,
            "is_locked": False,
            "locked_reason": "",
            "locked_until": None,
            "totp_enabled": True,
            "created_at": "2026-05-01T13:00:00Z",
        },
        {
            "id": older.pk,
            "email": "older_one@example.com",
            "username": "older_one",
            "full_name": "Older One",
            "is_verified": True,
            "is_locked": False,
            "locked_reason": "",
            "locked_until": None,
            "totp_enabled": False,
            "created_at": "2026-05-01T12:00:00Z",
        },
    ]
    assert "password" not in response.content.decode()


def test_search_is_a_case_insensitive_prefix_of_email_or_username(
    client: Client, token: str
) -> None:
    make_user("alice_w", email="Alice.Wong@Example.com", created_at=T0)
    make_user("bob_a", email="alicia@example.org", created_at=T0 + timedelta(minutes=1))
    make_user("carol", email="carol@example.com", created_at=T0 + timedelta(minutes=2))
    make_user("xalice", email="x@example.com", created_at=T0 + timedelta(minutes=3))

    assert _usernames(get(client, "/users", token=token, q="ALI")) == ["bob_a", "alice_w"]
    assert _usernames(get(client, "/users", token=token, q="alice.w")) == ["alice_w"]
    assert _usernames(get(client, "/users", token=token, q="car")) == ["carol"]
    assert _usernames(get(client, "/users", token=token, q="bob_")) == ["bob_a"]
    # A prefix, not a substring; and LIKE wildcards in the term are literal.
    assert _usernames(get(client, "/users", token=token, q="lice")) == []
    assert _usernames(get(client, "/users", token=token, q="%")) == []
    assert _usernames(get(client, "/users", token=token, q="_")) == []
    assert len(_usernames(get(client, "/users", token=token, q="  "))) == 4


def test_pages_have_no_duplicates_or_gaps_when_users_register_meanwhile(
    client: Client, token: str
) -> None:
    for i in range(25):
        make_user(f"member_{i:02d}", created_at=T0 + timedelta(minutes=i))
    expected = [f"member_{i:02d}" for i in reversed(range(25))]

    first = get(client, "/users", token=token, limit=10)
    for i in range(3):
        make_user(f"late_{i}", created_at=timezone.now())
    second = get(client, "/users", token=token, limit=10, cursor=first.json()["next_cursor"])
    make_user("later_still", created_at=timezone.now())
    third = get(client, "/users", token=token, limit=10, cursor=second.json()["next_cursor"])

    seen = _usernames(first) + _usernames(second) + _usernames(third)
    assert seen == expected
    assert third.json()["next_cursor"] is None


def test_search_and_cursor_combine(client: Client, token: str) -> None:
    for i in range(5):
        make_user(f"team_{i}", created_at=T0 + timedelta(minutes=i))
        make_user(f"other_{i}", created_at=T0 + timedelta(minutes=i, seconds=30))

    first = get(client, "/users", token=token, q="team", limit=3)
    second = get(
        client, "/users", token=token, q="team", limit=3, cursor=first.json()["next_cursor"]
    )

    assert _usernames(first) + _usernames(second) == [f"team_{i}" for i in reversed(range(5))]


def test_query_budget_list_of_20_users(
    client: Client, token: str, django_assert_num_queries: Any
) -> None:
    for i in range(30):
        make_user(f"budget_{i:02d}")
        # Sessions must not be loaded per user (no N+1).
    for user in User.objects.all()[:10]:
        make_session(user)

    # 1: the admin behind the token; 2: one page of users (LIMIT 21).
    with django_assert_num_queries(2):
        response = get(client, "/users", token=token)

    assert len(response.json()["items"]) == 20
    with django_assert_num_queries(2):
        get(client, "/users", token=token, q="budget_1", cursor=response.json()["next_cursor"])


@pytest.mark.parametrize(
    ("params", "field", "expected"),
    [
        ({"limit": "0"}, "limit", BROKEN_RULE),
        ({"limit": "101"}, "limit", BROKEN_RULE),
        ({"limit": "ten"}, "limit", BAD_SHAPE),
        ({"cursor": "garbage"}, "cursor", BAD_SHAPE),
        ({"page": "2"}, "page", BAD_SHAPE),
        ({"q": "x" * 255}, "q", BROKEN_RULE),
    ],
)
def test_bad_query_parameters_are_a_4xx_naming_the_parameter(
    client: Client, token: str, params: dict[str, str], field: str, expected: tuple[int, str]
) -> None:
    response = get(client, "/users", token=token, **params)

    body = assert_problem(response, *expected)
    assert [error["field"] for error in body["errors"]] == [field]


def test_tampered_cursor_is_400(client: Client, token: str) -> None:
    for i in range(3):
        make_user(f"member_{i}", created_at=T0 + timedelta(minutes=i))
    cursor = get(client, "/users", token=token, limit=1).json()["next_cursor"]
    tampered = cursor[:10] + ("A" if cursor[10] != "A" else "B") + cursor[11:]

    body = assert_problem(
        get(client, "/users", token=token, cursor=tampered), 400, "VALIDATION_FAILED"
    )
    assert body["errors"] == [
        {"field": "cursor", "message": "Invalid cursor; start again from the first page."}
    ]


def test_cursor_of_another_list_is_400(client: Client, token: str) -> None:
    for _ in range(3):
        SecurityEvent.objects.create(event_type="login_failed")
    events_cursor = get(client, "/security-events", token=token, limit=1).json()["next_cursor"]

    response = get(client, "/users", token=token, cursor=events_cursor)

    assert_problem(response, 400, "VALIDATION_FAILED")


# GET /admin/users/{id}


def test_detail_has_the_user_and_only_live_sessions(
    client: Client, token: str, django_assert_num_queries: Any
) -> None:
    user = make_user("watched", created_at=T0)
    now = timezone.now()
    older = make_session(user, created_at=now - timedelta(hours=2), ip_address="2001:db8::1")
    newer = make_session(user, created_at=now - timedelta(hours=1), user_agent="Safari/18")
    make_session(user, is_revoked=True, revoked_at=now)
    make_session(user, expires_at=now - timedelta(seconds=1))
    make_session(make_user("someone_else"))

    with django_assert_num_queries(3):  # the admin, the user, the sessions
        response = get(client, f"/users/{user.pk}", token=token)

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == ITEM_FIELDS | {"sessions"}
    assert body["id"] == user.pk
    assert body["username"] == "watched"
    assert [s["id"] for s in body["sessions"]] == [str(newer.pk), str(older.pk)]
    assert body["sessions"][0] == {
        "id": str(newer.pk),
        "ip_address": "203.0.113.7",
        "user_agent": "Safari/18",
        "created_at": iso_z(newer.created_at),
        "last_active_at": iso_z(newer.last_active_at),
        "expires_at": iso_z(newer.expires_at),
    }
    assert body["sessions"][1]["ip_address"] == "2001:db8::1"
    assert body["sessions"][0]["expires_at"].endswith("Z")


@pytest.mark.parametrize("user_id", ["999999", "9223372036854775807", "99999999999999999999"])
def test_unknown_user_is_404(client: Client, token: str, user_id: str) -> None:
    body = assert_problem(get(client, f"/users/{user_id}", token=token), 404, "USER_NOT_FOUND")
    assert body["detail"] == f"There is no user {user_id}."


@pytest.mark.parametrize("path", ["/users/abc", "/users/-1", "/users/1/"])
def test_non_numeric_user_ids_do_not_route(client: Client, token: str, path: str) -> None:
    assert_problem(get(client, path, token=token), 404, "NOT_FOUND")


# POST /admin/users/{id}/lock


def test_asvs_7_4_2_lock_revokes_every_session_and_refuses_the_token(
    client: Client, admin: Admin, token: str
) -> None:
    user = make_user("troll")
    sessions = [make_session(user) for _ in range(3)]
    access_token = user_token(user, sessions[0])
    bystander = make_user("bystander")
    bystander_session = make_session(bystander)
    assert client.get(USER_ENDPOINT, **bearer(access_token)).status_code == 200

    response = post_json(client, f"/users/{user.pk}/lock", {"reason": "spam wave"}, token=token)

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == ITEM_FIELDS
    assert body["id"] == user.pk
    assert body["is_locked"] is True
    assert body["locked_reason"] == "spam wave"
    assert body["locked_until"] is None
    user.refresh_from_db()
    assert (user.is_locked, user.locked_reason, user.locked_until) == (True, "spam wave", None)
    for session in sessions:
        session.refresh_from_db()
        assert session.is_revoked
        assert session.revoked_reason == "admin_lock"
        assert session.revoked_at is not None
    bystander_session.refresh_from_db()
    assert not bystander_session.is_revoked
    # The session is revoked before the lock is even looked at: 401, not 403.
    refused = client.get(USER_ENDPOINT, **bearer(access_token))
    assert_problem(refused, 401, "AUTH_SESSION_REVOKED")


def test_a_session_created_after_the_lock_is_refused_as_locked(client: Client, token: str) -> None:
    user = make_user("troll")
    until = timezone.now() + timedelta(days=3)
    post_json(
        client,
        f"/users/{user.pk}/lock",
        {"reason": "cool-off", "until": until.isoformat()},
        token=token,
    )
    late_session = make_session(user)  # e.g. a login that raced the lock

    response = client.get(USER_ENDPOINT, **bearer(user_token(user, late_session)))

    body = assert_problem(response, 403, "AUTH_ACCOUNT_LOCKED")
    assert "cool-off" in body["detail"]


def test_lock_until_a_moment(client: Client, token: str) -> None:
    user = make_user("timed_out")
    until = datetime(2099, 1, 2, 3, 4, 5, tzinfo=UTC)

    response = post_json(
        client,
        f"/users/{user.pk}/lock",
        {"reason": "one week off", "until": "2099-01-02T03:04:05Z"},
        token=token,
    )

    assert response.status_code == 200, response.content
    assert response.json()["locked_until"] == "2099-01-02T03:04:05Z"
    user.refresh_from_db()
    assert user.locked_until == until
    listed = get(client, "/users", token=token).json()["items"][0]
    assert (listed["is_locked"], listed["locked_until"]) == (True, "2099-01-02T03:04:05Z")


def test_a_lock_that_has_ended_is_shown_as_unlocked(client: Client, token: str) -> None:
    user = make_user("past_lock")
    User.objects.filter(pk=user.pk).update(
        is_locked=True, locked_reason="old", locked_until=timezone.now() - timedelta(minutes=1)
    )

    body = get(client, f"/users/{user.pk}", token=token).json()

    assert (body["is_locked"], body["locked_reason"], body["locked_until"]) == (False, "", None)


def test_locking_again_replaces_reason_and_end(client: Client, token: str) -> None:
    user = make_user("repeat")
    post_json(
        client,
        f"/users/{user.pk}/lock",
        {"reason": "first", "until": "2099-01-01T00:00:00Z"},
        token=token,
    )

    response = post_json(
        client, f"/users/{user.pk}/lock", {"reason": "second", "until": None}, token=token
    )

    assert response.status_code == 200
    user.refresh_from_db()
    assert (user.locked_reason, user.locked_until) == ("second", None)
    assert SecurityEvent.objects.filter(event_type="admin_user_locked").count() == 2


@pytest.mark.parametrize(
    ("body", "fields", "expected"),
    [
        ({}, {"reason"}, BAD_SHAPE),
        ({"reason": ""}, {"reason"}, BROKEN_RULE),
        ({"reason": "   "}, {"reason"}, BROKEN_RULE),
        ({"reason": "x" * 501}, {"reason"}, BROKEN_RULE),
        ({"reason": 42}, {"reason"}, BAD_SHAPE),
        ({"reason": ["spam"]}, {"reason"}, BAD_SHAPE),
        ({"reason": "spam", "until": "2001-01-01T00:00:00Z"}, {"until"}, BROKEN_RULE),
        ({"reason": "spam", "until": "tomorrow"}, {"until"}, BAD_SHAPE),
        ({"reason": "spam", "until": 1893456000}, {"until"}, BAD_SHAPE),
        ({"reason": "spam", "notify": True}, {"notify"}, BAD_SHAPE),
        ([], {""}, BAD_SHAPE),
    ],
)
def test_bad_lock_input_is_a_4xx_and_changes_nothing(
    client: Client, token: str, body: Any, fields: set[str], expected: tuple[int, str]
) -> None:
    user = make_user("target")
    session = make_session(user)

    response = post_json(client, f"/users/{user.pk}/lock", body, token=token)

    problem = assert_problem(response, *expected)
    assert {error["field"] for error in problem["errors"]} == fields
    user.refresh_from_db()
    session.refresh_from_db()
    assert not user.is_locked
    assert not session.is_revoked
    assert not SecurityEvent.objects.exists()


def test_malformed_json_lock_body_is_400(client: Client, token: str) -> None:
    user = make_user("target")

    response = post_json(client, f"/users/{user.pk}/lock", '{"reason": "x"', token=token)

    assert_problem(response, 400, "MALFORMED_REQUEST")


def test_reason_of_500_characters_is_accepted(client: Client, token: str) -> None:
    user = make_user("target")

    response = post_json(client, f"/users/{user.pk}/lock", {"reason": "r" * 500}, token=token)

    assert response.status_code == 200
    assert response.json()["locked_reason"] == "r" * 500


def test_lock_unknown_user_is_404(client: Client, token: str) -> None:
    response = post_json(client, "/users/424242/lock", {"reason": "spam"}, token=token)

    assert_problem(response, 404, "USER_NOT_FOUND")
    assert not SecurityEvent.objects.exists()


# POST /admin/users/{id}/unlock


def test_unlock_lifts_the_lock(client: Client, token: str) -> None:
    user = make_user("forgiven")
    post_json(client, f"/users/{user.pk}/lock", {"reason": "spam"}, token=token)

    response = post_json(client, f"/users/{user.pk}/unlock", token=token)

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["is_locked"], body["locked_reason"], body["locked_until"]) == (False, "", None)
    user.refresh_from_db()
    assert (user.is_locked, user.locked_reason, user.locked_until) == (False, "", None)
    # A new login works again (the old sessions stay revoked).
    fresh = make_session(user)
    assert client.get(USER_ENDPOINT, **bearer(user_token(user, fresh))).status_code == 200


def test_unlock_accepts_an_empty_object_and_refuses_fields(client: Client, token: str) -> None:
    user = make_user("forgiven")

    assert post_json(client, f"/users/{user.pk}/unlock", {}, token=token).status_code == 200
    response = post_json(client, f"/users/{user.pk}/unlock", {"reason": "x"}, token=token)
    assert_problem(response, 400, "VALIDATION_FAILED")


def test_unlock_unknown_user_is_404(client: Client, token: str) -> None:
    assert_problem(post_json(client, "/users/424242/unlock", token=token), 404, "USER_NOT_FOUND")


# POST /admin/users/{id}/sessions/revoke


def test_asvs_7_4_5_admin_revokes_all_sessions_of_a_user(client: Client, token: str) -> None:
    user = make_user("compromised")
    live = [make_session(user) for _ in range(2)]
    make_session(user, is_revoked=True, revoked_at=timezone.now(), revoked_reason="logout")
    other = make_session(make_user("unrelated"))
    access_token = user_token(user, live[0])

    response = post_json(client, f"/users/{user.pk}/sessions/revoke", token=token)

    assert response.status_code == 200, response.content
    assert response.json() == {"revoked": 2}
    assert Session.objects.filter(user=user, is_revoked=False).count() == 0
    assert Session.objects.filter(user=user, revoked_reason="admin_revoke").count() == 2
    assert Session.objects.filter(user=user, revoked_reason="logout").count() == 1
    other.refresh_from_db()
    assert not other.is_revoked
    user.refresh_from_db()
    assert not user.is_locked  # revoking is not locking
    assert_problem(client.get(USER_ENDPOINT, **bearer(access_token)), 401, "AUTH_SESSION_REVOKED")
    # Nothing left to revoke the second time.
    again = post_json(client, f"/users/{user.pk}/sessions/revoke", token=token)
    assert again.json() == {"revoked": 0}


def test_revoke_unknown_user_is_404(client: Client, token: str) -> None:
    response = post_json(client, "/users/424242/sessions/revoke", token=token)

    assert_problem(response, 404, "USER_NOT_FOUND")


def test_admin_views_refuse_other_methods(client: Client, token: str) -> None:
    user = make_user("target")

    assert_problem(
        client.get(f"/api/v1/admin/users/{user.pk}/lock", **bearer(token)),
        405,
        "METHOD_NOT_ALLOWED",
    )
    assert_problem(
        client.delete(f"/api/v1/admin/users/{user.pk}", **bearer(token)), 405, "METHOD_NOT_ALLOWED"
    )
