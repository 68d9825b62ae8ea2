"""A person's identity journey through the gateway, mail read from the SMTP sink."""

from __future__ import annotations

import json
import re
import time
import uuid
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import httpx
import psycopg

from alephdraad_stack.stack import Stack

from .conftest import assert_problem

MAIL_TIMEOUT_S = 30.0
GRACE_S = 30


def wait_for_mail(stack: Stack, to: str, kind: str) -> Message:
    """The first message of `kind` to `to` the worker delivered (polled until it appears)."""
    mail_dir = Path(stack.state_dir) / "mail"
    deadline = time.monotonic() + MAIL_TIMEOUT_S
    while time.monotonic() < deadline:
        for envelope in sorted(mail_dir.glob("*.json")):
            meta = json.loads(envelope.read_text())
            if to not in meta["rcpt_tos"]:
                continue
            message = message_from_bytes((mail_dir / meta["file"]).read_bytes())
            if message["X-Alephdraad-Mail-Kind"] == kind:
                return message
        time.sleep(0.1)
    raise AssertionError(f"no {kind} mail to {to} within {MAIL_TIMEOUT_S} s")


def age_rotated_refresh_tokens(stack: Stack, seconds: int) -> None:
    """Move rotations into the past instead of sleeping through the 30 s grace window."""
    url = stack.info()["components"]["postgres"]["url"]
    with psycopg.connect(url) as conn:
        conn.execute(
            "UPDATE refresh_tokens SET rotated_at = rotated_at - make_interval(secs => %s) "
            "WHERE rotated_at IS NOT NULL",
            (seconds,),
        )


def test_register_verify_login_refresh_reuse_sessions_logout_all(
    gateway: httpx.Client, stack: Stack
) -> None:
    suffix = uuid.uuid4().hex[:8]
    email = f"Ayu.{suffix}@Example.test"
    username = f"ayu_{suffix}"
    password = "correct horse battery staple"

    registered = gateway.post(
        "/api/v1/auth/register",
        json={"email": email, "password": password, "username": username, "full_name": "Ayu"},
    )
    assert registered.status_code == 201, registered.text
    assert registered.headers["x-served-by"] == "core"

    # Before verification a correct password is refused with its own code.
    early = gateway.post("/api/v1/auth/login", json={"login": username, "password": password})
    assert_problem(early, 403, "AUTH_EMAIL_UNVERIFIED")

    mail = wait_for_mail(stack, email.lower(), "verify_email")
    body = mail.get_payload(decode=True).decode()
    match = re.search(r"/verify-email\?token=([A-Za-z0-9_-]+)", body)
    assert match, body
    confirmed = gateway.post("/api/v1/auth/verify-email/confirm", json={"token": match[1]})
    assert confirmed.status_code == 200, confirmed.text
    again = gateway.post("/api/v1/auth/verify-email/confirm", json={"token": match[1]})
    assert_problem(again, 400, "VERIFICATION_TOKEN_INVALID")

    login = gateway.post(
        "/api/v1/auth/login",
        json={"login": email, "password": password},
        headers={"User-Agent": "e2e-browser/1"},
    )
    assert login.status_code == 200, login.text
    first = login.json()
    assert first["token_type"] == "Bearer"
    assert first["user"]["username"] == username
    auth = {"Authorization": f"Bearer {first['access_token']}"}
    assert gateway.get("/api/v1/me", headers=auth).json()["email"] == email.lower()

    # The public keys verify the token the gateway handed out.
    jwks = gateway.get("/.well-known/jwks.json")
    assert jwks.status_code == 200
    assert jwks.headers["x-served-by"] == "core"
    assert {key["alg"] for key in jwks.json()["keys"]} == {"EdDSA"}

    refreshed = gateway.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    second = refreshed.json()
    assert second["refresh_token"] != first["refresh_token"]
    # A second tab refreshing with the same token inside the grace gets the same pair.
    twin = gateway.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert twin.json() == second

    # A second device, so logout-all has something to end besides the reused family.
    other = gateway.post("/api/v1/auth/login", json={"login": username, "password": password})
    assert other.status_code == 200
    other_auth = {"Authorization": f"Bearer {other.json()['access_token']}"}

    age_rotated_refresh_tokens(stack, GRACE_S + 1)
    reused = gateway.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert_problem(reused, 401, "AUTH_REFRESH_TOKEN_INVALID")
    # The whole family is gone: its newest refresh token and its access token stop working.
    family = gateway.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert_problem(family, 401, "AUTH_REFRESH_TOKEN_INVALID")
    revoked = gateway.get(
        "/api/v1/sessions", headers={"Authorization": f"Bearer {second['access_token']}"}
    )
    assert_problem(revoked, 401, "AUTH_SESSION_REVOKED")
    reuse_mail = wait_for_mail(stack, email.lower(), "refresh_token_reuse")
    assert reuse_mail["Subject"]

    # Not a lockout: the person logs in again at once.
    third = gateway.post("/api/v1/auth/login", json={"login": username, "password": password})
    assert third.status_code == 200, third.text
    third_auth = {"Authorization": f"Bearer {third.json()['access_token']}"}

    sessions = gateway.get("/api/v1/sessions", headers=third_auth)
    assert sessions.status_code == 200
    items = sessions.json()["items"]
    assert len(items) == 2  # the second device and this one; the reused family is gone
    assert [item["current"] for item in items].count(True) == 1

    # Ending every session is a sensitive action: it needs sudo mode (the password again).
    refused = gateway.post("/api/v1/auth/logout-all", json={}, headers=third_auth)
    assert_problem(refused, 403, "SUDO_REQUIRED")
    sudo = gateway.post("/api/v1/auth/sudo", json={"password": password}, headers=third_auth)
    assert sudo.status_code == 200, sudo.text
    sudo_auth = {**third_auth, "X-Sudo-Token": sudo.json()["sudo_token"]}
    ended = gateway.post("/api/v1/auth/logout-all", json={}, headers=sudo_auth)
    assert ended.status_code == 200, ended.text
    assert ended.json()["revoked"] == 2
    for headers in (third_auth, other_auth):
        assert_problem(
            gateway.get("/api/v1/sessions", headers=headers), 401, "AUTH_SESSION_REVOKED"
        )
