"""Two-step login: password, then a TOTP or backup code (ASVS 5.0 V6.3, V6.5)."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import jwt
import pytest
from django.test import Client
from django.utils import timezone

from alephdraad_core.accounts.models import User
from alephdraad_core.authn.models import Session
from alephdraad_core.authn.services import hash_device_fingerprint
from alephdraad_core.mail.models import OutgoingMail
from alephdraad_core.mfa.models import BackupCode, MfaLoginToken
from alephdraad_core.security.models import SecurityEvent
from tests.accounts_helpers import token_in
from tests.authn_support import (
    FAST_PASSWORD_HASHERS,
    PASSWORD,
    SESSIONS_URL,
    bearer,
    login,
    make_user,
)
from tests.conftest import assert_problem, assert_too_large
from tests.mfa_support import (
    LOGIN_BACKUP_CODE_URL,
    LOGIN_TOTP_URL,
    SUDO_URL,
    OtpClock,
    TwoFactor,
    authenticator_code,
    call,
    freeze_otp_clock,
    start_login,
    turn_on_2fa,
    without_otp_delay,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = FAST_PASSWORD_HASHERS


@pytest.fixture
def otp_clock(monkeypatch: pytest.MonkeyPatch) -> OtpClock:
    return freeze_otp_clock(monkeypatch)


@pytest.fixture
def no_otp_delay(settings: Any) -> None:
    without_otp_delay(settings)


@pytest.fixture
def two_factor(client: Client, otp_clock: OtpClock) -> TwoFactor:
    make_user()
    return turn_on_2fa(client, otp_clock)


def _claims(body: dict[str, Any]) -> dict[str, Any]:
    return jwt.decode(body["access_token"], options={"verify_signature": False})


def _events(event_type: str) -> list[SecurityEvent]:
    return list(SecurityEvent.objects.filter(event_type=event_type).order_by("id"))


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


# The two steps


def test_asvs_6_3_3_a_right_password_alone_opens_no_session(
    client: Client, two_factor: TwoFactor
) -> None:
    sessions_before = Session.objects.count()

    response = login(client, device_fingerprint="fp-raw-1")

    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"mfa_required", "mfa_token", "methods", "expires_in"}
    assert (body["mfa_required"], body["methods"], body["expires_in"]) == (
        True,
        ["totp", "backup_code"],
        300,
    )
    assert len(body["mfa_token"]) >= 43
    assert Session.objects.count() == sessions_before
    pending = MfaLoginToken.objects.get()
    assert pending.token_hash == hashlib.sha256(body["mfa_token"].encode()).hexdigest()
    assert pending.device_fingerprint == hash_device_fingerprint("fp-raw-1")
    assert pending.used_at is None
    assert abs(pending.expires_at - (timezone.now() + timedelta(minutes=5))) < timedelta(seconds=30)
    assert len(_events("mfa_challenge_issued")) == 1


def test_the_totp_step_opens_the_session_with_amr_pwd_otp(
    client: Client, otp_clock: OtpClock, two_factor: TwoFactor
) -> None:
    user = User.objects.get()
    mfa_token = start_login(client, device_fingerprint="fp-raw-2")

    response = call(
        client, "POST", LOGIN_TOTP_URL, {"mfa_token": mfa_token, "code": two_factor.code(otp_clock)}
    )

    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in", "user"}
    assert body["user"]["totp_enabled"] is True
    claims = _claims(body)
    assert (claims["amr"], claims["mfa"], claims["sub"]) == (["pwd", "otp"], True, str(user.pk))
    session = Session.objects.get(pk=claims["sid"])
    assert session.amr == ["pwd", "otp"]
    assert session.device_fingerprint == hash_device_fingerprint("fp-raw-2")
    assert MfaLoginToken.objects.get().used_at is not None
    assert client.get(SESSIONS_URL, **bearer(body["access_token"])).status_code == 200
    [success] = _events("mfa_login_success")
    assert success.details == {"method": "totp", "session_id": str(session.pk)}
    assert _events("login_success")[-1].details["amr"] == ["pwd", "otp"]
    # Every use of a factor is mailed to the owner.
    notice = OutgoingMail.objects.get(kind="totp_login")
    assert notice.to_address == user.email
    assert "authenticator app" in notice.body_text


def test_asvs_6_5_1_the_code_that_enabled_2fa_cannot_log_in(
    client: Client, otp_clock: OtpClock, two_factor: TwoFactor
) -> None:
    mfa_token = start_login(client)
    same_step = authenticator_code(two_factor.secret, otp_clock.now)

    reused = call(client, "POST", LOGIN_TOTP_URL, {"mfa_token": mfa_token, "code": same_step})

    assert_problem(reused, 400, "TOTP_CODE_INVALID")
    assert MfaLoginToken.objects.get().used_at is None


def test_asvs_6_5_1_a_login_code_cannot_be_replayed(
    client: Client, otp_clock: OtpClock, two_factor: TwoFactor, no_otp_delay: None
) -> None:
    code = two_factor.code(otp_clock)
    first = call(client, "POST", LOGIN_TOTP_URL, {"mfa_token": start_login(client), "code": code})
    assert first.status_code == 200, first.content

    # Someone who saw the code uses it at once, with the password, in the same 30 s.
    replay = call(client, "POST", LOGIN_TOTP_URL, {"mfa_token": start_login(client), "code": code})

    assert_problem(replay, 400, "TOTP_CODE_INVALID")
    assert Session.objects.filter(amr=["pwd", "otp"]).count() == 1


def test_a_wrong_code_keeps_the_login_step_usable(
    client: Client, otp_clock: OtpClock, two_factor: TwoFactor, no_otp_delay: None
) -> None:
    mfa_token = start_login(client)
    code = two_factor.code(otp_clock)

    wrong = call(client, "POST", LOGIN_TOTP_URL, {"mfa_token": mfa_token, "code": _wrong(code)})
    right = call(client, "POST", LOGIN_TOTP_URL, {"mfa_token": mfa_token, "code": code})

    assert_problem(wrong, 400, "TOTP_CODE_INVALID")
    assert right.status_code == 200, right.content
    assert [e.details for e in _events("totp_failed")] == [{"context": "login"}]


def test_the_login_step_is_single_use(
    client: Client, otp_clock: OtpClock, two_factor: TwoFactor
) -> None:
    mfa_token = start_login(client)
    body = {"mfa_token": mfa_token, "code": two_factor.code(otp_clock)}
    assert call(client, "POST", LOGIN_TOTP_URL, body).status_code == 200

    again = call(
        client, "POST", LOGIN_TOTP_URL, {"mfa_token": mfa_token, "code": two_factor.code(otp_clock)}
    )

    assert_problem(again, 401, "MFA_TOKEN_INVALID")
    assert Session.objects.filter(amr=["pwd", "otp"]).count() == 1


def test_asvs_6_5_5_the_login_step_expires_after_5_minutes(
    client: Client, otp_clock: OtpClock, two_factor: TwoFactor
) -> None:
    mfa_token = start_login(client)
    MfaLoginToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = call(
        client, "POST", LOGIN_TOTP_URL, {"mfa_token": mfa_token, "code": two_factor.code(otp_clock)}
    )

    assert_problem(response, 401, "MFA_TOKEN_INVALID")
    assert Session.objects.filter(amr=["pwd", "otp"]).count() == 0
    assert not _events("totp_failed")  # no code was looked at


def test_an_unknown_login_step_is_a_401(client: Client, two_factor: TwoFactor) -> None:
    for url, code in [(LOGIN_TOTP_URL, "123456"), (LOGIN_BACKUP_CODE_URL, "ABCD-EFGH")]:
        response = call(client, "POST", url, {"mfa_token": "not-a-token", "code": code})
        assert_problem(response, 401, "MFA_TOKEN_INVALID")


def test_asvs_6_3_1_five_wrong_codes_in_15_minutes_then_429(
    client: Client, otp_clock: OtpClock, two_factor: TwoFactor, no_otp_delay: None
) -> None:
    make_user("bob_the_b")
    bobs = turn_on_2fa(client, otp_clock, "bob_the_b")
    mfa_token = start_login(client)
    code = two_factor.code(otp_clock)
    for _ in range(5):
        wrong = call(client, "POST", LOGIN_TOTP_URL, {"mfa_token": mfa_token, "code": _wrong(code)})
        assert_problem(wrong, 400, "TOTP_CODE_INVALID")

    # Now even the right code, a backup code, or a new login step waits.
    blocked = [
        call(client, "POST", LOGIN_TOTP_URL, {"mfa_token": mfa_token, "code": code}),
        call(
            client,
            "POST",
            LOGIN_BACKUP_CODE_URL,
            {"mfa_token": start_login(client), "code": two_factor.backup_codes[0]},
        ),
    ]

    for response in blocked:
        body = assert_problem(response, 429, "MFA_TOO_MANY_ATTEMPTS")
        assert 1 <= int(response["Retry-After"]) <= 15 * 60
        assert body["retry_after"] == int(response["Retry-After"])
    assert not Session.objects.filter(amr=["pwd", "otp"], user__username="alice_w").exists()
    assert not BackupCode.objects.filter(is_used=True).exists()
    assert len(_events("totp_failed")) == 5
    assert len(_events("mfa_throttled")) == 2
    # Another account is not affected.
    other = call(
        client,
        "POST",
        LOGIN_TOTP_URL,
        {"mfa_token": start_login(client, "bob_the_b"), "code": bobs.code(otp_clock)},
    )
    assert other.status_code == 200, other.content


# Backup codes at login


def test_asvs_6_5_1_a_backup_code_logs_in_once_and_is_mailed_about(
    client: Client, two_factor: TwoFactor
) -> None:
    user = User.objects.get()
    code = two_factor.backup_codes[3]
    typed = code.replace("-", "").lower()

    response = call(
        client, "POST", LOGIN_BACKUP_CODE_URL, {"mfa_token": start_login(client), "code": typed}
    )

    assert response.status_code == 200, response.content
    claims = _claims(response.json())
    assert (claims["amr"], claims["mfa"]) == (["pwd", "otp"], True)
    spent = BackupCode.objects.get(user=user, is_used=True)
    assert spent.used_at is not None
    assert BackupCode.objects.filter(user=user, is_used=False).count() == 9
    mail = OutgoingMail.objects.get(kind="backup_code_used")
    assert mail.to_address == "alice_w@example.com"
    assert "9 unused backup codes left" in mail.body_text
    assert [e.details for e in _events("backup_code_used")] == [
        {"context": "login", "remaining": 9}
    ]
    assert _events("mfa_login_success")[0].details["method"] == "backup_code"

    again = call(
        client, "POST", LOGIN_BACKUP_CODE_URL, {"mfa_token": start_login(client), "code": code}
    )

    assert_problem(again, 400, "BACKUP_CODE_INVALID")
    assert BackupCode.objects.filter(user=user, is_used=True).count() == 1
    assert [e.details for e in _events("backup_code_failed")] == [{"context": "login"}]


def test_methods_leave_out_backup_codes_when_none_is_left(
    client: Client, two_factor: TwoFactor
) -> None:
    BackupCode.objects.update(is_used=True)

    body = login(client).json()

    assert body["methods"] == ["totp"]


# Account state is checked at both steps


def test_wrong_password_of_a_2fa_account_is_the_usual_401(
    client: Client, two_factor: TwoFactor
) -> None:
    response = login(client, password="wrong password here")

    assert_problem(response, 401, "AUTH_INVALID_CREDENTIALS")
    assert not MfaLoginToken.objects.exists()


def test_an_unverified_2fa_account_is_told_at_the_first_step(
    client: Client, two_factor: TwoFactor
) -> None:
    User.objects.update(is_verified=False)

    assert_problem(login(client), 403, "AUTH_EMAIL_UNVERIFIED")
    assert not MfaLoginToken.objects.exists()


def test_a_lock_set_between_the_steps_refuses_the_second(
    client: Client, otp_clock: OtpClock, two_factor: TwoFactor
) -> None:
    mfa_token = start_login(client)
    User.objects.update(is_locked=True, locked_reason="spam")

    response = call(
        client, "POST", LOGIN_TOTP_URL, {"mfa_token": mfa_token, "code": two_factor.code(otp_clock)}
    )

    assert_problem(response, 403, "AUTH_ACCOUNT_LOCKED")
    assert not Session.objects.filter(amr=["pwd", "otp"]).exists()


def test_asvs_6_4_3_a_password_reset_does_not_bypass_2fa(
    client: Client, two_factor: TwoFactor
) -> None:
    call(client, "POST", "/api/v1/auth/password/forgot", {"email": "alice_w@example.com"})
    token = token_in(OutgoingMail.objects.get(kind="password_reset"), "/reset-password")
    new_password = "a brand new passphrase 9"
    reset = call(
        client,
        "POST",
        "/api/v1/auth/password/reset",
        {"token": token, "new_password": new_password},
    )
    assert reset.status_code == 200, reset.content

    body = login(client, password=new_password).json()

    assert body["mfa_required"] is True
    assert User.objects.get().totp_enabled is True


def test_the_second_step_is_limited_per_ip(client: Client, two_factor: TwoFactor) -> None:
    answers = [
        call(
            client,
            "POST",
            LOGIN_TOTP_URL,
            {"mfa_token": "unknown", "code": "123456"},
            ip="198.51.100.9",
        )
        for _ in range(11)
    ]

    assert [a.status_code for a in answers[:10]] == [401] * 10
    assert_problem(answers[10], 429, "RATE_LIMITED")


# Bad input


@pytest.mark.parametrize(
    ("url", "body"),
    [
        (LOGIN_TOTP_URL, {"code": "123456"}),
        (LOGIN_TOTP_URL, {"mfa_token": 42, "code": "123456"}),
        (LOGIN_TOTP_URL, {"mfa_token": "t", "code": "12345"}),
        (LOGIN_TOTP_URL, {"mfa_token": "t", "code": "ABCD-EFGH"}),
        (LOGIN_TOTP_URL, {"mfa_token": "t", "code": "123456", "remember": True}),
        (LOGIN_BACKUP_CODE_URL, {"mfa_token": "t", "code": "123456"}),
        (LOGIN_BACKUP_CODE_URL, {"mfa_token": "t", "code": "ABCD-EFG1"}),
        (LOGIN_BACKUP_CODE_URL, {"mfa_token": "t", "code": "ABCD-EFGHJ"}),
        (LOGIN_BACKUP_CODE_URL, {"mfa_token": "t", "code": ["ABCD-EFGH"]}),
        (LOGIN_BACKUP_CODE_URL, "ABCD-EFGH"),
    ],
    ids=[
        "no-token",
        "int-token",
        "short-totp",
        "backup-to-totp",
        "unknown-field",
        "totp-to-backup",
        "confusable",
        "nine-chars",
        "list-code",
        "string-body",
    ],
)
def test_second_step_bad_input_is_a_400(client: Client, url: str, body: Any) -> None:
    assert_problem(call(client, "POST", url, body), 400, "VALIDATION_FAILED")


def test_second_step_with_a_1mb_code_is_a_413_and_spends_nothing(
    client: Client, otp_clock: OtpClock, two_factor: TwoFactor
) -> None:
    mfa_token = start_login(client)
    sessions_before = Session.objects.count()

    response = call(
        client, "POST", LOGIN_TOTP_URL, {"mfa_token": mfa_token, "code": "1" * 1_000_000}
    )

    assert_too_large(response)
    assert MfaLoginToken.objects.get().used_at is None
    assert Session.objects.count() == sessions_before
    assert not _events("totp_failed")
    # The pending login still completes.
    right = {"mfa_token": mfa_token, "code": two_factor.code(otp_clock)}
    assert call(client, "POST", LOGIN_TOTP_URL, right).status_code == 200


def test_second_step_malformed_json_is_a_400(client: Client) -> None:
    response = client.generic("POST", LOGIN_TOTP_URL, b"{not json", content_type="application/json")

    assert_problem(response, 400, "MALFORMED_REQUEST")


def test_sudo_counts_towards_the_same_budget(
    client: Client, otp_clock: OtpClock, two_factor: TwoFactor, no_otp_delay: None
) -> None:
    code = two_factor.code(otp_clock)
    for _ in range(5):
        call(
            client,
            "POST",
            SUDO_URL,
            {"password": PASSWORD, "code": _wrong(code)},
            token=two_factor.access_token,
        )

    response = call(
        client, "POST", LOGIN_TOTP_URL, {"mfa_token": start_login(client), "code": code}
    )

    assert_problem(response, 429, "MFA_TOO_MANY_ATTEMPTS")
