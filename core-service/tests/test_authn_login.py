"""POST /api/v1/auth/login: credentials, lockout, sessions it opens, audit trail, bad input."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any
from unittest import mock

import jwt
import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.db.models import F
from django.test import Client
from django.utils import timezone

from alephdraad_core.accounts.models import User
from alephdraad_core.authn.models import RefreshToken, Session
from alephdraad_core.authn.services import MAX_LIVE_SESSIONS, hash_device_fingerprint
from alephdraad_core.security.models import SecurityEvent
from tests.authn_support import (
    FAST_PASSWORD_HASHERS,
    LOGIN_URL,
    PASSWORD,
    REFRESH_URL,
    SESSIONS_URL,
    bearer,
    login,
    login_ok,
    make_user,
    post_json,
)
from tests.conftest import BAD_SHAPE, BROKEN_RULE, assert_problem, assert_too_large

pytestmark = pytest.mark.django_db


def _events(user: User | None = None, event_type: str | None = None) -> list[SecurityEvent]:
    events = SecurityEvent.objects.order_by("id")
    if user is not None:
        events = events.filter(user=user)
    if event_type is not None:
        events = events.filter(event_type=event_type)
    return list(events)


def _sid_of(pair: dict[str, Any]) -> str:
    return str(jwt.decode(pair["access_token"], options={"verify_signature": False})["sid"])


def _age_events(user: User, by: timedelta) -> None:
    """Move the user's audit trail into the past, as if `by` had elapsed since."""
    SecurityEvent.objects.filter(user=user).update(created_at=F("created_at") - by)


# Success


def test_login_returns_a_token_pair_and_opens_a_session(client: Client) -> None:
    user = make_user(full_name="Alice W")

    response = login(
        client, "alice_w", ip="198.51.100.7", headers={"HTTP_USER_AGENT": "Firefox/140"}
    )
    body = response.json()

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in", "user"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 300
    assert body["user"] == {
        "id": user.pk,
        "email": "alice_w@example.com",
        "username": "alice_w",
        "full_name": "Alice W",
        "avatar_url": None,
        "is_verified": True,
        "totp_enabled": False,
    }
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert jwt.get_unverified_header(body["access_token"])["alg"] == "EdDSA"
    assert claims["sub"] == str(user.pk)
    assert claims["aud"] == "alephdraad:user"
    assert claims["username"] == "alice_w"
    assert claims["amr"] == ["pwd"]
    assert claims["mfa"] is False
    assert claims["exp"] - claims["iat"] == 300

    session = Session.objects.get(user=user)
    assert str(session.pk) == claims["sid"]
    assert session.ip_address == "198.51.100.7"
    assert session.user_agent == "Firefox/140"
    assert session.amr == ["pwd"]
    assert session.device_fingerprint is None
    assert not session.is_revoked
    assert session.expires_at - session.created_at == timedelta(days=7)
    [token_row] = RefreshToken.objects.filter(session=session)
    assert token_row.token_hash == hashlib.sha256(body["refresh_token"].encode()).hexdigest()
    assert token_row.access_jti == claims["jti"]
    assert int(token_row.access_issued_at.timestamp()) == claims["iat"]
    assert token_row.rotated_at is None
    user.refresh_from_db()
    assert user.last_login is not None
    # The access token works at once.
    assert client.get(SESSIONS_URL, **bearer(body["access_token"])).status_code == 200


@pytest.mark.parametrize(
    "typed", ["alice_w", "ALICE_W", "Alice_W@Example.COM", " alice_w@example.com "]
)
def test_login_by_username_or_email_ignores_case(client: Client, typed: str) -> None:
    user = make_user()

    body = login_ok(client, typed)

    assert body["user"]["id"] == user.pk


def test_mfa_claim_says_2fa_is_off_for_a_password_only_account(client: Client) -> None:
    # With 2FA on, the password alone opens no session: tests/test_mfa_login.py.
    make_user()

    body = login_ok(client)

    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert (claims["mfa"], claims["amr"]) == (False, ["pwd"])


