"""Forgotten passwords (mailed reset link) and password change while signed in."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from alephdraad_core.accounts.models import PasswordResetToken, User
from alephdraad_core.authn.models import Session
from alephdraad_core.security.models import SecurityEvent
from tests.accounts_helpers import (
    NEW_PASSWORD,
    PASSWORD,
    SignedIn,
    make_user,
    outbox,
    post_json,
    sign_in,
    token_in,
)
from tests.conftest import (
    BAD_SHAPE,
    BROKEN_RULE,
    assert_problem,
    assert_too_large,
    error_fields,
)
from tests.mfa_support import SUDO_HEADER, sudo_token

FORGOT = "/api/v1/auth/password/forgot"
RESET = "/api/v1/auth/password/reset"
CHANGE = "/api/v1/me/password"
VERIFY_REQUEST = "/api/v1/auth/verify-email/request"

pytestmark = pytest.mark.django_db


def reset_token(client: Client, email: str = "mira@example.com") -> str:
    assert post_json(client, FORGOT, {"email": email}).status_code == 202
    return token_in(outbox(kind="password_reset")[-1], "/reset-password")


def with_sudo(client: Client, signed_in: SignedIn) -> dict[str, str]:
    """The signed-in session's headers plus a sudo token of that session (POST /auth/sudo)."""
    return {**signed_in.headers, SUDO_HEADER: sudo_token(client, signed_in.access_token, PASSWORD)}


def field_errors(body: dict) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for error in body.get("errors", []):
        errors.setdefault(error["field"], []).append(error["message"])
    return errors


# Forgot


def test_forgot_mails_a_one_hour_reset_link_storing_only_its_hash(client: Client) -> None:
    user = make_user()

    response = post_json(client, FORGOT, {"email": "  MIRA@example.com"})

    assert response.status_code == 202
    (mail,) = outbox()
    assert (mail.kind, mail.to_address) == ("password_reset", "mira@example.com")
    token = token_in(mail, "/reset-password")
    stored = PasswordResetToken.objects.get()
    assert stored.user_id == user.pk
    assert stored.token == hashlib.sha256(token.encode()).hexdigest()
    assert len(token) == 43
    assert abs(stored.expires_at - (timezone.now() + timedelta(hours=1))) < timedelta(seconds=30)


def test_asvs_6_3_8_forgot_answers_the_same_whatever_the_address(client: Client) -> None:
    make_user()

    known = post_json(client, FORGOT, {"email": "mira@example.com"})
    unknown = post_json(client, FORGOT, {"email": "nobody@example.com"})

    assert known.status_code == unknown.status_code == 202
    assert known.content == unknown.content
    assert [m.to_address for m in outbox()] == ["mira@example.com"]


def test_at_most_3_reset_mails_per_address_per_day_silently(client: Client) -> None:
    make_user()

    answers = [
        post_json(client, FORGOT, {"email": "mira@example.com"}, **{"X-Real-IP": f"192.0.2.{n}"})
        for n in range(5)
    ]

    assert [a.status_code for a in answers] == [202] * 5
    assert len(outbox(kind="password_reset")) == 3
    assert PasswordResetToken.objects.count() == 3


def test_forgot_and_verification_requests_share_the_per_ip_limit(client: Client) -> None:
    ip = {"X-Real-IP": "198.51.100.40"}
    for number in range(10):
        path = FORGOT if number % 2 else VERIFY_REQUEST
        assert post_json(client, path, {"email": "x@example.com"}, **ip).status_code == 202

    response = post_json(client, FORGOT, {"email": "x@example.com"}, **ip)

    assert_problem(response, 429, "RATE_LIMITED")


# Reset


