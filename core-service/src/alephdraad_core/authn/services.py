"""State changes of authentication: login, refresh-token rotation, logout, session revocation.

Refresh tokens are opaque random strings. Only their SHA-256 is stored (`RefreshToken`); each
rotation's successor is *derived* from the token presented, `HMAC(pepper, presented)`, so a
replay within the grace window can be answered with the very same pair without the plaintext
ever being stored. Lock order everywhere: user row, then refresh-token row, then session row.
"""

from __future__ import annotations

import base64
import hashlib
import math
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from django.contrib.auth.hashers import check_password, get_hasher, make_password
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import salted_hmac

from alephdraad_core.accounts.models import User
from alephdraad_core.authn.errors import (
    EmailUnverified,
    InvalidCredentials,
    LoginTemporarilyLocked,
    RefreshTokenInvalid,
    account_locked,
    iso_z,
)
from alephdraad_core.authn.models import RefreshToken, Session
from alephdraad_core.authn.selectors import (
    EVENT_LOGIN_BLOCKED,
    EVENT_LOGIN_FAILED,
    EVENT_LOGIN_LOCKED,
    EVENT_LOGIN_SUCCESS,
    LOGIN_FAILURE_LIMIT,
    LOGIN_LOCK_DURATION,
    password_login_state,
    session_of_refresh_token,
    user_for_login,
)
from alephdraad_core.authn.tokens import IssuedToken, issue_user_token
from alephdraad_core.mail.services import enqueue_mail
from alephdraad_core.mfa.challenges import MfaChallenge, do_issue_mfa_challenge
from alephdraad_core.platform.http import client_ip, user_agent
from alephdraad_core.security.services import record_security_event

SESSION_LIFETIME = timedelta(days=7)
MAX_LIVE_SESSIONS = 10
# A second tab refreshing with the token another tab just rotated gets the same new pair
# within this window; later it is reuse (original-system bug 6: 5 s was too short).
REFRESH_GRACE = timedelta(seconds=30)
# Length of the login identifier kept in the audit log.
AUDIT_LOGIN_MAX = 254

_FINGERPRINT_SALT = "alephdraad.device-fingerprint"
_SUCCESSOR_SALT = "alephdraad.refresh-successor"

REVOKED_BY_LOGOUT = "logout"
REVOKED_BY_LOGOUT_ALL = "logout_all"
REVOKED_BY_USER = "user_revoked"
REVOKED_BY_SESSION_LIMIT = "session_limit"
REVOKED_BY_REFRESH_REUSE = "refresh_token_reuse"


@dataclass(frozen=True)
class TokenPair:
    access: IssuedToken
    refresh_token: str


@dataclass(frozen=True)
class LoginResult:
    user: User
    session: Session
    tokens: TokenPair


# Tokens and fingerprints


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def successor_refresh_token(presented: str) -> str:
    """The token that replaces `presented` on rotation: deterministic, unguessable without
    the server secret, and as long as a fresh one."""
    digest = salted_hmac(_SUCCESSOR_SALT, presented, algorithm="sha256").digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def hash_device_fingerprint(raw: str | None) -> str | None:
    """Keyed hash of the client's fingerprint; the raw value is never stored."""
    if not raw:
        return None
    return salted_hmac(_FINGERPRINT_SALT, raw, algorithm="sha256").hexdigest()


def _dummy_password_hash() -> str:
    """Verified against when the login names nobody, so an unknown user costs the same
    Argon2 work as a wrong password (as Django's ModelBackend does)."""
    return _dummy_hash_for(get_hasher().algorithm)


@cache
def _dummy_hash_for(algorithm: str) -> str:
    # Keyed by the hasher, so it always costs what hashes made now cost.
    return make_password(secrets.token_urlsafe(16), hasher=algorithm)


def _access_token(session: Session, user: User, **rebuild: object) -> IssuedToken:
    return issue_user_token(
        user_id=user.pk,
        username=user.username,
        session_id=str(session.pk),
        amr=list(session.amr),
        # DESIGN section 4: `mfa` says whether the account has 2FA on; `amr` says which
        # methods this session was opened with.
        mfa=user.totp_enabled,
        **rebuild,  # type: ignore[arg-type]
    )


# Login


