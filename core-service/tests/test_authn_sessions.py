"""GET/DELETE /api/v1/sessions, POST /auth/logout and /auth/logout-all (ASVS 5.0 V7.3 to V7.5)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import jwt
import pytest
from django.test import Client
from django.utils import timezone

from alephdraad_core.authn.models import Session
from alephdraad_core.security.models import SecurityEvent
from tests.authn_support import (
    FAST_PASSWORD_HASHERS,
    LOGOUT_ALL_URL,
    LOGOUT_URL,
    SESSIONS_URL,
    bearer,
    login_ok,
    make_user,
    post_json,
    refresh,
)
from tests.conftest import assert_problem
from tests.mfa_support import sudo_environ, sudo_token

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = FAST_PASSWORD_HASHERS


def _sid(pair: dict[str, Any]) -> str:
    return str(jwt.decode(pair["access_token"], options={"verify_signature": False})["sid"])


def _sessions_of(client: Client, pair: dict[str, Any]) -> Any:
    response = client.get(SESSIONS_URL, **bearer(pair["access_token"]))
    assert response.status_code == 200, response.content
    return response.json()


# Listing


def test_asvs_7_5_the_session_list_shows_live_sessions_newest_first(client: Client) -> None:
    make_user()
    oldest = login_ok(client, headers={"HTTP_USER_AGENT": "Old/1"}, ip="192.0.2.1")
    revoked = login_ok(client)
    expired = login_ok(client)
    current = login_ok(client, headers={"HTTP_USER_AGENT": "New/2"}, device_fingerprint="fp-1")
    Session.objects.filter(pk=_sid(revoked)).update(is_revoked=True)
    Session.objects.filter(pk=_sid(expired)).update(expires_at=timezone.now())

    body = _sessions_of(client, current)

    assert body["next_cursor"] is None
    assert [item["id"] for item in body["items"]] == [_sid(current), _sid(oldest)]
    newest, older = body["items"]
    assert set(newest) == {
        "id",
        "device_fingerprint_set",
        "ip_address",
        "user_agent",
        "created_at",
        "last_active_at",
        "expires_at",
        "current",
    }
    assert (newest["current"], older["current"]) == (True, False)
    assert (newest["device_fingerprint_set"], older["device_fingerprint_set"]) == (True, False)
    assert (newest["user_agent"], older["user_agent"]) == ("New/2", "Old/1")
    assert older["ip_address"] == "192.0.2.1"
    for key in ("created_at", "last_active_at", "expires_at"):
        assert newest[key].endswith("Z"), newest[key]
    # The hash itself is never shown.
    assert "device_fingerprint" not in newest


def test_the_session_list_shows_only_the_callers_sessions(client: Client) -> None:
    make_user()
    make_user("bob_the_b")
    login_ok(client, "bob_the_b")
    mine = login_ok(client)

    assert [item["id"] for item in _sessions_of(client, mine)["items"]] == [_sid(mine)]


def test_the_session_list_costs_two_queries_however_many_sessions(
    client: Client, django_assert_num_queries: Any
) -> None:
    make_user()
    for _ in range(6):
        current = login_ok(client)

    # One for the authenticator (session + user), one for the list.
    with django_assert_num_queries(2):
        response = client.get(SESSIONS_URL, **bearer(current["access_token"]))

    assert len(response.json()["items"]) == 6


# Revoking one


def test_asvs_7_5_a_user_can_end_another_of_their_sessions(client: Client) -> None:
    user = make_user()
    other_device = login_ok(client)
    current = login_ok(client)

    response = client.delete(
        f"{SESSIONS_URL}/{_sid(other_device)}",
        HTTP_X_REQUEST_ID="req-revoke",
        **bearer(current["access_token"]),
    )

    assert response.status_code == 204
    assert response.content == b""
    ended = Session.objects.get(pk=_sid(other_device))
    assert ended.is_revoked
    assert ended.revoked_reason == "user_revoked"
    assert ended.revoked_at is not None
    assert not Session.objects.get(pk=_sid(current)).is_revoked
    [event] = SecurityEvent.objects.filter(event_type="session_revoked")
    assert (event.user_id, event.request_id) == (user.pk, "req-revoke")
    assert event.details["session_id"] == _sid(other_device)
    # Its tokens stop working at once.
    assert_problem(
        client.get(SESSIONS_URL, **bearer(other_device["access_token"])),
        401,
        "AUTH_SESSION_REVOKED",
    )
    assert_problem(
        refresh(client, other_device["refresh_token"]), 401, "AUTH_REFRESH_TOKEN_INVALID"
    )
    assert [item["id"] for item in _sessions_of(client, current)["items"]] == [_sid(current)]


@pytest.mark.parametrize(
    "target",
    ["someone_elses", "unknown", "malformed", "already_revoked", "expired"],
)
def test_asvs_7_5_ending_a_session_that_is_not_ones_own_live_session_is_404(
    client: Client, target: str
) -> None:
    make_user()
    make_user("bob_the_b")
    bobs = login_ok(client, "bob_the_b")
    mine = login_ok(client)
    mine_too = login_ok(client)
    if target == "already_revoked":
        Session.objects.filter(pk=_sid(mine_too)).update(is_revoked=True, revoked_reason="x")
    if target == "expired":
        Session.objects.filter(pk=_sid(mine_too)).update(expires_at=timezone.now())
    session_id = {
        "someone_elses": _sid(bobs),
        "unknown": str(uuid.uuid4()),
        "malformed": "not-a-uuid'--",
        "already_revoked": _sid(mine_too),
        "expired": _sid(mine_too),
    }[target]

    response = client.delete(f"{SESSIONS_URL}/{session_id}", **bearer(mine["access_token"]))

    assert_problem(response, 404, "SESSION_NOT_FOUND")
    assert not Session.objects.get(pk=_sid(bobs)).is_revoked
    assert not SecurityEvent.objects.filter(event_type="session_revoked").exists()
    if target == "already_revoked":
        assert Session.objects.get(pk=_sid(mine_too)).revoked_reason == "x"


# Logout (ASVS V7.4.1)


def test_asvs_7_4_1_logout_invalidates_the_session_at_once(client: Client) -> None:
    user = make_user()
    other = login_ok(client)
    current = login_ok(client)

    response = post_json(client, LOGOUT_URL, {}, token=current["access_token"])

    assert response.status_code == 204
    session = Session.objects.get(pk=_sid(current))
    assert session.is_revoked
    assert session.revoked_reason == "logout"
    assert_problem(
        client.get(SESSIONS_URL, **bearer(current["access_token"])), 401, "AUTH_SESSION_REVOKED"
    )
    assert_problem(refresh(client, current["refresh_token"]), 401, "AUTH_REFRESH_TOKEN_INVALID")
    assert not Session.objects.get(pk=_sid(other)).is_revoked
    [event] = SecurityEvent.objects.filter(event_type="logout")
    assert event.user_id == user.pk
    assert event.details == {"session_id": _sid(current)}


def test_logout_with_a_refresh_token_ends_the_session_that_owns_it(client: Client) -> None:
    make_user()
    other_tab = login_ok(client)
    rotated = refresh(client, other_tab["refresh_token"]).json()
    current = login_ok(client)

    response = post_json(
        client,
        LOGOUT_URL,
        {"refresh_token": rotated["refresh_token"]},
        token=current["access_token"],
    )

    assert response.status_code == 204
    assert Session.objects.get(pk=_sid(other_tab)).is_revoked
    assert not Session.objects.get(pk=_sid(current)).is_revoked


def test_logout_with_someone_elses_refresh_token_ends_only_the_callers_session(
    client: Client,
) -> None:
    make_user()
    make_user("bob_the_b")
    bobs = login_ok(client, "bob_the_b")
    mine = login_ok(client)

    response = post_json(
        client, LOGOUT_URL, {"refresh_token": bobs["refresh_token"]}, token=mine["access_token"]
    )

    assert response.status_code == 204
    assert not Session.objects.get(pk=_sid(bobs)).is_revoked
    assert Session.objects.get(pk=_sid(mine)).is_revoked


def test_logout_needs_an_access_token(client: Client) -> None:
    make_user()
    pair = login_ok(client)

    response = post_json(client, LOGOUT_URL, {"refresh_token": pair["refresh_token"]})

    assert_problem(response, 401, "UNAUTHENTICATED")
    assert not Session.objects.get().is_revoked


# Logout everywhere (ASVS V7.4.3-ish)


def test_asvs_7_4_3_logout_all_ends_every_session(client: Client) -> None:
    user = make_user()
    make_user("bob_the_b")
    bobs = login_ok(client, "bob_the_b")
    sessions = [login_ok(client) for _ in range(3)]
    Session.objects.filter(pk=_sid(sessions[0])).update(expires_at=timezone.now())

    token = sessions[-1]["access_token"]
    sudo = sudo_environ(sudo_token(client, token))

    response = post_json(client, LOGOUT_ALL_URL, {}, token=token, headers=sudo)

    assert response.status_code == 200
    assert response.json() == {"revoked": 2}
    assert not Session.objects.filter(user=user, is_revoked=False, expires_at__gt=timezone.now())
    assert set(
        Session.objects.filter(user=user, is_revoked=True).values_list("revoked_reason", flat=True)
    ) == {"logout_all"}
    assert not Session.objects.get(pk=_sid(bobs)).is_revoked
    for pair in sessions[1:]:
        assert_problem(
            client.get(SESSIONS_URL, **bearer(pair["access_token"])), 401, "AUTH_SESSION_REVOKED"
        )
        assert_problem(refresh(client, pair["refresh_token"]), 401, "AUTH_REFRESH_TOKEN_INVALID")
    [event] = SecurityEvent.objects.filter(event_type="logout_all")
    assert (event.user_id, event.details["revoked"]) == (user.pk, 2)


def test_asvs_7_4_3_logout_all_can_keep_the_current_session(client: Client) -> None:
    user = make_user()
    sessions = [login_ok(client) for _ in range(3)]
    current = sessions[-1]

    sudo = sudo_environ(sudo_token(client, current["access_token"]))

    response = post_json(
        client, LOGOUT_ALL_URL, {"keep_current": True}, token=current["access_token"], headers=sudo
    )

    assert response.json() == {"revoked": 2}
    assert list(
        Session.objects.filter(user=user, is_revoked=False).values_list("pk", flat=True)
    ) == [uuid.UUID(_sid(current))]
    assert [item["id"] for item in _sessions_of(client, current)["items"]] == [_sid(current)]


@pytest.mark.parametrize(
    "body", [{"keep_current": "yes"}, {"keep_current": 1}, {"keep_current": None}, {"all": True}]
)
def test_bad_logout_all_input_is_a_400_and_changes_nothing(
    client: Client, body: dict[str, Any]
) -> None:
    make_user()
    pair = login_ok(client)
    sudo = sudo_environ(sudo_token(client, pair["access_token"]))

    response = post_json(client, LOGOUT_ALL_URL, body, token=pair["access_token"], headers=sudo)

    assert_problem(response, 400, "VALIDATION_FAILED")
    assert not Session.objects.get().is_revoked


# Lifetime (ASVS V7.3)


def test_asvs_7_3_sessions_have_an_absolute_lifetime_of_7_days(client: Client) -> None:
    make_user()
    pair = login_ok(client)
    session = Session.objects.get()
    assert session.expires_at - session.created_at == timedelta(days=7)

    Session.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    assert_problem(
        client.get(SESSIONS_URL, **bearer(pair["access_token"])), 401, "AUTH_SESSION_REVOKED"
    )


def test_activity_updates_last_active_at_at_most_once_a_minute(client: Client) -> None:
    make_user()
    pair = login_ok(client)
    long_ago = timezone.now() - timedelta(minutes=10)
    Session.objects.update(last_active_at=long_ago)

    _sessions_of(client, pair)
    first_seen = Session.objects.get().last_active_at
    _sessions_of(client, pair)

    assert first_seen > long_ago
    assert Session.objects.get().last_active_at == first_seen
