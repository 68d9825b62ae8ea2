"""Stable error codes of authentication (login, tokens, sessions)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from alephdraad_contracts import ProblemType
from alephdraad_core.platform.errors import DomainError

if TYPE_CHECKING:
    from alephdraad_core.accounts.models import User

_BEARER_INVALID = 'Bearer realm="alephdraad", error="invalid_token"'


class InvalidCredentials(DomainError):
    problem_type = ProblemType("AUTH_INVALID_CREDENTIALS", 401, "Invalid credentials")


class EmailUnverified(DomainError):
    problem_type = ProblemType("AUTH_EMAIL_UNVERIFIED", 403, "Email address not verified")


class AccountLocked(DomainError):
    problem_type = ProblemType("AUTH_ACCOUNT_LOCKED", 403, "Account locked")


class LoginTemporarilyLocked(DomainError):
    problem_type = ProblemType("AUTH_LOGIN_LOCKED", 429, "Too many failed logins")


class TokenInvalid(DomainError):
    """The access token is missing its parts, forged, expired or for another audience."""

    problem_type = ProblemType("AUTH_TOKEN_INVALID", 401, "Invalid access token")

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": _BEARER_INVALID})


class SessionRevoked(DomainError):
    problem_type = ProblemType("AUTH_SESSION_REVOKED", 401, "Session ended")

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": _BEARER_INVALID})


class RefreshTokenInvalid(DomainError):
    problem_type = ProblemType("AUTH_REFRESH_TOKEN_INVALID", 401, "Invalid refresh token")


class SessionNotFound(DomainError):
    problem_type = ProblemType("SESSION_NOT_FOUND", 404, "Session not found")


def iso_z(moment: datetime) -> str:
    """A UTC timestamp as the API writes it in messages: second precision, `Z`."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def account_locked(user: User) -> AccountLocked:
    """The 403 for an admin-locked account, naming why and until when."""
    until = iso_z(user.locked_until) if user.locked_until else "further notice"
    reason = user.locked_reason or "no reason given"
    return AccountLocked(
        f"This account is locked until {until}: {reason}.",
        extensions={
            "locked_until": iso_z(user.locked_until) if user.locked_until else None,
            "reason": user.locked_reason,
        },
    )