def test_asvs_7_4_3_password_reset_revokes_every_session(client: Client) -> None:
    user = make_user(verified=False)
    first, second = sign_in(user), sign_in(user)
    token = reset_token(client)

    response = post_json(
        client,
        RESET,
        {"token": token, "new_password": NEW_PASSWORD},
        **{"X-Real-IP": "192.0.2.9", "User-Agent": "ResetUA", "X-Request-ID": "reset-1"},
    )

    assert response.status_code == 200, response.content
    assert set(response.json()) == {"message"}
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert not user.check_password(PASSWORD)
    # The link reached the mailbox: that verifies the address as well.
    assert user.is_verified is True
    for session in (first.session, second.session):
        session.refresh_from_db()
        assert (session.is_revoked, session.revoked_reason) == (True, "password_reset")
    # The old access tokens stop working at once, not when they expire.
    assert_problem(client.get("/api/v1/me", headers=first.headers), 401, "AUTH_SESSION_REVOKED")
    event = SecurityEvent.objects.get(event_type="password_reset")
    assert (event.user_id, str(event.ip_address), event.user_agent, event.request_id) == (
        user.pk,
        "192.0.2.9",
        "ResetUA",
        "reset-1",
    )
    assert event.details == {"sessions_revoked": 2}


def test_asvs_6_3_7_password_reset_notice_is_mailed(client: Client) -> None:
    make_user()
    token = reset_token(client)

    post_json(client, RESET, {"token": token, "new_password": NEW_PASSWORD})

    (notice,) = outbox(kind="password_changed")
    assert notice.to_address == "mira@example.com"
    assert "wasn't you" in notice.body_text
    assert "/reset-password?token=" not in notice.body_text


def test_asvs_6_4_1_reset_token_is_single_use(client: Client) -> None:
    make_user()
    token = reset_token(client)
    assert (
        post_json(client, RESET, {"token": token, "new_password": NEW_PASSWORD}).status_code == 200
    )

    again = post_json(client, RESET, {"token": token, "new_password": "another fine passphrase"})

    assert_problem(again, 400, "RESET_TOKEN_INVALID")
    assert User.objects.get().check_password(NEW_PASSWORD)


def test_asvs_6_4_1_reset_token_expires_after_an_hour(client: Client) -> None:
    make_user()
    token = reset_token(client)
    PasswordResetToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = post_json(client, RESET, {"token": token, "new_password": NEW_PASSWORD})

    body = assert_problem(response, 400, "RESET_TOKEN_INVALID")
    assert User.objects.get().check_password(PASSWORD)
    unknown = post_json(client, RESET, {"token": "y" * 43, "new_password": NEW_PASSWORD})
    assert assert_problem(unknown, 400, "RESET_TOKEN_INVALID")["detail"] == body["detail"]


def test_a_reset_spends_the_accounts_other_reset_links(client: Client) -> None:
    make_user()
    older = reset_token(client)
    newer = reset_token(client)

    assert (
        post_json(client, RESET, {"token": newer, "new_password": NEW_PASSWORD}).status_code == 200
    )

    response = post_json(client, RESET, {"token": older, "new_password": "another fine passphrase"})
    assert_problem(response, 400, "RESET_TOKEN_INVALID")
    assert not PasswordResetToken.objects.filter(used_at__isnull=True).exists()


def test_a_refused_new_password_leaves_the_token_usable(client: Client) -> None:
    user = make_user()
    session = sign_in(user).session
    token = reset_token(client)

    weak = post_json(client, RESET, {"token": token, "new_password": "password123"})
    like_email = post_json(client, RESET, {"token": token, "new_password": "mira@example.com"})

    assert field_errors(assert_problem(weak, 422, "UNPROCESSABLE_CONTENT")) == {
        "new_password": ["This password is too common."]
    }
    assert list(field_errors(assert_problem(like_email, 422, "UNPROCESSABLE_CONTENT"))) == [
        "new_password"
    ]
    assert PasswordResetToken.objects.get().used_at is None
    session.refresh_from_db()
    assert session.is_revoked is False
    assert (
        post_json(client, RESET, {"token": token, "new_password": NEW_PASSWORD}).status_code == 200
    )


# Stands for the token of a real reset link in the bodies below.
MAILED_TOKEN = "<mailed token>"