def do_login(
    request: HttpRequest, *, login: str, password: str, device_fingerprint: str | None
) -> LoginResult | MfaChallenge:
    """Check a password login and open a session with its first refresh token, or, when the
    account has 2FA on, answer with an MFA challenge (mfa.challenges) and open nothing yet:
    the second step (mfa.services.do_complete_mfa_login) opens the session.

    Order: lockout, password, verified email, admin lock; a wrong password and an unknown
    login are one answer after one Argon2 verification. Audit events are written outside any
    transaction, so failures stay on record. Session creation locks the user row (see
    `_open_session`).
    """
    audit_login = {"login": login[:AUDIT_LOGIN_MAX]}
    user = user_for_login(login)
    if user is None:
        check_password(password, _dummy_password_hash())
        record_security_event(EVENT_LOGIN_FAILED, request=request, details=audit_login)
        raise InvalidCredentials("The login or the password is wrong.")

    now = timezone.now()
    state = password_login_state(user.pk, now)
    if state.locked_until is not None:
        record_security_event(
            EVENT_LOGIN_BLOCKED,
            request=request,
            user_id=user.pk,
            details={**audit_login, "locked_until": iso_z(state.locked_until)},
        )
        raise _login_locked(state.locked_until, now)

    if not _password_matches(user, password):
        record_security_event(
            EVENT_LOGIN_FAILED, request=request, user_id=user.pk, details=audit_login
        )
        if state.failures + 1 >= LOGIN_FAILURE_LIMIT:
            record_security_event(
                EVENT_LOGIN_LOCKED,
                request=request,
                user_id=user.pk,
                details={
                    "failures": state.failures + 1,
                    "locked_until": iso_z(timezone.now() + LOGIN_LOCK_DURATION),
                },
            )
        raise InvalidCredentials("The login or the password is wrong.")

    if user.totp_enabled:
        # The password is right but is only the first factor: no session yet. The account's
        # state is revealed now, as for a one-step login, so nobody types a code in vain.
        check_may_open_session(user, now)
        return do_issue_mfa_challenge(
            request, user=user, device_fingerprint_hash=hash_device_fingerprint(device_fingerprint)
        )
    return do_open_session(
        request, user_id=user.pk, device_fingerprint=device_fingerprint, amr=["pwd"]
    )


def check_may_open_session(user: User, now: datetime) -> None:
    """A verified email and no administrator's lock in force, else 403. A deleted account's
    tombstone is unverified and has no password or passkey (accounts.services._anonymise), so
    it never gets this far; the explicit check keeps that true should the anonymisation ever
    change, answering like an account that does not exist."""
    if user.deleted_at is not None:
        raise InvalidCredentials("The login or the password is wrong.")
    if not user.is_verified:
        raise EmailUnverified("Confirm your email address first; we sent you a link.")
    if user.lock_is_active(now):
        raise account_locked(user)


def do_open_session(
    request: HttpRequest,
    *,
    user_id: int,
    device_fingerprint: str | None = None,
    amr: list[str],
    device_fingerprint_hash: str | None = None,
) -> LoginResult:
    """Open a session for a user who has just proven who they are (`amr` says how: "pwd",
    "otp", "hwk"), with its first refresh token and access token, and log the success.

    Every login path ends here (password, password + second factor, passkey). The session is
    created in one transaction that locks the user row (see `_open_session`). The device
    fingerprint comes raw, or already hashed (`device_fingerprint_hash`) by a first login step
    that kept only its hash.
    """
    fingerprint_hash = (
        device_fingerprint_hash
        if device_fingerprint_hash is not None
        else hash_device_fingerprint(device_fingerprint)
    )
    with transaction.atomic():
        user, session, tokens, evicted = _open_session(request, user_id, fingerprint_hash, amr=amr)
    for evicted_id in evicted:
        record_security_event(
            "session_revoked",
            request=request,
            user_id=user.pk,
            details={"session_id": str(evicted_id), "reason": REVOKED_BY_SESSION_LIMIT},
        )
    record_security_event(
        EVENT_LOGIN_SUCCESS,
        request=request,
        user_id=user.pk,
        details={"session_id": str(session.pk), "amr": list(session.amr)},
    )
    return LoginResult(user=user, session=session, tokens=tokens)


def _password_matches(user: User, password: str) -> bool:
    if not user.has_usable_password():
        # Django answers an unusable hash at once; spend the same work as for a real one.
        check_password(password, _dummy_password_hash())
        return False
    return user.check_password(password)


