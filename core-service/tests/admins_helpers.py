"""Helpers of the test_admins_* modules: users, sessions, admins and their tokens."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from django.http import HttpResponseBase
from django.test import Client
from django.utils import timezone

from alephdraad_core.accounts.models import User
from alephdraad_core.admins.models import Admin
from alephdraad_core.authn.models import Session
from alephdraad_core.authn.tokens import issue_admin_token, issue_user_token

ADMIN_PASSWORD = "plinth-quartz-meadow-42"
ADMIN_URL = "/api/v1/admin"

_numbers = itertools.count(1)


def next_ip() -> str:
    """A fresh client address, so per-IP limits only bite in the tests about them."""
    n = next(_numbers)
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def make_user(
    username: str | None = None,
    *,
    email: str | None = None,
    created_at: datetime | None = None,
    **fields: Any,
) -> User:
    """A user without a usable password (no Argon2 cost): these tests never log users in."""
    name = username or f"user_{next(_numbers)}"
    user = User.objects.create_user(
        email=email or f"{name}@example.com", username=name, password=None, **fields
    )
    if created_at is not None:
        User.objects.filter(pk=user.pk).update(created_at=created_at)
        user.created_at = created_at
    return user


def make_session(user: User, **fields: Any) -> Session:
    now = timezone.now()
    fields.setdefault("expires_at", now + timedelta(days=7))
    fields.setdefault("ip_address", "203.0.113.7")
    fields.setdefault("user_agent", "Firefox/140")
    fields.setdefault("amr", ["pwd"])
    return Session.objects.create(user=user, **fields)


def user_token(user: User, session: Session) -> str:
    return issue_user_token(
        user_id=user.pk,
        username=user.username,
        session_id=str(session.pk),
        amr=["pwd"],
        mfa=False,
    ).token


def make_admin(
    username: str = "ops_root",
    *,
    email: str | None = None,
    password: str = ADMIN_PASSWORD,
    is_active: bool = True,
) -> Admin:
    admin = Admin(email=email or f"{username}@ops.example.com", username=username)
    admin.is_active = is_active
    admin.set_password(password)
    admin.save()
    return admin


def admin_token(admin: Admin) -> str:
    return issue_admin_token(admin_id=admin.pk, username=admin.username).token


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def post_json(
    client: Client, path: str, body: Any = None, *, token: str | None = None, **extra: Any
) -> HttpResponseBase:
    """POST to /api/v1/admin{path}; `body` None sends no body at all."""
    headers = dict(extra)
    if token is not None:
        headers.update(bearer(token))
    if body is None:
        # No body and no Content-Type, as `curl -X POST` sends (the test client's post() would
        # send an empty multipart form).
        return client.generic("POST", f"{ADMIN_URL}{path}", **headers)
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(f"{ADMIN_URL}{path}", data=data, content_type="application/json", **headers)


def get(client: Client, path: str, *, token: str | None = None, **params: Any) -> HttpResponseBase:
    headers = bearer(token) if token is not None else {}
    return client.get(f"{ADMIN_URL}{path}", params, **headers)


def iso_z(moment: datetime) -> str:
    """How the API writes a timestamp (DRF: ISO 8601, UTC, `Z`)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