def _with_mailed_token(value: Any, token: str) -> Any:
    if isinstance(value, dict):
        return {name: _with_mailed_token(item, token) for name, item in value.items()}
    if isinstance(value, list):
        return [_with_mailed_token(item, token) for item in value]
    return token if value == MAILED_TOKEN else value


@pytest.mark.parametrize(
    ("body", "fields", "expected"),
    [
        ({"token": MAILED_TOKEN}, {"new_password"}, BAD_SHAPE),
        ({"new_password": NEW_PASSWORD}, {"token"}, BAD_SHAPE),
        ({"token": MAILED_TOKEN, "new_password": "short"}, {"new_password"}, BROKEN_RULE),
        ({"token": MAILED_TOKEN, "new_password": "p" * 129}, {"new_password"}, BROKEN_RULE),
        ({"token": [MAILED_TOKEN], "new_password": NEW_PASSWORD}, {"token"}, BAD_SHAPE),
        (
            {"token": MAILED_TOKEN, "new_password": NEW_PASSWORD, "email": "mira@example.com"},
            {"email"},
            BAD_SHAPE,
        ),
    ],
    ids=["missing-password", "missing-token", "short", "long", "list-token", "unknown-field"],
)
def test_reset_bad_input_is_a_field_error(
    client: Client, body: dict[str, Any], fields: set[str], expected: tuple[int, str]
) -> None:
    make_user()
    token = reset_token(client)

    response = post_json(client, RESET, _with_mailed_token(body, token))

    assert error_fields(assert_problem(response, *expected)) == fields
    assert PasswordResetToken.objects.get().used_at is None
    assert User.objects.get().check_password(PASSWORD)
    assert not SecurityEvent.objects.filter(event_type="password_reset").exists()


def test_reset_with_a_1mb_password_is_a_413_and_spends_nothing(client: Client) -> None:
    make_user()
    token = reset_token(client)

    response = post_json(client, RESET, {"token": token, "new_password": "p" * 1_000_000})

    assert_too_large(response)
    assert PasswordResetToken.objects.get().used_at is None
    assert User.objects.get().check_password(PASSWORD)
    assert not SecurityEvent.objects.filter(event_type="password_reset").exists()
    # The link still works.
    assert (
        post_json(client, RESET, {"token": token, "new_password": NEW_PASSWORD}).status_code == 200
    )


# Change


def test_asvs_7_4_3_password_change_revokes_other_sessions(client: Client) -> None:
    user = make_user()
    current, other = sign_in(user), sign_in(user)
    stranger = sign_in(make_user(email="x@example.com", username="stranger"))

    response = post_json(
        client,
        CHANGE,
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        **with_sudo(client, current),
        **{"X-Real-IP": "192.0.2.77", "User-Agent": "ChangeUA", "X-Request-ID": "change-1"},
    )

    assert response.status_code == 200, response.content
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    other.session.refresh_from_db()
    assert (other.session.is_revoked, other.session.revoked_reason) == (True, "password_changed")
    assert Session.objects.get(pk=current.session.pk).is_revoked is False
    assert Session.objects.get(pk=stranger.session.pk).is_revoked is False
    assert client.get("/api/v1/me", headers=current.headers).status_code == 200
    assert_problem(client.get("/api/v1/me", headers=other.headers), 401, "AUTH_SESSION_REVOKED")
    event = SecurityEvent.objects.get(event_type="password_changed")
    assert (event.user_id, str(event.ip_address), event.user_agent, event.request_id) == (
        user.pk,
        "192.0.2.77",
        "ChangeUA",
        "change-1",
    )
    assert event.details == {"sessions_revoked": 1}


def test_asvs_6_3_7_password_change_notice_is_mailed(client: Client) -> None:
    signed_in = sign_in(make_user())

    post_json(
        client,
        CHANGE,
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        **with_sudo(client, signed_in),
    )

    (notice,) = outbox()
    assert (notice.kind, notice.to_address) == ("password_changed", "mira@example.com")
    assert "wasn't you" in notice.body_text


