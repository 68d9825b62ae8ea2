"""Helpers for the mfa and sudo tests (and for tests of endpoints that need sudo mode).

- `sudo_token(...)`: enter sudo mode through POST /api/v1/auth/sudo, as a client would.
- `authenticator_code(...)`: an authenticator app, written from RFC 6238 independently of
  django-otp, so the server is checked against a second implementation.
- `freeze_otp_clock(monkeypatch)`: sets the clock django-otp's TOTP verification reads (and
  only that one), so a test can step through 30-second windows without sleeping.
- `TwoFactor` / `turn_on_2fa(...)`: an account with 2FA on, through the real endpoints.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import struct
import time
import types
from dataclasses import dataclass
from typing import Any

import pytest
from django.http import HttpResponseBase
from django.test import Client

from tests.authn_support import PASSWORD, login, next_ip

SUDO_URL = "/api/v1/auth/sudo"
TOTP_URL = "/api/v1/auth/totp"
TOTP_SETUP_URL = "/api/v1/auth/totp/setup"
TOTP_ENABLE_URL = "/api/v1/auth/totp/enable"
TOTP_DISABLE_URL = "/api/v1/auth/totp/disable"
BACKUP_CODES_URL = "/api/v1/auth/backup-codes"
BACKUP_CODES_REGENERATE_URL = "/api/v1/auth/backup-codes/regenerate"
LOGIN_TOTP_URL = "/api/v1/auth/login/totp"
LOGIN_BACKUP_CODE_URL = "/api/v1/auth/login/backup-code"
SUDO_HEADER = "X-Sudo-Token"


def call(
    client: Client,
    method: str,
    url: str,
    body: Any = None,
    *,
    token: str | None = None,
    sudo: str | None = None,
    ip: str | None = None,
) -> HttpResponseBase:
    """One JSON request with an optional access token and sudo token, from its own address
    (so per-IP limits only bite in the tests about them)."""
    headers = {"X-Real-IP": ip or next_ip()}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if sudo is not None:
        headers[SUDO_HEADER] = sudo
    data = json.dumps(body) if body is not None else ""
    return client.generic(method, url, data, content_type="application/json", headers=headers)


def sudo_token(
    client: Client, access_token: str, password: str = PASSWORD, code: str | None = None
) -> str:
    """Enter sudo mode for the session of `access_token`; return the X-Sudo-Token value."""
    body: dict[str, str] = {"password": password}
    if code is not None:
        body["code"] = code
    response = call(client, "POST", SUDO_URL, body, token=access_token)
    assert response.status_code == 200, response.content
    token: str = response.json()["sudo_token"]
    return token


def sudo_environ(token: str) -> dict[str, str]:
    """The sudo header as a WSGI environ key, for helpers that take `headers=` that way."""
    return {"HTTP_X_SUDO_TOKEN": token}


# An authenticator app


def authenticator_code(secret_b32: str, at: float, *, digits: int = 6, step: int = 30) -> str:
    """The code an RFC 6238 app shows at Unix time `at` for a base32 secret (HMAC-SHA-1)."""
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(at // step)), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    number = int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF
    return str(number % 10**digits).zfill(digits)


class OtpClock:
    """The time django-otp's TOTPDevice.verify_token sees."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def freeze_otp_clock(monkeypatch: pytest.MonkeyPatch) -> OtpClock:
    """Freeze django-otp's clock 5 s into the current 30 s step, for the test's duration.
    Only `time` as seen from django_otp.plugins.otp_totp.models is replaced, nothing else's
    clock. Test modules wrap it in an `otp_clock` fixture."""
    clock = OtpClock(float(int(time.time()) // 30 * 30 + 5))
    monkeypatch.setattr(
        "django_otp.plugins.otp_totp.models.time", types.SimpleNamespace(time=clock.time)
    )
    return clock


def without_otp_delay(settings: Any) -> None:
    """Turn off django-otp's per-device delay (1 s, 2 s, 4 s … after wrong codes), for tests
    that must send wrong codes back to back (`settings` is pytest-django's fixture)."""
    settings.OTP_TOTP_THROTTLE_FACTOR = 0


# Accounts with 2FA on


@dataclass
class TwoFactor:
    secret: str
    backup_codes: list[str]
    access_token: str

    def code(self, clock: OtpClock) -> str:
        """The app's current code; advances the clock a step first, so every call gives a
        code of a new step (each step's code is accepted once)."""
        clock.advance(30)
        return authenticator_code(self.secret, clock.now)


def turn_on_2fa(client: Client, clock: OtpClock, login_name: str = "alice_w") -> TwoFactor:
    """Log in (password only), set up TOTP and enable it with the app's current code."""
    signed_in = login(client, login_name)
    assert signed_in.status_code == 200, signed_in.content
    access_token = signed_in.json()["access_token"]
    setup = call(client, "POST", TOTP_SETUP_URL, {}, token=access_token)
    assert setup.status_code == 200, setup.content
    secret = setup.json()["secret"]
    enabled = call(
        client,
        "POST",
        TOTP_ENABLE_URL,
        {"code": authenticator_code(secret, clock.now)},
        token=access_token,
    )
    assert enabled.status_code == 200, enabled.content
    return TwoFactor(
        secret=secret, backup_codes=enabled.json()["backup_codes"], access_token=access_token
    )


def start_login(client: Client, login_name: str = "alice_w", **fields: Any) -> str:
    """The first login step of an account with 2FA on; returns the mfa_token."""
    response = login(client, login_name, **fields)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["mfa_required"] is True, body
    token: str = body["mfa_token"]
    return token
