"""Helpers shared by the test_authn_* modules: users, logins through the real endpoints."""

from __future__ import annotations

import itertools
import json
from typing import Any

from django.http import HttpResponseBase
from django.test import Client

from alephdraad_core.accounts.models import User

PASSWORD = "correct horse battery staple"
LOGIN_URL = "/api/v1/auth/login"
REFRESH_URL = "/api/v1/auth/refresh"
LOGOUT_URL = "/api/v1/auth/logout"
LOGOUT_ALL_URL = "/api/v1/auth/logout-all"
SESSIONS_URL = "/api/v1/sessions"

# Each login comes from its own address unless a test names one, so the per-IP login limit
# (10 a minute) only bites in the test about it.
_addresses = itertools.count(1)


def next_ip() -> str:
    n = next(_addresses)
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def make_user(
    username: str = "alice_w", email: str | None = None, password: str = PASSWORD, **fields: Any
) -> User:
    fields.setdefault("is_verified", True)
    return User.objects.create_user(
        email=email or f"{username}@example.com", username=username, password=password, **fields
    )


def post_json(
    client: Client,
    url: str,
    body: Any,
    *,
    token: str | None = None,
    ip: str | None = None,
    headers: dict[str, str] | None = None,
) -> HttpResponseBase:
    """POST a JSON body; `headers` are WSGI environ keys (HTTP_USER_AGENT=…)."""
    environ: dict[str, str] = {"HTTP_X_REAL_IP": ip or next_ip(), **(headers or {})}
    if token is not None:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client.post(url, data=json.dumps(body), content_type="application/json", **environ)


def login(
    client: Client,
    login: str = "alice_w",
    password: str = PASSWORD,
    *,
    ip: str | None = None,
    headers: dict[str, str] | None = None,
    **fields: Any,
) -> HttpResponseBase:
    """POST /auth/login; `fields` join the body (device_fingerprint=…)."""
    body = {"login": login, "password": password, **fields}
    return post_json(client, LOGIN_URL, body, ip=ip, headers=headers)


def login_ok(client: Client, login_name: str = "alice_w", **kwargs: Any) -> dict[str, Any]:
    response = login(client, login_name, **kwargs)
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def refresh(client: Client, refresh_token: str, *, ip: str | None = None) -> HttpResponseBase:
    return post_json(client, REFRESH_URL, {"refresh_token": refresh_token}, ip=ip)


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


# Password hashing is not what the session and token tests are about; Argon2 at full cost
# would make them slow. test_authn_login keeps the real hasher.
FAST_PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