def test_asvs_6_2_3_change_needs_the_current_password(client: Client) -> None:
    user = make_user()
    current, other = sign_in(user), sign_in(user)

    response = post_json(
        client,
        CHANGE,
        {"current_password": "not-my-password", "new_password": NEW_PASSWORD},
        **with_sudo(client, current),
    )

    body = assert_problem(response, 400, "PASSWORD_INCORRECT")
    assert field_errors(body) == {"current_password": ["The password is incorrect."]}
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert Session.objects.get(pk=other.session.pk).is_revoked is False
    assert outbox() == []
    assert SecurityEvent.objects.get(event_type="password_change_failed").user_id == user.pk
    assert not SecurityEvent.objects.filter(event_type="password_changed").exists()


def test_asvs_6_2_4_change_refuses_a_common_new_password(client: Client) -> None:
    signed_in = sign_in(make_user())

    response = post_json(
        client,
        CHANGE,
        {"current_password": PASSWORD, "new_password": "password123"},
        **with_sudo(client, signed_in),
    )

    assert field_errors(assert_problem(response, 422, "UNPROCESSABLE_CONTENT")) == {
        "new_password": ["This password is too common."]
    }
    assert User.objects.get().check_password(PASSWORD)
    assert outbox() == []


def test_asvs_6_3_1_password_change_attempts_are_limited_per_user(client: Client) -> None:
    user = make_user()
    headers = with_sudo(client, sign_in(user))
    wrong = {"current_password": "guess-number-n", "new_password": NEW_PASSWORD}
    for _ in range(5):
        assert_problem(post_json(client, CHANGE, wrong, **headers), 400, "PASSWORD_INCORRECT")

    # Even the right password waits now, from any session or address.
    right = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    response = post_json(
        client, CHANGE, right, **with_sudo(client, sign_in(user)), **{"X-Real-IP": "192.0.2.1"}
    )

    assert_problem(response, 429, "RATE_LIMITED")
    assert 1 <= int(response["Retry-After"]) <= 15 * 60
    assert User.objects.get().check_password(PASSWORD)


def test_change_needs_a_signed_in_user(client: Client) -> None:
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}

    response = post_json(client, CHANGE, body)

    assert_problem(response, 401, "UNAUTHENTICATED")


@pytest.mark.parametrize(
    ("body", "fields", "expected"),
    [
        ({"current_password": PASSWORD}, {"new_password"}, BAD_SHAPE),
        ({"current_password": PASSWORD, "new_password": "p" * 129}, {"new_password"}, BROKEN_RULE),
        ({"current_password": PASSWORD, "new_password": 12345678}, {"new_password"}, BAD_SHAPE),
        (
            {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "keep_sessions": True},
            {"keep_sessions"},
            BAD_SHAPE,
        ),
    ],
    ids=["missing-new", "long-new", "int-new", "unknown-field"],
)
def test_change_bad_input_is_a_field_error(
    client: Client, body: dict[str, Any], fields: set[str], expected: tuple[int, str]
) -> None:
    signed_in = sign_in(make_user())

    response = post_json(client, CHANGE, body, **with_sudo(client, signed_in))

    assert error_fields(assert_problem(response, *expected)) == fields
    assert User.objects.get().check_password(PASSWORD)
    assert not SecurityEvent.objects.filter(
        event_type__in=["password_changed", "password_change_failed"]
    ).exists()


def test_change_with_a_1mb_current_password_is_a_413_and_counts_nothing(client: Client) -> None:
    user = make_user()
    current, other = sign_in(user), sign_in(user)
    body = {"current_password": "p" * 1_000_000, "new_password": NEW_PASSWORD}

    response = post_json(client, CHANGE, body, **with_sudo(client, current))

    assert_too_large(response)
    assert User.objects.get().check_password(PASSWORD)
    assert Session.objects.get(pk=other.session.pk).is_revoked is False
    # Never read, so not a wrong guess either.
    assert not SecurityEvent.objects.filter(
        event_type__in=["password_changed", "password_change_failed"]
    ).exists()
    assert outbox() == []
