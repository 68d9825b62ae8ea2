"""Sudo mode: POST/GET/DELETE /api/v1/auth/sudo and the endpoints that need it (ASVS 5.0
V7.5.1 to V7.5.3: re-authentication before sensitive changes)."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import jwt
import pytest
from django.test import Client, RequestFactory
from django.utils import timezone

from alephdraad_core.accounts.models import User
from alephdraad_core.authn.models import Session
from alephdraad_core.mail.models import OutgoingMail
from alephdraad_core.mfa.models import BackupCode
from alephdraad_core.security.models import SecurityEvent
from alephdraad_core.sudo.models import SudoGrant
from alephdraad_core.sudo.services import do_grant_sudo
from tests.authn_support import (
    FAST_PASSWORD_HASHERS,
    LOGOUT_ALL_URL,
    PASSWORD,
    login_ok,
    make_user,
)
from tests.conftest import assert_problem, assert_too_large
from tests.mfa_support import (
    BACKUP_CODES_REGENERATE_URL,
    LOGIN_TOTP_URL,
    SUDO_URL,
    TOTP_DISABLE_URL,
    OtpClock,
    TwoFactor,
    call,
    freeze_otp_clock,
    start_login,
    turn_on_2fa,
    without_otp_delay,
)

pytestmark = pytest.mark.django_db

CHANGE_PASSWORD_URL = "/api/v1/me/password"


@pytest.fixture(autouse=True)
def _fast_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = FAST_PASSWORD_HASHERS


@pytest.fixture
def otp_clock(monkeypatch: pytest.MonkeyPatch) -> OtpClock:
    return freeze_otp_clock(monkeypatch)


@pytest.fixture
def no_otp_delay(settings: Any) -> None:
    without_otp_delay(settings)


def _sid(access_token: str) -> str:
    return str(jwt.decode(access_token, options={"verify_signature": False})["sid"])


def _events(event_type: str) -> list[SecurityEvent]:
    return list(SecurityEvent.objects.filter(event_type=event_type).order_by("id"))


def _grant(access_token: str) -> str:
    """A sudo token for the session of `access_token`, without the HTTP round trip."""
    session = Session.objects.get(pk=_sid(access_token))
    return do_grant_sudo(RequestFactory().post("/"), session=session, method="pwd").token


# Entering, reading and leaving sudo mode


def test_asvs_7_5_1_the_password_grants_15_minutes_bound_to_the_session(client: Client) -> None:
    user = make_user()
    token = login_ok(client)["access_token"]

    response = call(client, "POST", SUDO_URL, {"password": PASSWORD}, token=token)

    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"sudo_token", "expires_at"}
    grant = SudoGrant.objects.get()
    assert grant.token_hash == hashlib.sha256(body["sudo_token"].encode()).hexdigest()
    assert (str(grant.session_id), grant.method, grant.revoked_at) == (_sid(token), "pwd", None)
    assert abs(grant.expires_at - (timezone.now() + timedelta(minutes=15))) < timedelta(seconds=30)
    assert body["expires_at"].endswith("Z")
    [event] = _events("sudo_granted")
    assert (event.user_id, event.details["method"]) == (user.pk, "pwd")
    status = call(client, "GET", SUDO_URL, token=token).json()
    assert (status["active"], status["method"]) == (True, "pwd")
    assert status["expires_at"] == body["expires_at"]


def test_leaving_sudo_mode_ends_the_token(client: Client) -> None:
    make_user()
    token = login_ok(client)["access_token"]
    sudo = call(client, "POST", SUDO_URL, {"password": PASSWORD}, token=token).json()["sudo_token"]

    response = call(client, "DELETE", SUDO_URL, token=token)

    assert response.status_code == 204
    assert SudoGrant.objects.get().revoked_at is not None
    assert call(client, "GET", SUDO_URL, token=token).json() == {
        "active": False,
        "expires_at": None,
        "method": None,
    }
    assert_problem(
        call(client, "POST", LOGOUT_ALL_URL, {}, token=token, sudo=sudo), 403, "SUDO_REQUIRED"
    )
    assert len(_events("sudo_ended")) == 1


def test_a_new_grant_ends_the_previous_one(client: Client) -> None:
    make_user()
    token = login_ok(client)["access_token"]
    first = call(client, "POST", SUDO_URL, {"password": PASSWORD}, token=token).json()
    second = call(client, "POST", SUDO_URL, {"password": PASSWORD}, token=token).json()

    stale = call(client, "POST", LOGOUT_ALL_URL, {}, token=token, sudo=first["sudo_token"])
    fresh = call(
        client,
        "POST",
        LOGOUT_ALL_URL,
        {"keep_current": True},
        token=token,
        sudo=second["sudo_token"],
    )

    assert_problem(stale, 403, "SUDO_REQUIRED")
    assert fresh.status_code == 200, fresh.content


def test_a_wrong_password_grants_nothing(client: Client) -> None:
    user = make_user()
    token = login_ok(client)["access_token"]

    response = call(client, "POST", SUDO_URL, {"password": "not my password"}, token=token)

    body = assert_problem(response, 400, "PASSWORD_INCORRECT")
    assert body["errors"] == [{"field": "password", "message": "The password is incorrect."}]
    assert not SudoGrant.objects.exists()
    assert [(e.user_id, e.details) for e in _events("password_confirm_failed")] == [
        (user.pk, {"context": "sudo"})
    ]


def test_asvs_6_3_1_wrong_passwords_are_limited_per_account(client: Client) -> None:
    make_user()
    token = login_ok(client)["access_token"]
    for _ in range(5):
        wrong = call(client, "POST", SUDO_URL, {"password": "guess again"}, token=token)
        assert_problem(wrong, 400, "PASSWORD_INCORRECT")

    # From any session and address, even the right password waits now.
    other = login_ok(client)["access_token"]
    response = call(client, "POST", SUDO_URL, {"password": PASSWORD}, token=other)

    assert_problem(response, 429, "RATE_LIMITED")
    assert 1 <= int(response["Retry-After"]) <= 15 * 60
    assert not SudoGrant.objects.exists()


# With 2FA on a code is needed as well (ASVS V7.5.3)


@pytest.fixture
def two_factor(client: Client, otp_clock: OtpClock) -> TwoFactor:
    make_user()
    return turn_on_2fa(client, otp_clock)


def test_asvs_7_5_3_with_2fa_the_password_alone_is_not_enough(
    client: Client, two_factor: TwoFactor
) -> None:
    response = call(client, "POST", SUDO_URL, {"password": PASSWORD}, token=two_factor.access_token)

    body = assert_problem(response, 400, "MFA_CODE_REQUIRED")
    assert [error["field"] for error in body["errors"]] == ["code"]
    assert not SudoGrant.objects.exists()


def test_asvs_7_5_3_a_totp_code_grants_pwd_otp(
    client: Client, otp_clock: OtpClock, two_factor: TwoFactor
) -> None:
    body = {"password": PASSWORD, "code": two_factor.code(otp_clock)}

    response = call(client, "POST", SUDO_URL, body, token=two_factor.access_token)

    assert response.status_code == 200, response.content
    assert SudoGrant.objects.get().method == "pwd+otp"
    assert (
        call(client, "GET", SUDO_URL, token=two_factor.access_token).json()["method"] == "pwd+otp"
    )
    # The code is spent like at login.
    again = call(client, "POST", SUDO_URL, body, token=two_factor.access_token)
    assert_problem(again, 400, "TOTP_CODE_INVALID")


def test_a_backup_code_grants_pwd_backup_and_is_spent(
    client: Client, two_factor: TwoFactor
) -> None:
    body = {"password": PASSWORD, "code": two_factor.backup_codes[0]}

    response = call(client, "POST", SUDO_URL, body, token=two_factor.access_token)

    assert response.status_code == 200, response.content
    assert SudoGrant.objects.get().method == "pwd+backup"
    assert BackupCode.objects.filter(is_used=True).count() == 1
    assert OutgoingMail.objects.filter(kind="backup_code_used").count() == 1
    assert [e.details for e in _events("backup_code_used")] == [{"context": "sudo", "remaining": 9}]
    assert_problem(
        call(client, "POST", SUDO_URL, body, token=two_factor.access_token),
        400,
        "BACKUP_CODE_INVALID",
    )


def test_a_wrong_code_grants_nothing(
    client: Client, otp_clock: OtpClock, two_factor: TwoFactor
) -> None:
    right = two_factor.code(otp_clock)
    wrong = f"{(int(right) + 5) % 1_000_000:06d}"

    response = call(
        client,
        "POST",
        SUDO_URL,
        {"password": PASSWORD, "code": wrong},
        token=two_factor.access_token,
    )

    assert_problem(response, 400, "TOTP_CODE_INVALID")
    assert not SudoGrant.objects.exists()
    assert [e.details for e in _events("totp_failed")] == [{"context": "sudo"}]


# Every protected endpoint refuses without a live sudo token of the same session


PROTECTED = [
    ("logout-all", LOGOUT_ALL_URL, {}),
    (
        "password",
        CHANGE_PASSWORD_URL,
        {"current_password": PASSWORD, "new_password": "n3w pass phrase"},
    ),
    ("totp-disable", TOTP_DISABLE_URL, {"password": PASSWORD, "code": "123456"}),
    ("backup-codes", BACKUP_CODES_REGENERATE_URL, {}),
]


def _nothing_changed(user: User, sessions: int, code_hashes: set[str]) -> None:
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert user.totp_enabled is True
    assert Session.objects.filter(user=user, is_revoked=False).count() == sessions
    assert set(BackupCode.objects.values_list("code_hash", flat=True)) == code_hashes


@pytest.mark.parametrize(("name", "url", "body"), PROTECTED, ids=[p[0] for p in PROTECTED])
def test_asvs_7_5_1_protected_endpoints_answer_sudo_required(
    client: Client, otp_clock: OtpClock, two_factor: TwoFactor, name: str, url: str, body: Any
) -> None:
    user = User.objects.get()
    token = two_factor.access_token
    other_session = call(
        client,
        "POST",
        LOGIN_TOTP_URL,
        {"mfa_token": start_login(client), "code": two_factor.code(otp_clock)},
    ).json()["access_token"]
    make_user("bob_the_b")
    strangers = login_ok(client, "bob_the_b")["access_token"]
    expired = _grant(token)
    SudoGrant.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    ended = _grant(token)
    SudoGrant.objects.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
    refused = {
        "missing": None,
        "garbage": "not-a-sudo-token",
        "expired": expired,
        "ended": ended,
        "other-session": _grant(other_session),
        "other-user": _grant(strangers),
    }
    sessions = Session.objects.filter(user=user, is_revoked=False).count()
    code_hashes = set(BackupCode.objects.values_list("code_hash", flat=True))

    for case, sudo in refused.items():
        response = call(client, "POST", url, body, token=token, sudo=sudo)
        problem = assert_problem(response, 403, "SUDO_REQUIRED")
        assert "X-Sudo-Token" in problem["detail"], case

    _nothing_changed(user, sessions, code_hashes)
    # No token at all is still 401, not 403.
    assert_problem(call(client, "POST", url, body), 401, "UNAUTHENTICATED")


def test_asvs_7_5_2_logout_all_with_sudo_ends_the_other_sessions(client: Client) -> None:
    user = make_user()
    others = [login_ok(client)["access_token"] for _ in range(2)]
    token = login_ok(client)["access_token"]
    sudo = call(client, "POST", SUDO_URL, {"password": PASSWORD}, token=token).json()["sudo_token"]

    response = call(client, "POST", LOGOUT_ALL_URL, {"keep_current": True}, token=token, sudo=sudo)

    assert response.json() == {"revoked": 2}
    assert [
        str(pk)
        for pk in Session.objects.filter(user=user, is_revoked=False).values_list("pk", flat=True)
    ] == [_sid(token)]
    for other in others:
        assert_problem(call(client, "GET", SUDO_URL, token=other), 401, "AUTH_SESSION_REVOKED")


# Bad input


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"password": None},
        {"password": 12345678},
        {"password": PASSWORD, "code": "12345"},
        {"password": PASSWORD, "code": "ABCD-EFG0"},
        {"password": PASSWORD, "code": 123456},
        {"password": PASSWORD, "totp_code": "123456"},
        [PASSWORD],
    ],
    ids=["empty", "null", "int", "short-code", "confusable", "int-code", "unknown", "array"],
)
def test_sudo_bad_input_is_a_400(client: Client, body: Any) -> None:
    make_user()
    token = login_ok(client)["access_token"]

    response = call(client, "POST", SUDO_URL, body, token=token)

    assert_problem(response, 400, "VALIDATION_FAILED")
    assert not SudoGrant.objects.exists()
    assert not _events("password_confirm_failed")


def test_sudo_with_a_1mb_password_is_a_413_and_grants_nothing(client: Client) -> None:
    make_user()
    token = login_ok(client)["access_token"]

    response = call(client, "POST", SUDO_URL, {"password": "p" * 1_000_000}, token=token)

    assert_too_large(response)
    assert not SudoGrant.objects.exists()
    assert not _events("password_confirm_failed")


def test_sudo_malformed_json_is_a_400_and_anonymous_is_a_401(client: Client) -> None:
    make_user()
    token = login_ok(client)["access_token"]

    malformed = client.generic(
        "POST",
        SUDO_URL,
        '{"password": ',
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )

    assert_problem(malformed, 400, "MALFORMED_REQUEST")
    for method in ("GET", "POST", "DELETE"):
        assert_problem(
            call(client, method, SUDO_URL, {"password": PASSWORD}), 401, "UNAUTHENTICATED"
        )


def test_a_sudo_token_survives_refresh_of_its_session(client: Client) -> None:
    make_user()
    pair = login_ok(client)
    sudo = call(
        client, "POST", SUDO_URL, {"password": PASSWORD}, token=pair["access_token"]
    ).json()["sudo_token"]
    refreshed = call(
        client, "POST", "/api/v1/auth/refresh", {"refresh_token": pair["refresh_token"]}
    )
    new_access = refreshed.json()["access_token"]

    response = call(
        client, "POST", LOGOUT_ALL_URL, {"keep_current": True}, token=new_access, sudo=sudo
    )

    assert response.status_code == 200, response.content
