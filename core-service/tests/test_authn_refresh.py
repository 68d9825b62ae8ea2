"""POST /api/v1/auth/refresh: rotation within a family, the grace window, reuse detection."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import timedelta
from typing import Any

import jwt
import pytest
from django.db import connections
from django.db.models import F
from django.test import Client
from django.utils import timezone

from alephdraad_core.accounts.models import User
from alephdraad_core.authn.models import RefreshToken, Session
from alephdraad_core.mail.models import OutgoingMail
from alephdraad_core.security.models import SecurityEvent
from tests.authn_support import (
    FAST_PASSWORD_HASHERS,
    REFRESH_URL,
    SESSIONS_URL,
    bearer,
    login_ok,
    make_user,
    post_json,
    refresh,
)
from tests.conftest import BROKEN_RULE, assert_problem


@pytest.fixture(autouse=True)
def _fast_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = FAST_PASSWORD_HASHERS


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _sid(access_token: str) -> str:
    return str(jwt.decode(access_token, options={"verify_signature": False})["sid"])


def _age_rotation(token: str, by: timedelta) -> None:
    RefreshToken.objects.filter(token_hash=_hash(token)).update(rotated_at=F("rotated_at") - by)


@pytest.mark.django_db
def test_refresh_rotates_the_token_within_the_session(client: Client) -> None:
    user = make_user()
    first = login_ok(client)

    response = refresh(client, first["refresh_token"])
    second = response.json()

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert set(second) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert second["token_type"] == "Bearer"
    assert second["expires_in"] == 300
    assert second["refresh_token"] != first["refresh_token"]
    assert len(second["refresh_token"]) >= 43
    assert _sid(second["access_token"]) == _sid(first["access_token"])
    claims = jwt.decode(second["access_token"], options={"verify_signature": False})
    assert (
        claims["jti"]
        != jwt.decode(first["access_token"], options={"verify_signature": False})["jti"]
    )
    assert (claims["sub"], claims["amr"], claims["mfa"]) == (str(user.pk), ["pwd"], False)

    session = Session.objects.get(user=user)
    old, new = RefreshToken.objects.filter(session=session).order_by("id")
    assert old.token_hash == _hash(first["refresh_token"])
    assert old.rotated_at is not None
    assert new.token_hash == _hash(second["refresh_token"])
    assert new.rotated_at is None
    assert new.access_jti == claims["jti"]
    # Refreshing never extends the session's absolute lifetime (ASVS V7.3).
    assert session.expires_at - session.created_at == timedelta(days=7)
    assert client.get(SESSIONS_URL, **bearer(second["access_token"])).status_code == 200
    # And the next rotation takes the new token.
    assert refresh(client, second["refresh_token"]).status_code == 200


@pytest.mark.django_db
def test_a_replay_within_the_grace_window_returns_the_byte_identical_pair(client: Client) -> None:
    make_user()
    first = login_ok(client)
    rotated = refresh(client, first["refresh_token"])

    _age_rotation(first["refresh_token"], timedelta(seconds=29))
    replayed = refresh(client, first["refresh_token"])

    assert replayed.status_code == 200
    assert replayed.content == rotated.content
    session = Session.objects.get()
    assert not session.is_revoked
    assert RefreshToken.objects.filter(session=session).count() == 2
    assert RefreshToken.objects.filter(session=session, rotated_at__isnull=True).count() == 1
    assert not SecurityEvent.objects.filter(event_type="refresh_token_reuse").exists()


@pytest.mark.django_db
def test_reuse_after_the_grace_window_revokes_the_family_mails_and_never_locks(
    client: Client,
) -> None:
    user = make_user()
    first = login_ok(client)
    second = refresh(client, first["refresh_token"]).json()

    _age_rotation(first["refresh_token"], timedelta(seconds=31))
    reused = post_json(
        client,
        REFRESH_URL,
        {"refresh_token": first["refresh_token"]},
        ip="198.51.100.66",
        headers={"HTTP_X_REQUEST_ID": "req-reuse"},
    )

    assert_problem(reused, 401, "AUTH_REFRESH_TOKEN_INVALID")
    session = Session.objects.get(user=user)
    assert session.is_revoked
    assert session.revoked_reason == "refresh_token_reuse"
    [event] = SecurityEvent.objects.filter(event_type="refresh_token_reuse")
    assert (event.user_id, event.ip_address, event.request_id) == (
        user.pk,
        "198.51.100.66",
        "req-reuse",
    )
    assert event.details["session_id"] == str(session.pk)
    [mail] = OutgoingMail.objects.filter(kind="refresh_token_reuse")
    assert mail.to_address == user.email
    assert "change your password" in mail.body_text
    assert first["refresh_token"] not in mail.body_text
    # The whole family is dead: the newest refresh token and its access token too.
    assert_problem(refresh(client, second["refresh_token"]), 401, "AUTH_REFRESH_TOKEN_INVALID")
    assert_problem(
        client.get(SESSIONS_URL, **bearer(second["access_token"])), 401, "AUTH_SESSION_REVOKED"
    )
    # The account is not locked (original-system bug 6): logging in again works.
    user.refresh_from_db()
    assert user.is_locked is False
    assert login_ok(client)["access_token"]


@pytest.mark.django_db
def test_a_replay_of_an_older_ancestor_is_reuse_even_within_the_grace(client: Client) -> None:
    user = make_user()
    first = login_ok(client)
    second = refresh(client, first["refresh_token"]).json()
    assert refresh(client, second["refresh_token"]).status_code == 200

    replay = refresh(client, first["refresh_token"])

    assert_problem(replay, 401, "AUTH_REFRESH_TOKEN_INVALID")
    assert Session.objects.get(user=user).revoked_reason == "refresh_token_reuse"
    assert OutgoingMail.objects.filter(kind="refresh_token_reuse").count() == 1


@pytest.mark.django_db
def test_reuse_of_a_token_of_a_revoked_session_is_just_refused(client: Client) -> None:
    make_user()
    first = login_ok(client)
    assert refresh(client, first["refresh_token"]).status_code == 200
    Session.objects.update(is_revoked=True, revoked_reason="logout")

    assert_problem(refresh(client, first["refresh_token"]), 401, "AUTH_REFRESH_TOKEN_INVALID")
    assert Session.objects.get().revoked_reason == "logout"
    assert not OutgoingMail.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("token", ["unknown-token", "x" * 43])
def test_an_unknown_refresh_token_is_401(client: Client, token: str) -> None:
    make_user()
    login_ok(client)

    response = refresh(client, token)

    assert_problem(response, 401, "AUTH_REFRESH_TOKEN_INVALID")
    assert not Session.objects.get().is_revoked


@pytest.mark.django_db
def test_an_empty_refresh_token_is_a_422_field_error(client: Client) -> None:
    make_user()
    login_ok(client)

    response = refresh(client, "")

    problem = assert_problem(response, *BROKEN_RULE)
    assert problem["errors"] == [
        {"field": "refresh_token", "message": "This field may not be blank."}
    ]
    assert not Session.objects.get().is_revoked


@pytest.mark.django_db
def test_asvs_7_3_an_expired_session_can_no_longer_refresh(client: Client) -> None:
    make_user()
    first = login_ok(client)
    Session.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    assert_problem(refresh(client, first["refresh_token"]), 401, "AUTH_REFRESH_TOKEN_INVALID")
    assert_problem(
        client.get(SESSIONS_URL, **bearer(first["access_token"])), 401, "AUTH_SESSION_REVOKED"
    )
    assert RefreshToken.objects.get().rotated_at is None


@pytest.mark.django_db
def test_a_locked_account_cannot_refresh(client: Client) -> None:
    user = make_user()
    first = login_ok(client)
    until = timezone.now() + timedelta(hours=3)
    User.objects.filter(pk=user.pk).update(
        is_locked=True, locked_until=until, locked_reason="chargeback"
    )

    body = assert_problem(refresh(client, first["refresh_token"]), 403, "AUTH_ACCOUNT_LOCKED")

    assert "chargeback" in body["detail"]
    assert until.strftime("%Y-%m-%dT%H:%M:%SZ") in body["detail"]
    assert RefreshToken.objects.get().rotated_at is None
    assert not Session.objects.get().is_revoked


@pytest.mark.django_db
def test_refresh_is_limited_to_30_per_minute_per_ip(client: Client) -> None:
    for _ in range(30):
        assert refresh(client, "nope", ip="203.0.113.30").status_code == 401

    assert_problem(refresh(client, "nope", ip="203.0.113.30"), 429, "RATE_LIMITED")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [{}, {"refresh_token": 5}, {"refresh_token": None}, {"refresh_token": "a", "extra": 1}],
)
def test_bad_refresh_input_is_a_400(client: Client, body: dict[str, Any]) -> None:
    assert_problem(post_json(client, REFRESH_URL, body), 400, "VALIDATION_FAILED")


# Concurrency: the "10 parallel refreshes with one token"


@pytest.mark.django_db(transaction=True)
def test_ten_parallel_refreshes_with_one_token_get_one_pair_and_never_a_lockout() -> None:
    user = make_user()
    first = login_ok(Client())
    start = threading.Barrier(10)
    answers: list[tuple[int, bytes]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def refresh_once() -> None:
        try:
            start.wait(timeout=10)
            response = refresh(Client(), first["refresh_token"])
            with lock:
                answers.append((response.status_code, response.content))
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=refresh_once) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert not errors
    assert len(answers) == 10
    successes = {content for status, content in answers if status == 200}
    assert {status for status, _ in answers} <= {200, 401}
    assert len(successes) == 1, "every success must carry the same new pair"
    session = Session.objects.get(user=user)
    assert not session.is_revoked
    live = RefreshToken.objects.filter(session=session, rotated_at__isnull=True)
    assert live.count() == 1
    assert RefreshToken.objects.filter(session=session).count() == 2
    user.refresh_from_db()
    assert user.is_locked is False
    assert not SecurityEvent.objects.filter(event_type="refresh_token_reuse").exists()
    # The pair everyone got is the live one.
    [pair] = successes
    assert live.get().token_hash == _hash(json.loads(pair)["refresh_token"])
