"""TOTP: RFC vectors through the server's code path, setup, enable, status, disable (ASVS 5.0
V6.5), django-otp's throttle, and bad input."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from django.test import Client
from django.utils import timezone
from django_otp.oath import hotp
from django_otp.plugins.otp_totp.models import TOTPDevice

from alephdraad_core.accounts.models import User
from alephdraad_core.mail.models import OutgoingMail
from alephdraad_core.mfa.codes import hash_backup_code
from alephdraad_core.mfa.models import BackupCode, MfaLoginToken
from alephdraad_core.mfa.services import (
    TOTP_STEP_SECONDS,
    TOTP_TOLERANCE_STEPS,
    totp_code_matches,
)
from alephdraad_core.security.models import SecurityEvent
from tests.authn_support import FAST_PASSWORD_HASHERS, PASSWORD, login, login_ok, make_user
from tests.conftest import (
    BAD_SHAPE,
    BROKEN_RULE,
    TOO_LARGE,
    assert_problem,
    error_fields,
)
from tests.mfa_support import (
    BACKUP_CODES_URL,
    TOTP_DISABLE_URL,
    TOTP_ENABLE_URL,
    TOTP_SETUP_URL,
    TOTP_URL,
    OtpClock,
    authenticator_code,
    call,
    freeze_otp_clock,
    sudo_token,
    turn_on_2fa,
    without_otp_delay,
)

pytestmark = pytest.mark.django_db

RFC_SEED = b"12345678901234567890"
# RFC 6238 Appendix B, the SHA-1 rows: (Unix time, 8-digit TOTP).
RFC_6238_SHA1 = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]
# RFC 4226 Appendix D: HOTP values for counters 0 to 9.
RFC_4226 = [
    "755224",
    "287082",
    "359152",
    "969429",
    "338314",
    "254676",
    "287922",
    "162583",
    "399871",
    "520489",
]


@pytest.fixture(autouse=True)
def _fast_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = FAST_PASSWORD_HASHERS


@pytest.fixture
def otp_clock(monkeypatch: pytest.MonkeyPatch) -> OtpClock:
    return freeze_otp_clock(monkeypatch)


@pytest.fixture
def no_otp_delay(settings: Any) -> None:
    without_otp_delay(settings)


def _server_device(user: User, *, digits: int) -> TOTPDevice:
    """A device with the RFC seed and the parameters the server gives every device."""
    return TOTPDevice.objects.create(
        user=user,
        key=RFC_SEED.hex(),
        step=TOTP_STEP_SECONDS,
        t0=0,
        digits=digits,
        tolerance=TOTP_TOLERANCE_STEPS,
        confirmed=True,
    )


def _events(event_type: str) -> list[SecurityEvent]:
    return list(SecurityEvent.objects.filter(event_type=event_type).order_by("id"))


# RFC vectors against the server's verification


def test_rfc_6238_appendix_b_sha1_vectors_pass_the_servers_verification(
    otp_clock: OtpClock,
) -> None:
    user = make_user()
    eight, six = _server_device(user, digits=8), _server_device(user, digits=6)
    secret = base64.b32encode(RFC_SEED).decode()

    for at, expected in RFC_6238_SHA1:
        otp_clock.now = float(at)
        # The test's authenticator agrees with the RFC, so later tests can trust it.
        assert authenticator_code(secret, at, digits=8) == expected
        assert totp_code_matches(eight, expected), at
        # Six digits (what the server issues) are the same value mod 10**6.
        assert totp_code_matches(six, expected[-6:]), at
        assert (eight.last_t, six.last_t) == (at // 30, at // 30)


def test_rfc_6238_vectors_refuse_any_other_code(otp_clock: OtpClock, no_otp_delay: None) -> None:
    device = _server_device(make_user(), digits=8)
    otp_clock.now = 1111111111.0

    assert not totp_code_matches(device, "94287082")  # the code of another time
    assert not totp_code_matches(device, "14050472")


def test_rfc_4226_appendix_d_hotp_vectors_are_the_servers_steps(otp_clock: OtpClock) -> None:
    device = _server_device(make_user(), digits=6)

    assert [f"{hotp(RFC_SEED, counter):06d}" for counter in range(10)] == RFC_4226
    for counter, expected in enumerate(RFC_4226):
        # TOTP is HOTP with the counter floor((t - T0) / 30): step `counter` starts here.
        otp_clock.now = float(counter * TOTP_STEP_SECONDS)
        assert totp_code_matches(device, expected), counter


def test_asvs_6_5_1_a_step_accepted_once_is_refused_within_its_window(
    otp_clock: OtpClock, no_otp_delay: None
) -> None:
    device = _server_device(make_user(), digits=6)
    otp_clock.now = 5 * 30 + 1.0
    assert totp_code_matches(device, RFC_4226[5])

    # Still inside the ±1 step the server tolerates, but step 5 (and older) has been used.
    otp_clock.advance(25)
    assert not totp_code_matches(device, RFC_4226[5])
    assert not totp_code_matches(device, RFC_4226[4])
    assert totp_code_matches(device, RFC_4226[6])


def test_asvs_6_5_5_a_code_is_refused_two_steps_late(
    otp_clock: OtpClock, no_otp_delay: None
) -> None:
    device = _server_device(make_user(), digits=6)
    otp_clock.now = 7 * 30 + 1.0

    assert not totp_code_matches(device, RFC_4226[5])
    assert totp_code_matches(device, RFC_4226[6])  # one step of clock skew is tolerated


# Setup


def test_setup_returns_secret_uri_and_qr_code_but_does_not_turn_2fa_on(client: Client) -> None:
    user = make_user()
    token = login_ok(client)["access_token"]

    response = call(client, "POST", TOTP_SETUP_URL, {}, token=token)

    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"secret", "otpauth_uri", "qr_svg", "issuer"}
    device = TOTPDevice.objects.get(user=user)
    assert base64.b32decode(body["secret"]) == bytes.fromhex(device.key)
    assert len(bytes.fromhex(device.key)) == 20  # 160 bits from the OS CSPRNG (ASVS 6.5.3)
    uri = urlsplit(body["otpauth_uri"])
    assert (uri.scheme, uri.netloc, unquote(uri.path)) == (
        "otpauth",
        "totp",
        "/Alephdraad:alice_w@example.com",
    )
    assert parse_qs(uri.query) == {
        "secret": [body["secret"]],
        "algorithm": ["SHA1"],
        "digits": ["6"],
        "period": ["30"],
        "issuer": ["Alephdraad"],
    }
    assert body["qr_svg"].startswith("data:image/svg+xml")
    assert body["issuer"] == "Alephdraad"
    assert (device.confirmed, device.digits, device.step, device.tolerance) == (False, 6, 30, 1)
    user.refresh_from_db()
    assert (user.totp_enabled, user.totp_secret) == (False, None)
    assert call(client, "GET", TOTP_URL, token=token).json() == {
        "enabled": False,
        "pending_setup": True,
        "created_at": None,
        "last_used_at": None,
        "backup_codes_remaining": 0,
    }
    # Not on yet: the password alone still logs in.
    assert "access_token" in login_ok(client)
    assert [e.user_id for e in _events("totp_setup_started")] == [user.pk]


def test_setup_again_replaces_the_unconfirmed_secret(client: Client) -> None:
    user = make_user()
    token = login_ok(client)["access_token"]

    first = call(client, "POST", TOTP_SETUP_URL, {}, token=token).json()["secret"]
    second = call(client, "POST", TOTP_SETUP_URL, {}, token=token).json()["secret"]

    assert first != second
    assert [base64.b32encode(d.bin_key).decode() for d in TOTPDevice.objects.filter(user=user)] == [
        second
    ]


# Enable


def test_asvs_6_5_1_enable_with_a_wrong_code_keeps_2fa_off(
    client: Client, otp_clock: OtpClock
) -> None:
    user = make_user()
    token = login_ok(client)["access_token"]
    secret = call(client, "POST", TOTP_SETUP_URL, {}, token=token).json()["secret"]
    right = authenticator_code(secret, otp_clock.now)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"

    response = call(client, "POST", TOTP_ENABLE_URL, {"code": wrong}, token=token)

    body = assert_problem(response, 400, "TOTP_CODE_INVALID")
    assert [error["field"] for error in body["errors"]] == ["code"]
    user.refresh_from_db()
    assert user.totp_enabled is False
    assert TOTPDevice.objects.get(user=user).confirmed is False
    assert not BackupCode.objects.exists()
    assert not OutgoingMail.objects.exists()
    assert [e.details for e in _events("totp_failed")] == [{"context": "totp_enable"}]


def test_enable_turns_2fa_on_and_returns_10_backup_codes_once(
    client: Client, otp_clock: OtpClock
) -> None:
    user = make_user()
    token = login_ok(client)["access_token"]
    secret = call(client, "POST", TOTP_SETUP_URL, {}, token=token).json()["secret"]

    response = call(
        client,
        "POST",
        TOTP_ENABLE_URL,
        {"code": authenticator_code(secret, otp_clock.now)},
        token=token,
    )

    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["enabled"] is True
    codes = body["backup_codes"]
    assert len(set(codes)) == 10
    user.refresh_from_db()
    assert (user.totp_enabled, user.totp_secret) == (True, None)
    assert TOTPDevice.objects.get(user=user).confirmed is True
    stored = set(BackupCode.objects.filter(user=user).values_list("code_hash", flat=True))
    assert stored == {hash_backup_code(code.replace("-", "")) for code in codes}
    assert not any(code.replace("-", "") in h.upper() for code in codes for h in stored)
    (mail,) = OutgoingMail.objects.all()
    assert (mail.kind, mail.to_address) == ("totp_enabled", "alice_w@example.com")
    assert [e.user_id for e in _events("totp_enabled")] == [user.pk]
    status = call(client, "GET", TOTP_URL, token=token).json()
    assert (status["enabled"], status["pending_setup"], status["backup_codes_remaining"]) == (
        True,
        False,
        10,
    )
    assert status["created_at"] is not None
    assert call(client, "GET", BACKUP_CODES_URL, token=token).json() == {"remaining": 10}
    # Never shown again: enabling or setting up again is refused while 2FA is on.
    otp_clock.advance(30)
    again = call(
        client,
        "POST",
        TOTP_ENABLE_URL,
        {"code": authenticator_code(secret, otp_clock.now)},
        token=token,
    )
    assert_problem(again, 409, "TOTP_ALREADY_ENABLED")
    assert_problem(
        call(client, "POST", TOTP_SETUP_URL, {}, token=token), 409, "TOTP_ALREADY_ENABLED"
    )
    assert TOTPDevice.objects.filter(user=user).count() == 1


def test_enable_without_setup_is_a_409(client: Client) -> None:
    make_user()
    token = login_ok(client)["access_token"]

    response = call(client, "POST", TOTP_ENABLE_URL, {"code": "123456"}, token=token)

    assert_problem(response, 409, "TOTP_SETUP_REQUIRED")


def test_a_code_with_a_space_is_taken_as_apps_show_it(client: Client, otp_clock: OtpClock) -> None:
    make_user()
    token = login_ok(client)["access_token"]
    secret = call(client, "POST", TOTP_SETUP_URL, {}, token=token).json()["secret"]
    code = authenticator_code(secret, otp_clock.now)

    response = call(
        client, "POST", TOTP_ENABLE_URL, {"code": f" {code[:3]} {code[3:]}"}, token=token
    )

    assert response.status_code == 200, response.content


def test_django_otp_delays_the_next_try_after_a_wrong_code(
    client: Client, otp_clock: OtpClock
) -> None:
    user = make_user()
    token = login_ok(client)["access_token"]
    secret = call(client, "POST", TOTP_SETUP_URL, {}, token=token).json()["secret"]
    right = authenticator_code(secret, otp_clock.now)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    assert_problem(
        call(client, "POST", TOTP_ENABLE_URL, {"code": wrong}, token=token),
        400,
        "TOTP_CODE_INVALID",
    )

    # Within a second of the failure even the right code waits (and is not looked at).
    response = call(client, "POST", TOTP_ENABLE_URL, {"code": right}, token=token)

    assert_problem(response, 429, "MFA_TOO_MANY_ATTEMPTS")
    assert int(response["Retry-After"]) >= 1
    assert User.objects.get(pk=user.pk).totp_enabled is False
    TOTPDevice.objects.filter(user=user).update(
        throttling_failure_timestamp=timezone.now() - timedelta(seconds=2)
    )
    ok = call(client, "POST", TOTP_ENABLE_URL, {"code": right}, token=token)
    assert ok.status_code == 200, ok.content


# Disable


def test_asvs_6_5_6_disable_needs_sudo_the_password_and_a_code(
    client: Client, otp_clock: OtpClock, no_otp_delay: None
) -> None:
    user = make_user()
    two_factor = turn_on_2fa(client, otp_clock)
    token = two_factor.access_token
    pending = MfaLoginToken.objects.create(
        user=user, token_hash="x" * 64, expires_at=timezone.now() + timedelta(minutes=5)
    )
    body = {"password": PASSWORD, "code": two_factor.code(otp_clock)}

    assert_problem(call(client, "POST", TOTP_DISABLE_URL, body, token=token), 403, "SUDO_REQUIRED")
    sudo = sudo_token(client, token, code=two_factor.code(otp_clock))
    wrong_password = {"password": "not the password", "code": two_factor.code(otp_clock)}
    refused = call(client, "POST", TOTP_DISABLE_URL, wrong_password, token=token, sudo=sudo)
    assert assert_problem(refused, 400, "PASSWORD_INCORRECT")["errors"][0]["field"] == "password"
    wrong_code = {"password": PASSWORD, "code": "000000"}
    refused = call(client, "POST", TOTP_DISABLE_URL, wrong_code, token=token, sudo=sudo)
    assert_problem(refused, 400, "TOTP_CODE_INVALID")
    assert User.objects.get(pk=user.pk).totp_enabled is True
    assert BackupCode.objects.filter(user=user).count() == 10

    right = {"password": PASSWORD, "code": two_factor.code(otp_clock)}
    response = call(client, "POST", TOTP_DISABLE_URL, right, token=token, sudo=sudo)

    assert response.status_code == 204, response.content
    user.refresh_from_db()
    assert (user.totp_enabled, user.totp_secret) == (False, None)
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not BackupCode.objects.filter(user=user).exists()
    assert not MfaLoginToken.objects.filter(pk=pending.pk).exists()
    assert [m.kind for m in OutgoingMail.objects.order_by("id")] == [
        "totp_enabled",
        "totp_disabled",
    ]
    assert [e.details for e in _events("totp_disabled")] == [{"method": "totp"}]
    assert [e.details for e in _events("password_confirm_failed")] == [{"context": "totp_disable"}]
    assert "access_token" in login_ok(client)  # the password alone logs in again


def test_disable_with_a_backup_code(client: Client, otp_clock: OtpClock) -> None:
    user = make_user()
    two_factor = turn_on_2fa(client, otp_clock)
    sudo = sudo_token(client, two_factor.access_token, code=two_factor.code(otp_clock))
    body = {"password": PASSWORD, "code": two_factor.backup_codes[0].lower()}

    response = call(
        client, "POST", TOTP_DISABLE_URL, body, token=two_factor.access_token, sudo=sudo
    )

    assert response.status_code == 204, response.content
    assert User.objects.get(pk=user.pk).totp_enabled is False
    assert [e.details for e in _events("totp_disabled")] == [{"method": "backup_code"}]


def test_disable_when_2fa_is_off_is_a_409(client: Client) -> None:
    make_user()
    token = login_ok(client)["access_token"]
    sudo = sudo_token(client, token)

    response = call(
        client,
        "POST",
        TOTP_DISABLE_URL,
        {"password": PASSWORD, "code": "123456"},
        token=token,
        sudo=sudo,
    )

    assert_problem(response, 409, "TOTP_NOT_ENABLED")


def test_totp_endpoints_need_a_signed_in_user(client: Client) -> None:
    for method, url in [("GET", TOTP_URL), ("POST", TOTP_SETUP_URL), ("POST", TOTP_ENABLE_URL)]:
        assert_problem(call(client, method, url, {}), 401, "UNAUTHENTICATED")


# Bad input


@pytest.mark.parametrize(
    ("body", "fields", "expected"),
    [
        pytest.param({}, {"code"}, BAD_SHAPE, id="missing"),
        pytest.param({"code": None}, {"code"}, BAD_SHAPE, id="null"),
        pytest.param({"code": 123456}, {"code"}, BAD_SHAPE, id="int"),
        pytest.param({"code": ""}, {"code"}, BROKEN_RULE, id="empty"),
        pytest.param({"code": "12345"}, {"code"}, BAD_SHAPE, id="short"),
        pytest.param({"code": "1234567"}, {"code"}, BAD_SHAPE, id="long"),
        pytest.param({"code": "12a456"}, {"code"}, BAD_SHAPE, id="letter"),
        pytest.param({"code": "ABCD-EFGH"}, {"code"}, BAD_SHAPE, id="backup-shaped"),
        pytest.param({"code": "1" * 1_000_000}, set(), TOO_LARGE, id="1mb"),
        pytest.param({"code": "123456", "secret": "x"}, {"secret"}, BAD_SHAPE, id="unknown-field"),
        pytest.param(["123456"], {""}, BAD_SHAPE, id="array"),
    ],
)
def test_enable_bad_input_is_a_4xx_and_counts_nothing(
    client: Client, body: Any, fields: set[str], expected: tuple[int, str]
) -> None:
    user = make_user()
    token = login_ok(client)["access_token"]
    call(client, "POST", TOTP_SETUP_URL, {}, token=token)

    response = call(client, "POST", TOTP_ENABLE_URL, body, token=token)

    # A 413 is refused before the body is parsed: it names no field.
    assert error_fields(assert_problem(response, *expected)) == fields
    device = TOTPDevice.objects.get(user=user)
    assert (device.confirmed, device.throttling_failure_count) == (False, 0)
    assert not _events("totp_failed")


@pytest.mark.parametrize(
    "body",
    [
        {"password": PASSWORD},
        {"password": PASSWORD, "code": "ABCD-EFG0"},
        {"password": PASSWORD, "code": "ABCD-EFGI"},
        {"password": PASSWORD, "code": "ABCDEFGHJ"},
        {"password": PASSWORD, "code": 123456},
        {"password": ["x"], "code": "123456"},
        {"password": PASSWORD, "code": "123456", "force": True},
        {"password": PASSWORD, "code": "x" * 100_000},
    ],
    ids=["no-code", "zero", "letter-i", "nine-chars", "int", "list-password", "unknown", "huge"],
)
def test_disable_bad_input_is_a_400(client: Client, otp_clock: OtpClock, body: Any) -> None:
    user = make_user()
    two_factor = turn_on_2fa(client, otp_clock)
    sudo = sudo_token(client, two_factor.access_token, code=two_factor.code(otp_clock))

    response = call(
        client, "POST", TOTP_DISABLE_URL, body, token=two_factor.access_token, sudo=sudo
    )

    assert_problem(response, 400, "VALIDATION_FAILED")
    assert User.objects.get(pk=user.pk).totp_enabled is True


def test_malformed_json_and_unknown_setup_fields_are_400s(client: Client) -> None:
    make_user()
    token = login_ok(client)["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    malformed = client.generic(
        "POST", TOTP_ENABLE_URL, '{"code": "12', content_type="application/json", headers=headers
    )
    unknown = call(client, "POST", TOTP_SETUP_URL, {"digits": 8}, token=token)

    assert_problem(malformed, 400, "MALFORMED_REQUEST")
    assert_problem(unknown, 400, "VALIDATION_FAILED")
    assert not TOTPDevice.objects.exists()
    assert json.loads(login(client).content)["access_token"]
