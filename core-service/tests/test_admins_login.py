"""POST /api/v1/admin/auth/login and the separation of admin and user tokens."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from alephdraad_core.admins import services as admin_services
from alephdraad_core.admins.models import Admin
from alephdraad_core.authn import tokens
from alephdraad_core.authn.tokens import ADMIN_AUDIENCE, USER_AUDIENCE, decode_token
from alephdraad_core.security.models import SecurityEvent
from tests.admins_helpers import (
    ADMIN_PASSWORD,
    admin_token,
    bearer,
    get,
    make_admin,
    make_session,
    make_user,
    next_ip,
    post_json,
    user_token,
)
from tests.admins_urls import USER_ENDPOINT
from tests.conftest import assert_problem, assert_too_large

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.admins_urls")]


def _login(client: Client, email: str, password: str, ip: str, **extra: Any) -> Any:
    return post_json(
        client,
        "/auth/login",
        {"email": email, "password": password},
        HTTP_X_REAL_IP=ip,
        **extra,
    )


def test_login_returns_an_admin_token(client: Client) -> None:
    admin = make_admin("ops_lead", email="ops@example.com")
    before = timezone.now()

    response = _login(client, "OPS@example.com", ADMIN_PASSWORD, next_ip())

    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "admin"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 600
    assert body["admin"] == {"id": admin.pk, "email": "ops@example.com", "username": "ops_lead"}
    claims = decode_token(body["access_token"], audience=ADMIN_AUDIENCE)
    assert claims["sub"] == str(admin.pk)
    assert claims["username"] == "ops_lead"
    assert claims["exp"] - claims["iat"] == 600
    admin.refresh_from_db()
    assert admin.last_login_at is not None
    assert admin.last_login_at >= before.replace(microsecond=0)


def test_the_token_opens_the_admin_api(client: Client) -> None:
    make_admin(email="ops@example.com")
    token = _login(client, "ops@example.com", ADMIN_PASSWORD, next_ip()).json()["access_token"]

    response = get(client, "/users", token=token)

    assert response.status_code == 200, response.content


def test_asvs_16_3_1_successful_login_is_recorded(client: Client) -> None:
    admin = make_admin(email="ops@example.com")

    response = _login(
        client,
        "ops@example.com",
        ADMIN_PASSWORD,
        "198.51.100.4",
        HTTP_USER_AGENT="ops-console/1.0",
        HTTP_X_REQUEST_ID="req-admin-login-1",
    )

    assert response.status_code == 200
    event = SecurityEvent.objects.get()
    assert event.event_type == "admin_login_success"
    assert event.admin_id == admin.pk
    assert event.user_id is None
    assert event.ip_address == "198.51.100.4"
    assert event.user_agent == "ops-console/1.0"
    assert event.request_id == "req-admin-login-1"
    jti = decode_token(response.json()["access_token"], audience=ADMIN_AUDIENCE)["jti"]
    assert event.details == {"jti": jti}


@pytest.mark.parametrize(
    ("email", "password", "active", "reason"),
    [
        ("ops@example.com", "wrong-password-123", True, "wrong_password"),
        ("nobody@example.com", ADMIN_PASSWORD, True, "unknown_email"),
        ("ops@example.com", ADMIN_PASSWORD, False, "inactive"),
    ],
)
def test_asvs_6_3_8_failures_look_the_same_and_are_recorded(
    client: Client, email: str, password: str, active: bool, reason: str
) -> None:
    admin = make_admin(email="ops@example.com", is_active=active)

    response = _login(client, email, password, "198.51.100.9", HTTP_USER_AGENT="curl/8")

    body = assert_problem(response, 401, "ADMIN_INVALID_CREDENTIALS")
    assert body["detail"] == "The email or password is wrong."
    assert "errors" not in body
    admin.refresh_from_db()
    assert admin.last_login_at is None
    event = SecurityEvent.objects.get()
    assert event.event_type == "admin_login_failed"
    assert event.admin_id == (None if reason == "unknown_email" else admin.pk)
    assert event.ip_address == "198.51.100.9"
    assert event.user_agent == "curl/8"
    assert event.details == {"email": email, "reason": reason}


def test_asvs_6_3_8_unknown_email_still_verifies_a_password_hash(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Equal time by construction: every failure path runs exactly one Argon2 verification.
    calls: list[str] = []
    real_check = admin_services.check_password

    def counting_check(password: str, encoded: str, setter: Any = None) -> bool:
        calls.append(encoded.split("$", 1)[0])
        return real_check(password, encoded, setter)

    monkeypatch.setattr(admin_services, "check_password", counting_check)
    make_admin(email="ops@example.com", is_active=False)

    for email in ("nobody@example.com", "ops@example.com"):
        assert _login(client, email, ADMIN_PASSWORD, next_ip()).status_code == 401

    assert calls == ["argon2", "argon2"]


def test_asvs_6_3_1_sixth_attempt_from_one_ip_is_rate_limited(client: Client) -> None:
    make_admin(email="ops@example.com")
    ip = "192.0.2.50"

    for _ in range(5):
        assert_problem(
            _login(client, "ops@example.com", "wrong-password-123", ip),
            401,
            "ADMIN_INVALID_CREDENTIALS",
        )
    # Counted before the password is looked at: even the right password is refused now.
    response = _login(client, "ops@example.com", ADMIN_PASSWORD, ip)

    body = assert_problem(response, 429, "RATE_LIMITED")
    assert 1 <= int(response["Retry-After"]) <= 15 * 60
    assert response["RateLimit-Policy"] == "5;w=900"
    assert "Too many requests" in body["detail"]
    assert SecurityEvent.objects.filter(event_type="admin_login_failed").count() == 5
    assert not SecurityEvent.objects.filter(event_type="admin_login_success").exists()
    assert Admin.objects.get().last_login_at is None
    # Another client address has its own budget.
    assert _login(client, "ops@example.com", ADMIN_PASSWORD, "192.0.2.51").status_code == 200


def test_rate_limit_counts_malformed_attempts_too(client: Client) -> None:
    ip = "192.0.2.60"
    for _ in range(5):
        response = post_json(client, "/auth/login", "{nope", HTTP_X_REAL_IP=ip)
        assert_problem(response, 400, "MALFORMED_REQUEST")

    assert_problem(_login(client, "a@example.com", "x", ip), 429, "RATE_LIMITED")


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"email": "ops@example.com"}, {"password"}),
        ({"email": "ops@example.com", "password": "x", "otp": "123456"}, {"otp"}),
        ({"email": 12, "password": ["x"]}, {"email", "password"}),
        ({"email": "ops@example.com", "password": 123456789012}, {"password"}),
        ({"email": "not-an-email", "password": "x"}, {"email"}),
        ([], {""}),
        ("just a string", {""}),
    ],
)
def test_bad_input_is_a_400_with_field_errors(client: Client, body: Any, fields: set[str]) -> None:
    response = post_json(client, "/auth/login", json.dumps(body), HTTP_X_REAL_IP=next_ip())

    problem = assert_problem(response, 400, "VALIDATION_FAILED")
    assert {error["field"] for error in problem["errors"]} == fields
    assert not SecurityEvent.objects.exists()


def test_a_1mb_password_is_a_413_and_logs_no_failed_login(client: Client) -> None:
    admin = make_admin("ops_lead", email="ops@example.com")
    ip = next_ip()

    response = _login(client, "ops@example.com", "x" * 1_000_000, ip)

    assert_too_large(response)
    assert not SecurityEvent.objects.exists()
    admin.refresh_from_db()
    assert admin.last_login_at is None
    # No admin_login_failed event above, and the right password still gets in.
    assert _login(client, "ops@example.com", ADMIN_PASSWORD, ip).status_code == 200


def test_malformed_json_is_a_400(client: Client) -> None:
    response = post_json(client, "/auth/login", '{"email": ', HTTP_X_REAL_IP=next_ip())

    assert_problem(response, 400, "MALFORMED_REQUEST")


# Token audiences: an admin token is never a user token, nor the reverse (DESIGN section 4).


def _user_with_token() -> str:
    user = make_user()
    return user_token(user, make_session(user))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/admin/users"),
        ("get", "/api/v1/admin/users/1"),
        ("post", "/api/v1/admin/users/1/lock"),
        ("post", "/api/v1/admin/users/1/unlock"),
        ("post", "/api/v1/admin/users/1/sessions/revoke"),
        ("get", "/api/v1/admin/security-events"),
    ],
)
def test_asvs_8_2_1_user_token_is_refused_on_admin_endpoints(
    client: Client, method: str, path: str
) -> None:
    token = _user_with_token()
    # Sanity: the token is good where it belongs.
    assert client.get(USER_ENDPOINT, **bearer(token)).status_code == 200

    response = getattr(client, method)(path, **bearer(token))

    assert_problem(response, 401, "AUTH_TOKEN_INVALID")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_asvs_9_2_3_admin_token_is_refused_by_user_endpoints(client: Client) -> None:
    token = admin_token(make_admin())

    response = client.get(USER_ENDPOINT, **bearer(token))

    assert_problem(response, 401, "AUTH_TOKEN_INVALID")
    with pytest.raises(tokens.InvalidToken):
        decode_token(token, audience=USER_AUDIENCE)


def test_admin_endpoints_without_a_token_are_401(client: Client) -> None:
    response = client.get("/api/v1/admin/users")

    assert_problem(response, 401, "UNAUTHENTICATED")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_token_of_a_deactivated_admin_is_refused(client: Client) -> None:
    admin = make_admin()
    token = admin_token(admin)
    Admin.objects.filter(pk=admin.pk).update(is_active=False)

    assert_problem(get(client, "/users", token=token), 401, "AUTH_TOKEN_INVALID")


def test_expired_admin_token_is_refused(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    admin = make_admin()
    issued_long_ago = timezone.now() - timedelta(minutes=11)
    monkeypatch.setattr(tokens.timezone, "now", lambda: issued_long_ago)
    token = admin_token(admin)
    monkeypatch.undo()

    assert_problem(get(client, "/users", token=token), 401, "AUTH_TOKEN_INVALID")