def test_device_fingerprint_is_stored_only_as_a_keyed_hash(client: Client) -> None:
    user = make_user()
    raw = "fp-3f9a1c77-device"

    login_ok(client, device_fingerprint=raw)

    session = Session.objects.get(user=user)
    assert session.device_fingerprint == hash_device_fingerprint(raw)
    assert session.device_fingerprint != hashlib.sha256(raw.encode()).hexdigest()
    assert len(session.device_fingerprint) == 64
    assert raw not in json.dumps(list(SecurityEvent.objects.values("details")))


def test_asvs_7_2_4_each_login_issues_new_tokens_and_a_new_session(client: Client) -> None:
    user = make_user()

    first = login_ok(client)
    second = login_ok(client)

    assert first["access_token"] != second["access_token"]
    assert first["refresh_token"] != second["refresh_token"]
    first_claims = jwt.decode(first["access_token"], options={"verify_signature": False})
    second_claims = jwt.decode(second["access_token"], options={"verify_signature": False})
    assert first_claims["sid"] != second_claims["sid"]
    assert first_claims["jti"] != second_claims["jti"]
    assert Session.objects.filter(user=user, is_revoked=False).count() == 2


# Wrong credentials


def _comparable(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key != "request_id"}


def test_asvs_6_3_1_unknown_user_and_wrong_password_are_indistinguishable(
    client: Client,
) -> None:
    user = make_user()
    original_verify = Argon2PasswordHasher.verify

    with mock.patch.object(
        Argon2PasswordHasher, "verify", autospec=True, side_effect=original_verify
    ) as verify:
        wrong_password = login(client, "alice_w", "not the password")
        wrong_password_verifications = verify.call_count
        unknown_user = login(client, "nobody_here", "not the password")
        unknown_email = login(client, "nobody@example.com", "not the password")

    wrong_body = assert_problem(wrong_password, 401, "AUTH_INVALID_CREDENTIALS")
    unknown_body = assert_problem(unknown_user, 401, "AUTH_INVALID_CREDENTIALS")
    email_body = assert_problem(unknown_email, 401, "AUTH_INVALID_CREDENTIALS")
    assert _comparable(wrong_body) == _comparable(unknown_body) == _comparable(email_body)
    assert wrong_password.headers.keys() == unknown_user.headers.keys()
    # The same work on every path: exactly one Argon2 verification each.
    assert wrong_password_verifications == 1
    assert verify.call_count == 3
    assert not Session.objects.exists()
    failed = _events(event_type="login_failed")
    assert [(event.user_id, event.details) for event in failed] == [
        (user.pk, {"login": "alice_w"}),
        (None, {"login": "nobody_here"}),
        (None, {"login": "nobody@example.com"}),
    ]


def test_asvs_6_3_1_an_account_without_a_usable_password_costs_the_same(client: Client) -> None:
    user = make_user()
    user.set_unusable_password()
    user.save(update_fields=["password"])

    with mock.patch.object(
        Argon2PasswordHasher, "verify", autospec=True, side_effect=Argon2PasswordHasher.verify
    ) as verify:
        response = login(client, "alice_w", "anything at all")

    assert_problem(response, 401, "AUTH_INVALID_CREDENTIALS")
    assert verify.call_count == 1


def test_unverified_email_is_revealed_only_after_a_correct_password(client: Client) -> None:
    user = make_user(is_verified=False)

    wrong = login(client, "alice_w", "not the password")
    right = login(client, "alice_w", PASSWORD)

    assert_problem(wrong, 401, "AUTH_INVALID_CREDENTIALS")
    assert_problem(right, 403, "AUTH_EMAIL_UNVERIFIED")
    assert not Session.objects.filter(user=user).exists()
    assert not _events(user, "login_success")


def test_admin_locked_account_gets_403_with_reason_and_until(client: Client) -> None:
    until = (timezone.now() + timedelta(days=2)).replace(microsecond=0)
    user = make_user(is_locked=True, locked_until=until, locked_reason="spam reports")

    wrong = login(client, "alice_w", "not the password")
    right = login(client, "alice_w", PASSWORD)

    assert_problem(wrong, 401, "AUTH_INVALID_CREDENTIALS")
    body = assert_problem(right, 403, "AUTH_ACCOUNT_LOCKED")
    assert "spam reports" in body["detail"]
    assert until.strftime("%Y-%m-%dT%H:%M:%SZ") in body["detail"]
    assert not Session.objects.filter(user=user).exists()


