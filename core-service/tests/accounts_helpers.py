"""Helpers for the accounts tests: users, signed-in sessions, JSON requests, the mail outbox.

A plain module (not a conftest) so the accounts tests own it; import what you need.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.test import Client
from django.utils import timezone

from alephdraad_core.accounts.models import User
from alephdraad_core.authn.models import Session
from alephdraad_core.authn.tokens import issue_user_token
from alephdraad_core.mail.models import OutgoingMail

# Passes every configured validator, and unlike the account details below.
PASSWORD = "vivid-otter-galaxy-42"
NEW_PASSWORD = "quiet lantern harbour 7"


def make_user(
    *,
    email: str = "mira@example.com",
    username: str = "mira",
    full_name: str = "Mira Castellan",
    password: str = PASSWORD,
    verified: bool = True,
) -> User:
    user = User(email=email, username=username, full_name=full_name, is_verified=verified)
    user.password = _argon2_hash(password)
    user.save()
    return user


@functools.cache
def _argon2_hash(password: str) -> str:
    """A real hash with the configured (Argon2id) hasher, computed once per password: each
    costs a noticeable fraction of a second, and the tests make many users."""
    return make_password(password)


@dataclass(frozen=True)
class SignedIn:
    user: User
    session: Session
    access_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def sign_in(user: User, *, ip_address: str = "203.0.113.10") -> SignedIn:
    """A live session of `user` and an access token for it, as login would create them."""
    session = Session.objects.create(
        user=user,
        ip_address=ip_address,
        user_agent="pytest",
        amr=["pwd"],
        expires_at=timezone.now() + timedelta(days=7),
    )
    issued = issue_user_token(
        user_id=user.pk,
        username=user.username,
        session_id=str(session.pk),
        amr=["pwd"],
        mfa=user.totp_enabled,
    )
    return SignedIn(user=user, session=session, access_token=issued.token)


def post_json(client: Client, path: str, body: Any, **headers: str) -> Any:
    return client.post(path, body, content_type="application/json", headers=headers)


def patch_json(client: Client, path: str, body: Any, **headers: str) -> Any:
    return client.patch(path, body, content_type="application/json", headers=headers)


def post_raw(client: Client, path: str, raw: str | bytes, **headers: str) -> Any:
    return client.generic("POST", path, raw, content_type="application/json", headers=headers)


def outbox(kind: str | None = None, to: str | None = None) -> list[OutgoingMail]:
    mails = OutgoingMail.objects.order_by("id")
    if kind is not None:
        mails = mails.filter(kind=kind)
    if to is not None:
        mails = mails.filter(to_address=to)
    return list(mails)


def token_in(mail: OutgoingMail, page: str) -> str:
    """The token of the `{PUBLIC_URL}{page}?token=…` link in a mail (exactly one)."""
    pattern = re.escape(f"{settings.PUBLIC_URL}{page}?token=") + r"([A-Za-z0-9_-]+)"
    found = re.findall(pattern, mail.body_text)
    assert len(found) == 1, mail.body_text
    return found[0]
