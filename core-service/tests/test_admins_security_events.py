"""Admin actions land in the security audit log, and admins read it (ASVS V16.3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from alephdraad_core.admins.models import Admin
from alephdraad_core.security.models import SecurityEvent
from alephdraad_core.security.services import record_security_event
from tests.admins_helpers import (
    admin_token,
    get,
    iso_z,
    make_admin,
    make_session,
    make_user,
    post_json,
)
from tests.conftest import BAD_SHAPE, BROKEN_RULE, assert_problem

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.admins_urls")]

T0 = datetime(2026, 6, 1, tzinfo=UTC)
CLIENT = {
    "HTTP_X_REAL_IP": "198.51.100.23",
    "HTTP_USER_AGENT": "ops-console/2.1",
}


@pytest.fixture
def admin() -> Admin:
    return make_admin()


@pytest.fixture
def token(admin: Admin) -> str:
    return admin_token(admin)


@pytest.mark.parametrize(
    ("action", "body", "event_type", "details"),
    [
        (
            "lock",
            {"reason": "spam", "until": "2099-01-01T00:00:00Z"},
            "admin_user_locked",
            {"reason": "spam", "until": "2099-01-01T00:00:00.000000Z", "revoked_sessions": 2},
        ),
        ("unlock", None, "admin_user_unlocked", {"was_locked": False}),
        ("sessions/revoke", None, "admin_sessions_revoked", {"revoked_sessions": 2}),
    ],
)
def test_asvs_16_2_1_admin_actions_are_logged_with_who_where_and_which_request(
    client: Client,
    admin: Admin,
    token: str,
    action: str,
    body: Any,
    event_type: str,
    details: dict[str, Any],
) -> None:
    user = make_user("subject")
    make_session(user)
    make_session(user)

    response = post_json(
        client,
        f"/users/{user.pk}/{action}",
        body,
        token=token,
        HTTP_X_REQUEST_ID=f"req-{action.replace('/', '-')}",
        **CLIENT,
    )

    assert response.status_code == 200, response.content
    event = SecurityEvent.objects.get()
    assert event.event_type == event_type
    assert event.admin_id == admin.pk
    assert event.user_id == user.pk
    assert event.ip_address == "198.51.100.23"
    assert event.user_agent == "ops-console/2.1"
    assert event.request_id == f"req-{action.replace('/', '-')}"
    assert event.details == details
    assert event.created_at.tzinfo is not None


def test_unlocking_a_locked_user_says_so(client: Client, token: str) -> None:
    user = make_user("subject")
    post_json(client, f"/users/{user.pk}/lock", {"reason": "spam"}, token=token)

    post_json(client, f"/users/{user.pk}/unlock", token=token)

    event = SecurityEvent.objects.get(event_type="admin_user_unlocked")
    assert event.details == {"was_locked": True}


def test_asvs_16_3_3_refused_actions_leave_no_event(client: Client, token: str) -> None:
    user = make_user("subject")

    post_json(client, f"/users/{user.pk}/lock", {"reason": ""}, token=token)
    post_json(client, "/users/987654/sessions/revoke", token=token)

    assert not SecurityEvent.objects.exists()


def test_events_are_read_newest_first_with_every_field(
    client: Client, admin: Admin, token: str
) -> None:
    user = make_user("subject")
    post_json(
        client,
        f"/users/{user.pk}/lock",
        {"reason": "spam"},
        token=token,
        HTTP_X_REQUEST_ID="req-lock-1",
        **CLIENT,
    )
    post_json(client, f"/users/{user.pk}/unlock", token=token, **CLIENT)

    response = get(client, "/security-events", token=token, user_id=str(user.pk))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["next_cursor"] is None
    assert [item["event_type"] for item in body["items"]] == [
        "admin_user_unlocked",
        "admin_user_locked",
    ]
    locked = SecurityEvent.objects.get(event_type="admin_user_locked")
    assert body["items"][1] == {
        "id": locked.pk,
        "event_type": "admin_user_locked",
        "user_id": user.pk,
        "admin_id": admin.pk,
        "ip_address": "198.51.100.23",
        "user_agent": "ops-console/2.1",
        "request_id": "req-lock-1",
        "details": {"reason": "spam", "until": None, "revoked_sessions": 0},
        "created_at": iso_z(locked.created_at),
    }
    assert body["items"][1]["created_at"].endswith("Z")


def test_filters_by_user_and_by_type(client: Client, token: str) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    record_security_event("login_failed", user_id=alice.pk)
    record_security_event("login_success", user_id=alice.pk)
    record_security_event("login_failed", user_id=bob.pk)
    record_security_event("admin_login_failed")

    def types(**params: str) -> list[tuple[str, int | None]]:
        response = get(client, "/security-events", token=token, **params)
        assert response.status_code == 200, response.content
        return [(item["event_type"], item["user_id"]) for item in response.json()["items"]]

    assert types(user_id=str(alice.pk)) == [("login_success", alice.pk), ("login_failed", alice.pk)]
    assert types(event_type="login_failed") == [
        ("login_failed", bob.pk),
        ("login_failed", alice.pk),
    ]
    assert types(user_id=str(alice.pk), event_type="login_failed") == [("login_failed", alice.pk)]
    assert types(user_id="999999") == []
    assert len(types()) == 4
    assert len(types(event_type="")) == 4


def test_pages_of_events_stay_stable_while_events_are_written(client: Client, token: str) -> None:
    user = make_user("busy")
    SecurityEvent.objects.bulk_create(
        SecurityEvent(event_type="login_success", user=user, created_at=T0 + timedelta(seconds=i))
        for i in range(7)
    )
    expected = list(
        SecurityEvent.objects.order_by("-created_at", "-id").values_list("id", flat=True)
    )

    seen: list[int] = []
    cursor = ""
    while True:
        response = get(
            client, "/security-events", token=token, user_id=str(user.pk), limit="3", cursor=cursor
        )
        assert response.status_code == 200, response.content
        seen.extend(item["id"] for item in response.json()["items"])
        record_security_event("login_failed", user_id=user.pk)  # newer than every page
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break

    assert seen == expected


def test_query_budget_of_a_page_of_events(
    client: Client, token: str, django_assert_num_queries: Any
) -> None:
    user = make_user("noisy")
    for i in range(30):
        record_security_event("login_failed", user_id=user.pk if i % 2 else None)

    with django_assert_num_queries(2):  # the admin behind the token; one page (LIMIT 21)
        response = get(client, "/security-events", token=token)
    assert len(response.json()["items"]) == 20

    with django_assert_num_queries(2):
        response = get(
            client,
            "/security-events",
            token=token,
            user_id=str(user.pk),
            limit="5",
            cursor="",
        )
    assert len(response.json()["items"]) == 5


@pytest.mark.parametrize(
    ("params", "field", "expected"),
    [
        ({"user_id": "abc"}, "user_id", BAD_SHAPE),
        ({"user_id": "0"}, "user_id", BROKEN_RULE),
        ({"user_id": "99999999999999999999"}, "user_id", BROKEN_RULE),
        ({"event_type": "e" * 65}, "event_type", BROKEN_RULE),
        ({"userid": "1"}, "userid", BAD_SHAPE),
        ({"limit": "1000"}, "limit", BROKEN_RULE),
        ({"cursor": "eyJrIjoxfQ"}, "cursor", BAD_SHAPE),
    ],
)
def test_bad_query_parameters_are_a_4xx_naming_the_parameter(
    client: Client, token: str, params: dict[str, str], field: str, expected: tuple[int, str]
) -> None:
    body = assert_problem(get(client, "/security-events", token=token, **params), *expected)
    assert [error["field"] for error in body["errors"]] == [field]


def test_asvs_16_3_1_admin_login_outcomes_are_readable_by_admins(
    client: Client, token: str
) -> None:
    make_admin("second_admin", email="second@ops.example.com")
    post_json(
        client,
        "/auth/login",
        {"email": "second@ops.example.com", "password": "not-the-password"},
        HTTP_X_REAL_IP="203.0.113.99",
    )

    items = get(client, "/security-events", token=token, event_type="admin_login_failed").json()[
        "items"
    ]

    assert len(items) == 1
    assert items[0]["ip_address"] == "203.0.113.99"
    assert items[0]["details"] == {"email": "second@ops.example.com", "reason": "wrong_password"}