def _login_locked(locked_until: datetime, now: datetime) -> LoginTemporarilyLocked:
    wait = max(1, math.ceil((locked_until - now).total_seconds()))
    return LoginTemporarilyLocked(
        f"Too many failed logins: password login is paused until {iso_z(locked_until)}. "
        "You can still reset your password.",
        headers={"Retry-After": str(wait)},
    )


def _open_session(
    request: HttpRequest, user_id: int, fingerprint_hash: str | None, *, amr: list[str]
) -> tuple[User, Session, TokenPair, list[uuid.UUID]]:
    """Create a session for a user who was just authenticated.

    Runs in the caller's transaction and locks the user row first (SELECT … FOR UPDATE), so
    concurrent logins of one user take turns and never leave more than MAX_LIVE_SESSIONS live.
    The user is re-read under the lock, so an admin lock that landed meanwhile still counts.
    """
    now = timezone.now()
    user = User.objects.select_for_update().get(pk=user_id)
    check_may_open_session(user, now)

    live_ids = list(
        Session.objects.filter(user_id=user.pk, is_revoked=False, expires_at__gt=now)
        .order_by("created_at", "id")
        .values_list("pk", flat=True)
    )
    evicted = live_ids[: max(0, len(live_ids) - (MAX_LIVE_SESSIONS - 1))]
    if evicted:
        Session.objects.filter(pk__in=evicted).update(
            is_revoked=True, revoked_at=now, revoked_reason=REVOKED_BY_SESSION_LIMIT
        )

    session = Session.objects.create(
        user=user,
        device_fingerprint=fingerprint_hash,
        ip_address=client_ip(request),
        user_agent=user_agent(request),
        amr=list(amr),
        expires_at=now + SESSION_LIFETIME,
        created_at=now,
        last_active_at=now,
    )
    refresh_token = new_refresh_token()
    access = _access_token(session, user)
    RefreshToken.objects.create(
        session=session,
        token_hash=hash_refresh_token(refresh_token),
        access_jti=access.jti,
        access_issued_at=access.issued_at,
        created_at=now,
    )
    user.last_login = now
    user.save(update_fields=["last_login"])
    return user, session, TokenPair(access, refresh_token), evicted


# Refresh


@dataclass(frozen=True)
class _Reuse:
    """A rotated token came back after the grace window: the family was revoked."""

    user_id: int
    session_id: uuid.UUID
    rotated_at: datetime


def do_refresh(
    request: HttpRequest, *, refresh_token: str, now: datetime | None = None
) -> TokenPair:
    """Exchange a refresh token for the next pair of its family.

    One transaction locks the presented token's row, then its session, so concurrent
    refreshes with one token are served one after the other: the first rotates, the others
    (within REFRESH_GRACE) get the same new pair. Reuse outside the grace revokes the session,
    queues a mail and commits that before answering 401; the account is never locked.
    """
    moment = now or timezone.now()
    with transaction.atomic():
        outcome = _rotate(refresh_token, moment)
    if isinstance(outcome, _Reuse):
        record_security_event(
            REVOKED_BY_REFRESH_REUSE,
            request=request,
            user_id=outcome.user_id,
            details={
                "session_id": str(outcome.session_id),
                "rotated_at": iso_z(outcome.rotated_at),
            },
        )
        raise RefreshTokenInvalid(
            "This refresh token was already used; the session has been ended. Log in again."
        )
    return outcome