def test_an_expired_admin_lock_no_longer_blocks(client: Client) -> None:
    make_user(is_locked=True, locked_until=timezone.now() - timedelta(seconds=1))

    assert login(client).status_code == 200


# Lockout (ASVS 5.0 V6.3.x; README.md of authn says why 5 / 30 min / 15 min)


def _fail(client: Client, times: int, username: str = "alice_w") -> None:
    for _ in range(times):
        assert_problem(login(client, username, "wrong password!"), 401, "AUTH_INVALID_CREDENTIALS")


def test_asvs_6_3_five_failures_lock_password_login_for_15_minutes(client: Client) -> None:
    user = make_user()
    other = make_user("bob_the_b")

    _fail(client, 5)
    blocked = login(client, "alice_w", PASSWORD)

    body = assert_problem(blocked, 429, "AUTH_LOGIN_LOCKED")
    assert 895 <= int(blocked["Retry-After"]) <= 900
    assert "reset your password" in body["detail"]
    assert not Session.objects.filter(user=user).exists()
    assert len(_events(user, "login_failed")) == 5
    [locked] = _events(user, "login_locked")
    assert locked.details["failures"] == 5
    assert len(_events(user, "login_blocked")) == 1
    # The account itself is not locked, and nobody else is affected.
    user.refresh_from_db()
    assert user.is_locked is False
    assert login(client, "bob_the_b").status_code == 200
    assert Session.objects.filter(user=other).count() == 1


def test_asvs_6_3_blocked_attempts_do_not_extend_the_lock_which_expires(client: Client) -> None:
    user = make_user()
    _fail(client, 5)

    _age_events(user, timedelta(minutes=14))
    still_blocked = login(client, "alice_w", "wrong password!")
    assert_problem(still_blocked, 429, "AUTH_LOGIN_LOCKED")
    assert int(still_blocked["Retry-After"]) <= 60

    # The blocked attempt above (now 1 minute old) did not move the end of the lock.
    _age_events(user, timedelta(minutes=1, seconds=1))
    after = login(client, "alice_w", PASSWORD)

    assert after.status_code == 200, after.content
    assert Session.objects.filter(user=user, is_revoked=False).count() == 1
    assert len(_events(user, "login_blocked")) == 1
    assert len(_events(user, "login_locked")) == 1


def test_asvs_6_3_the_count_restarts_after_a_lock_has_expired(client: Client) -> None:
    user = make_user()
    _fail(client, 5)
    _age_events(user, timedelta(minutes=15, seconds=1))

    # One failure after the lock is one failure, not the sixth.
    _fail(client, 1)
    assert login(client).status_code == 200
    assert len(_events(user, "login_locked")) == 1


def test_asvs_6_3_only_failures_within_30_minutes_count(client: Client) -> None:
    user = make_user()
    _fail(client, 4)
    _age_events(user, timedelta(minutes=30, seconds=1))

    _fail(client, 4)

    assert login(client).status_code == 200
    assert not _events(user, "login_locked")


def test_asvs_6_3_a_successful_login_resets_the_count(client: Client) -> None:
    user = make_user()
    _fail(client, 4)
    assert login(client).status_code == 200

    _fail(client, 4)

    assert login(client).status_code == 200
    assert not _events(user, "login_locked")


def test_login_is_limited_to_10_per_minute_per_ip(client: Client, settings: Any) -> None:
    settings.PASSWORD_HASHERS = FAST_PASSWORD_HASHERS
    make_user()
    for _ in range(10):
        assert login(client, "nobody_here", "x", ip="203.0.113.9").status_code == 401

    limited = login(client, "alice_w", PASSWORD, ip="203.0.113.9")

    assert_problem(limited, 429, "RATE_LIMITED")
    assert int(limited["Retry-After"]) >= 1
    assert not Session.objects.exists()
    assert login(client, "alice_w", PASSWORD, ip="203.0.113.10").status_code == 200


# Session limit


