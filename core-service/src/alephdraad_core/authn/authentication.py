"""DRF authenticators for user and admin access tokens.

A user token is accepted only while its session is live: core checks the session row on every
request, so revoking a session (logout, admin, password change) refuses its access token at
once, not when it expires (ASVS V7.4.1).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from alephdraad_core.accounts.models import User
from alephdraad_core.admins.models import Admin
from alephdraad_core.authn.errors import SessionRevoked, TokenInvalid, account_locked
from alephdraad_core.authn.models import Session
from alephdraad_core.authn.tokens import ADMIN_AUDIENCE, USER_AUDIENCE, InvalidToken, decode_token

# last_active_at is written at most this often per session, not on every request.
LAST_ACTIVE_RESOLUTION = timedelta(seconds=60)
CHALLENGE = 'Bearer realm="alephdraad"'


@dataclass(frozen=True)
class UserAuth:
    """request.auth for a user: the verified claims and the live session they belong to."""

    claims: dict[str, Any]
    session: Session


@dataclass(frozen=True)
class AdminAuth:
    claims: dict[str, Any]


def bearer_token(request: Request) -> str | None:
    parts = get_authorization_header(request).split()
    if not parts or parts[0].lower() != b"bearer":
        return None
    if len(parts) != 2:
        raise TokenInvalid("The Authorization header must be 'Bearer <token>'.")
    try:
        return parts[1].decode("ascii")
    except UnicodeDecodeError:
        raise TokenInvalid("The token is not ASCII.") from None


class UserTokenAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[User, UserAuth] | None:
        token = bearer_token(request)
        if token is None:
            return None
        try:
            claims = decode_token(token, audience=USER_AUDIENCE)
        except InvalidToken:
            raise TokenInvalid("The access token is invalid or has expired.") from None
        session = (
            Session.objects.select_related("user")
            .filter(pk=_uuid_or_none(claims["sid"]), user_id=_int_or_none(claims["sub"]))
            .first()
        )
        now = timezone.now()
        if session is None or not session.is_live(now):
            raise SessionRevoked("This session has ended; log in again.")
        user = session.user
        if user.lock_is_active(now):
            raise account_locked(user)
        if now - session.last_active_at >= LAST_ACTIVE_RESOLUTION:
            Session.objects.filter(pk=session.pk).update(last_active_at=now)
        return user, UserAuth(claims=claims, session=session)

    def authenticate_header(self, request: Request) -> str:
        return CHALLENGE


class AdminTokenAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Admin, AdminAuth] | None:
        token = bearer_token(request)
        if token is None:
            return None
        try:
            claims = decode_token(token, audience=ADMIN_AUDIENCE)
        except InvalidToken:
            raise TokenInvalid("The admin token is invalid or has expired.") from None
        admin = Admin.objects.filter(pk=_int_or_none(claims["sub"]), is_active=True).first()
        if admin is None:
            raise TokenInvalid("The admin account is not active.")
        return admin, AdminAuth(claims=claims)

    def authenticate_header(self, request: Request) -> str:
        return CHALLENGE


def _int_or_none(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def _uuid_or_none(value: object) -> str | None:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None


class UserTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[misc]
    target_class = "alephdraad_core.authn.authentication.UserTokenAuthentication"
    name = "userToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


class AdminTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[misc]
    target_class = "alephdraad_core.authn.authentication.AdminTokenAuthentication"
    name = "adminToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