def _rotate(presented: str, now: datetime) -> TokenPair | _Reuse:
    """Runs inside do_refresh's transaction; locks the RefreshToken row, then the Session."""
    row = (
        RefreshToken.objects.select_for_update()
        .filter(token_hash=hash_refresh_token(presented))
        .first()
    )
    if row is None:
        raise RefreshTokenInvalid("The refresh token is invalid or has expired.")
    session = (
        Session.objects.select_for_update(of=("self",))
        .select_related("user")
        .get(pk=row.session_id)
    )
    if not session.is_live(now):
        raise RefreshTokenInvalid("The refresh token is invalid or has expired.")
    user = session.user
    successor_token = successor_refresh_token(presented)

    if row.rotated_at is not None:
        successor = None
        if now - row.rotated_at <= REFRESH_GRACE:
            successor = RefreshToken.objects.filter(
                session=session,
                token_hash=hash_refresh_token(successor_token),
                rotated_at__isnull=True,
            ).first()
        if successor is None:
            _revoke_for_reuse(session, now)
            return _Reuse(user.pk, session.pk, row.rotated_at)
        if user.lock_is_active(now):
            raise account_locked(user)
        # The same pair as the rotation that created `successor`, byte for byte.
        access = _access_token(
            session, user, jti=successor.access_jti, issued_at=successor.access_issued_at
        )
        return TokenPair(access, successor_token)

    if user.lock_is_active(now):
        raise account_locked(user)
    access = _access_token(session, user, issued_at=now)
    RefreshToken.objects.filter(pk=row.pk).update(rotated_at=now)
    RefreshToken.objects.create(
        session=session,
        token_hash=hash_refresh_token(successor_token),
        access_jti=access.jti,
        access_issued_at=access.issued_at,
        created_at=now,
    )
    Session.objects.filter(pk=session.pk).update(last_active_at=now)
    return TokenPair(access, successor_token)


def _revoke_for_reuse(session: Session, now: datetime) -> None:
    Session.objects.filter(pk=session.pk).update(
        is_revoked=True, revoked_at=now, revoked_reason=REVOKED_BY_REFRESH_REUSE
    )
    enqueue_mail(
        kind="refresh_token_reuse",
        to=session.user.email,
        subject="We ended one of your sessions",
        body=(
            f"Hello {session.user.username},\n\n"
            "Someone used an old sign-in token of your account, one that had already been "
            "replaced. To be safe we ended that session"
            f" (signed in {iso_z(session.created_at)}"
            f" from {session.ip_address or 'an unknown address'},"
            f" {session.user_agent or 'unknown device'}).\n\n"
            "If that was you (an old tab or a restored backup, say), just sign in again. "
            "If it wasn't you, change your password now: it also ends every other session.\n"
        ),
    )


# Logout and revocation


def do_logout(
    request: HttpRequest, *, user: User, current_session: Session, refresh_token: str | None
) -> Session:
    """End one session: the one owning `refresh_token` if it is the caller's, else the
    current one. A single UPDATE; revoking an ended session again changes nothing."""
    session = current_session
    if refresh_token:
        session = session_of_refresh_token(user, hash_refresh_token(refresh_token)) or session
    _revoke_session(session, REVOKED_BY_LOGOUT)
    record_security_event(
        "logout", request=request, user_id=user.pk, details={"session_id": str(session.pk)}
    )
    return session


def do_logout_all(
    request: HttpRequest, *, user: User, current_session: Session, keep_current: bool
) -> int:
    """End all of the user's live sessions, or all but the current one; return how many."""
    revoked = do_revoke_user_sessions(
        user.pk,
        reason=REVOKED_BY_LOGOUT_ALL,
        keep_session_id=current_session.pk if keep_current else None,
    )
    record_security_event(
        "logout_all",
        request=request,
        user_id=user.pk,
        details={
            "revoked": revoked,
            "kept_session_id": str(current_session.pk) if keep_current else None,
        },
    )
    return revoked


def do_revoke_session(request: HttpRequest, *, user: User, session: Session) -> None:
    """End one session the caller owns (obtained through selectors.access_session)."""
    _revoke_session(session, REVOKED_BY_USER)
    record_security_event(
        "session_revoked",
        request=request,
        user_id=user.pk,
        details={"session_id": str(session.pk), "reason": REVOKED_BY_USER},
    )


def _revoke_session(session: Session, reason: str) -> int:
    return Session.objects.filter(pk=session.pk, is_revoked=False).update(
        is_revoked=True, revoked_at=timezone.now(), revoked_reason=reason
    )


def do_revoke_user_sessions(
    user_id: int, *, reason: str, keep_session_id: uuid.UUID | str | None = None
) -> int:
    """Revoke every live session of a user (optionally all but one); return how many.

    One UPDATE, so it is atomic by itself and safe to call inside a caller's transaction. A
    revoked session's refresh tokens stop working and its access tokens are refused by the
    authenticator on their next use.
    """
    now = timezone.now()
    live = Session.objects.filter(user_id=user_id, is_revoked=False, expires_at__gt=now)
    if keep_session_id is not None:
        live = live.exclude(pk=keep_session_id)
    with transaction.atomic():
        return live.update(is_revoked=True, revoked_at=now, revoked_reason=reason)
