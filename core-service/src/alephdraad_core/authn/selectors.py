"""Reads of authentication state: who a login names, login lockouts, a user's sessions."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models.functions import Lower

from alephdraad_core.accounts.models import User, normalize_email
from alephdraad_core.authn.errors import SessionNotFound
from alephdraad_core.authn.models import RefreshToken, Session
from alephdraad_core.security.models import SecurityEvent

# Password-login lockout (README.md in this package says why these numbers).
LOGIN_FAILURE_LIMIT = 5
LOGIN_FAILURE_WINDOW = timedelta(minutes=30)
LOGIN_LOCK_DURATION = timedelta(minutes=15)

EVENT_LOGIN_SUCCESS = "login_success"
EVENT_LOGIN_FAILED = "login_failed"
EVENT_LOGIN_LOCKED = "login_locked"
EVENT_LOGIN_BLOCKED = "login_blocked"


def user_for_login(login: str) -> User | None:
    """The user a login names: an email address when it contains "@", else a username.

    Both compare case-insensitively; the email through the same LOWER(email) expression as
    the unique index idx_users_email, so the lookup uses it.
    """
    if "@" in login:
        return (
            User.objects.alias(email_lower=Lower("email"))
            .filter(email_lower=normalize_email(login))
            .first()
        )
    return User.objects.filter(username=login.strip().lower()).first()


@dataclass(frozen=True)
class PasswordLoginState:
    """Failed password attempts that count towards a lock, and the lock in force, if any."""

    failures: int
    # Set only while the lock is in force.
    locked_until: datetime | None


def password_login_state(user_id: int, now: datetime) -> PasswordLoginState:
    """Read the lockout state of a user's password login from the audit log.

    Walking back from now through the last 30 minutes: a successful login ends the count,
    and so does the latest lock (failures before a lock have been paid for by it). Blocked
    attempts (made during a lock) are other events and never count.
    """
    recent = (
        SecurityEvent.objects.filter(
            user_id=user_id,
            event_type__in=(EVENT_LOGIN_SUCCESS, EVENT_LOGIN_FAILED, EVENT_LOGIN_LOCKED),
            created_at__gte=now - LOGIN_FAILURE_WINDOW,
        )
        .order_by("-created_at", "-id")
        .values_list("event_type", "created_at")
    )
    failures = 0
    # Enough rows to reach the lock or success that ends the count, even after a burst of
    # concurrent failures.
    for event_type, created_at in recent[: LOGIN_FAILURE_LIMIT * 4]:
        if event_type == EVENT_LOGIN_SUCCESS:
            break
        if event_type == EVENT_LOGIN_LOCKED:
            until = created_at + LOGIN_LOCK_DURATION
            return PasswordLoginState(failures, until if until > now else None)
        failures += 1
    return PasswordLoginState(failures, None)


def live_sessions(user: User, now: datetime) -> list[Session]:
    """The user's sessions that can still refresh, newest first (at most MAX_LIVE_SESSIONS)."""
    return list(
        Session.objects.filter(user=user, is_revoked=False, expires_at__gt=now).order_by(
            "-created_at", "-id"
        )
    )


def access_session(user: User, session_id: str, now: datetime) -> Session:
    """One of the user's live sessions by id; anyone else's, unknown or malformed -> 404."""
    try:
        parsed = uuid.UUID(session_id)
    except ValueError:
        raise SessionNotFound() from None
    session = Session.objects.filter(
        pk=parsed, user=user, is_revoked=False, expires_at__gt=now
    ).first()
    if session is None:
        raise SessionNotFound()
    return session


def session_of_refresh_token(user: User, token_hash: str) -> Session | None:
    """The session whose family holds this refresh token, only if it is the user's."""
    row = (
        RefreshToken.objects.select_related("session")
        .filter(token_hash=token_hash, session__user=user)
        .first()
    )
    return row.session if row is not None else None
