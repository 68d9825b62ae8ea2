"""Second factors through the gateway: TOTP, backup codes, sudo and a passwordless passkey."""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib.util
import re
import struct
import sys
import time
import uuid
from types import ModuleType
from typing import Any

import httpx
import jwt

from alephdraad_stack.stack import Stack

from .conftest import PASSWORD, REPO_ROOT, assert_problem, register_verified


def _load_authenticator() -> ModuleType:
    """The software authenticator core-service's passkey tests use: one implementation."""
    path = REPO_ROOT / "core-service" / "tests" / "webauthn_authenticator.py"
    spec = importlib.util.spec_from_file_location("alephdraad_e2e_webauthn", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def totp(secret_base32: str, step: int) -> str:
    """RFC 6238 with the parameters every authenticator app uses (SHA-1, 6 digits, 30 s)."""
    key = base64.b32decode(secret_base32 + "=" * (-len(secret_base32) % 8), casefold=True)
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = (struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{code:06d}"


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def test_totp_backup_codes_and_a_passwordless_passkey(gateway: httpx.Client, stack: Stack) -> None:
    username = f"mfa_{uuid.uuid4().hex[:8]}"
    register_verified(gateway, stack, username, "Mfa")
    first = gateway.post("/api/v1/auth/login", json={"login": username, "password": PASSWORD})
    assert first.status_code == 200, first.text
    auth = bearer(first.json())

    # Setting up is not enabling: 2FA turns on only after a working code.
    setup = gateway.post("/api/v1/auth/totp/setup", json={}, headers=auth)
    assert setup.status_code == 200, setup.text
    secret = setup.json()["secret"]
    assert setup.json()["otpauth_uri"].startswith("otpauth://totp/")
    assert gateway.get("/api/v1/auth/totp", headers=auth).json()["enabled"] is False
    step = int(time.time()) // 30
    enabled = gateway.post(
        "/api/v1/auth/totp/enable", json={"code": totp(secret, step)}, headers=auth
    )
    assert enabled.status_code == 200, enabled.text
    backup_codes = enabled.json()["backup_codes"]
    assert len(backup_codes) == 10
    assert all(re.fullmatch(r"[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}", c) for c in backup_codes)

    # Two-step login: the password alone yields an MFA challenge, not tokens.
    challenge = gateway.post("/api/v1/auth/login", json={"login": username, "password": PASSWORD})
    assert challenge.status_code == 200, challenge.text
    assert challenge.json()["mfa_required"] is True
    assert "access_token" not in challenge.json()
    mfa_token = challenge.json()["mfa_token"]
    # The enable step's code was spent (each code works once: core-service's unit tests show
    # the refusal), so the login uses the next step's, within the one-step drift allowed.
    second = gateway.post(
        "/api/v1/auth/login/totp", json={"mfa_token": mfa_token, "code": totp(secret, step + 1)}
    )
    assert second.status_code == 200, second.text
    claims = jwt.decode(second.json()["access_token"], options={"verify_signature": False})
    assert claims["amr"] == ["pwd", "otp"]
    assert claims["mfa"] is True

    # A backup code completes a login once, and only once.
    challenge = gateway.post("/api/v1/auth/login", json={"login": username, "password": PASSWORD})
    with_backup = gateway.post(
        "/api/v1/auth/login/backup-code",
        json={"mfa_token": challenge.json()["mfa_token"], "code": backup_codes[0]},
    )
    assert with_backup.status_code == 200, with_backup.text
    auth = bearer(with_backup.json())
    challenge = gateway.post("/api/v1/auth/login", json={"login": username, "password": PASSWORD})
    twice = gateway.post(
        "/api/v1/auth/login/backup-code",
        json={"mfa_token": challenge.json()["mfa_token"], "code": backup_codes[0]},
    )
    assert_problem(twice, 400, "BACKUP_CODE_INVALID")
    assert gateway.get("/api/v1/auth/backup-codes", headers=auth).json() == {"remaining": 9}

    # Adding a passkey needs sudo: prove presence again (password + a backup code).
    refused = gateway.post("/api/v1/auth/passkeys/register/begin", json={}, headers=auth)
    assert_problem(refused, 403, "SUDO_REQUIRED")
    sudo = gateway.post(
        "/api/v1/auth/sudo", json={"password": PASSWORD, "code": backup_codes[1]}, headers=auth
    )
    assert sudo.status_code == 200, sudo.text
    sudo_headers = {**auth, "X-Sudo-Token": sudo.json()["sudo_token"]}

    authenticator_module = _load_authenticator()
    authenticator = authenticator_module.SoftwareAuthenticator(origin=stack.gateway_url)
    begin = gateway.post("/api/v1/auth/passkeys/register/begin", json={}, headers=sudo_headers)
    assert begin.status_code == 200, begin.text
    credential = authenticator.create(begin.json()["options"])
    finish = gateway.post(
        "/api/v1/auth/passkeys/register/finish",
        json={
            "ceremony_id": begin.json()["ceremony_id"],
            "name": "Laptop",
            "credential": credential,
        },
        headers=auth,
    )
    assert finish.status_code == 201, finish.text
    listed = gateway.get("/api/v1/auth/passkeys", headers=auth).json()["items"]
    assert [item["name"] for item in listed] == ["Laptop"]

    # Username-less login: no login, no password, no TOTP.
    login_begin = gateway.post("/api/v1/auth/passkeys/login/begin", json={})
    assert login_begin.status_code == 200, login_begin.text
    assertion = authenticator.get(login_begin.json()["options"])
    passkey_login = gateway.post(
        "/api/v1/auth/passkeys/login/finish",
        json={"ceremony_id": login_begin.json()["ceremony_id"], "credential": assertion},
    )
    assert passkey_login.status_code == 200, passkey_login.text
    assert passkey_login.json()["user"]["username"] == username
    claims = jwt.decode(passkey_login.json()["access_token"], options={"verify_signature": False})
    assert "hwk" in claims["amr"]
    me = gateway.get("/api/v1/me", headers=bearer(passkey_login.json()))
    assert me.json()["username"] == username

    # The same assertion cannot be replayed: its challenge is spent.
    replay = gateway.post(
        "/api/v1/auth/passkeys/login/finish",
        json={"ceremony_id": login_begin.json()["ceremony_id"], "credential": assertion},
    )
    assert_problem(replay, 400, "WEBAUTHN_CHALLENGE_INVALID")