def test_the_11th_login_ends_the_oldest_session(client: Client, settings: Any) -> None:
    settings.PASSWORD_HASHERS = FAST_PASSWORD_HASHERS
    user = make_user()
    other = make_user("bob_the_b")
    login_ok(client, "bob_the_b")
    pairs = [login_ok(client) for _ in range(MAX_LIVE_SESSIONS)]
    sids = [_sid_of(pair) for pair in pairs]

    eleventh = login_ok(client)

    live = {
        str(pk)
        for pk in Session.objects.filter(user=user, is_revoked=False).values_list("pk", flat=True)
    }
    assert live == {*sids[1:], _sid_of(eleventh)}
    oldest = Session.objects.get(pk=sids[0])
    assert oldest.is_revoked
    assert oldest.revoked_reason == "session_limit"
    # The evicted session's tokens are dead.
    assert (
        post_json(client, REFRESH_URL, {"refresh_token": pairs[0]["refresh_token"]}).status_code
        == 401
    )
    assert client.get(SESSIONS_URL, **bearer(pairs[0]["access_token"])).status_code == 401
    [event] = _events(user, "session_revoked")
    assert event.details == {"session_id": sids[0], "reason": "session_limit"}
    # Another user's sessions are untouched.
    assert Session.objects.filter(user=other, is_revoked=False).count() == 1


# Audit (ASVS 5.0 V16.3)


def test_asvs_16_3_login_events_carry_user_ip_user_agent_and_request_id(client: Client) -> None:
    user = make_user()
    context = {"HTTP_USER_AGENT": "AuditAgent/1.0", "HTTP_X_REQUEST_ID": "req-audit-1"}

    login(client, "alice_w", "wrong password!", ip="192.0.2.44", headers=context)
    login(
        client,
        "alice_w",
        PASSWORD,
        ip="192.0.2.45",
        headers={**context, "HTTP_X_REQUEST_ID": "req-2"},
    )

    failed, success = _events(user)
    assert failed.event_type == "login_failed"
    assert (failed.ip_address, failed.user_agent, failed.request_id) == (
        "192.0.2.44",
        "AuditAgent/1.0",
        "req-audit-1",
    )
    assert success.event_type == "login_success"
    assert (success.user_id, success.ip_address, success.request_id) == (
        user.pk,
        "192.0.2.45",
        "req-2",
    )
    assert success.details["session_id"] == str(Session.objects.get(user=user).pk)
    assert success.created_at.tzinfo is not None


# Bad input: 400 (wrong shape), 422 (a rule broken) or 413 (too large), never 500


@pytest.mark.parametrize(
    ("body", "field", "expected"),
    [
        ({"password": PASSWORD}, "login", BAD_SHAPE),
        ({"login": "alice_w"}, "password", BAD_SHAPE),
        ({"login": 12345, "password": PASSWORD}, "login", BAD_SHAPE),
        ({"login": "alice_w", "password": ["x"]}, "password", BAD_SHAPE),
        ({"login": "alice_w", "password": True}, "password", BAD_SHAPE),
        ({"login": "alice_w", "password": {"$ne": ""}}, "password", BAD_SHAPE),
        (
            {"login": "alice_w", "password": PASSWORD, "device_fingerprint": 7},
            "device_fingerprint",
            BAD_SHAPE,
        ),
        ({"login": "alice_w", "password": PASSWORD, "remember_me": True}, "remember_me", BAD_SHAPE),
        ({"login": "a" * 300, "password": PASSWORD}, "login", BROKEN_RULE),
        ({"login": "alice\u0000w", "password": PASSWORD}, "login", BAD_SHAPE),
    ],
)
def test_bad_login_input_is_a_4xx_with_field_errors(
    client: Client, body: dict[str, Any], field: str, expected: tuple[int, str]
) -> None:
    response = post_json(client, LOGIN_URL, body)

    problem = assert_problem(response, *expected)
    assert field in {error["field"] for error in problem["errors"]}
    assert not Session.objects.exists()


def test_a_1mb_password_is_a_413_and_no_failed_login(client: Client) -> None:
    make_user()

    response = login(client, password="p" * 1_000_000)

    assert_too_large(response)
    assert not Session.objects.exists()
    assert not SecurityEvent.objects.exists()
    login_ok(client)


@pytest.mark.parametrize("raw", ['{"login": "alice_w", "password": ', "not json", "[]", "null"])
def test_malformed_login_bodies_are_a_400(client: Client, raw: str) -> None:
    response = client.post(LOGIN_URL, data=raw, content_type="application/json")

    assert response.status_code == 400
    assert_problem(response, 400, response.json()["code"])
    assert response.json()["code"] in {"MALFORMED_REQUEST", "VALIDATION_FAILED"}
