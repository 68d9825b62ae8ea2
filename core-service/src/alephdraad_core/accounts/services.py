"""State changes of accounts: registration, email verification, password reset and change,
profile edits, username changes.

Mail is queued with `enqueue_mail` inside the same transaction as the change it reports, so a
mail goes out exactly when its change commits (mail/services.py). Tokens we mail are 256 random
bits; only their SHA-256 is stored, so a copy of the database opens no account.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from alephdraad_core.accounts import mails
from alephdraad_core.accounts.errors import (
    PasswordIncorrect,
    PasswordRejected,
    ResetTokenInvalid,
    UsernameChangeTooSoon,
    UsernameTaken,
    VerificationTokenInvalid,
)
from alephdraad_core.accounts.models import (
    EmailVerificationToken,
    PasswordResetToken,
    User,
    normalize_email,
)
from alephdraad_core.accounts.policy import password_problems
from alephdraad_core.accounts.selectors import find_user_by_email, username_is_taken
from alephdraad_core.authn.errors import iso_z
from alephdraad_core.authn.services import do_revoke_user_sessions
from alephdraad_core.mail.services import enqueue_mail
from alephdraad_core.platform.http import client_ip
from alephdraad_core.security import limits
from alephdraad_core.security.services import hit, record_security_event

VERIFICATION_TOKEN_TTL = timedelta(hours=24)
RESET_TOKEN_TTL = timedelta(hours=1)
# A username may change once per 30 days (issue 6): often enough to fix a regretted name,
# rarely enough that names are not swapped around to confuse people.
USERNAME_CHANGE_INTERVAL = timedelta(days=30)
# Guesses of the current password with a stolen access token: every attempt counts, per user.

# Names of the unique indexes on users (accounts/models.py), as PostgreSQL reports them.
_EMAIL_INDEX = "idx_users_email"
_USERNAME_INDEX = "idx_users_username"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token() -> tuple[str, str]:
    """A token to mail (256 bits, URL-safe) and the hash to store."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def _violated_constraint(error: IntegrityError) -> str | None:
    diag = getattr(error.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None)


@dataclass(frozen=True)
class Registration:
    """What happened, for the caller's logs and tests; the client is told the same either way."""

    created: bool
    user_id: int | None


def do_register(
    *, email: str, username: str, full_name: str, password: str, request: HttpRequest
) -> Registration:
    """Create an unverified account and queue its verification mail; for an address that
    already has an account, queue a notice to that address instead and change nothing.

    No account enumeration (ASVS 5.0 V6.3.8): both outcomes answer the same, and the password is
    hashed first on both, so they also take about the same time. The username is checked
    before the address: a taken username is 409 whoever owns the address, so the 409 tells
    nothing about the address.

    Opens its own transaction (the user, its token and the mail commit together or not at
    all). The unique indexes decide races: the INSERT runs in a savepoint and a violation is
    mapped as if the check before it had seen the winner. The security event is written after
    the commit.
    """
    user = User(email=normalize_email(email), username=username, full_name=full_name)
    # Argon2 takes tens of milliseconds; done before the transaction, it holds no lock.
    user.set_password(password)
    created = False
    with transaction.atomic():
        if username_is_taken(username):
            raise UsernameTaken()
        existing = find_user_by_email(user.email)
        if existing is None:
            try:
                with transaction.atomic():
                    user.save(force_insert=True)
                created = True
            except IntegrityError as error:
                constraint = _violated_constraint(error)
                if constraint == _USERNAME_INDEX:
                    raise UsernameTaken() from None
                if constraint != _EMAIL_INDEX:
                    raise
                # A concurrent registration of this address committed first.
                if username_is_taken(username):
                    raise UsernameTaken() from None
                existing = find_user_by_email(user.email)
        if created:
            _issue_verification_token(user)
            outcome = Registration(created=True, user_id=user.pk)
        else:
            if existing is not None:  # None only if the winner was deleted meanwhile
                subject, body = mails.register_attempt_existing(name=existing.full_name)
                enqueue_mail(
                    kind="register_attempt_existing",
                    to=existing.email,
                    subject=subject,
                    body=body,
                )
            outcome = Registration(created=False, user_id=existing.pk if existing else None)
    record_security_event(
        "register",
        request=request,
        user_id=outcome.user_id,
        details={"outcome": "created" if outcome.created else "existing_email"},
    )
    return outcome


def _issue_verification_token(user: User) -> None:
    """A new verification token and its mail; call inside the caller's transaction."""
    token, token_hash = _new_token()
    EmailVerificationToken.objects.create(
        user=user, token=token_hash, expires_at=timezone.now() + VERIFICATION_TOKEN_TTL
    )
    subject, body = mails.verify_email(
        name=user.full_name,
        token=token,
        valid_hours=int(VERIFICATION_TOKEN_TTL.total_seconds() // 3600),
    )
    enqueue_mail(kind="verify_email", to=user.email, subject=subject, body=body)


def do_request_verification_mail(*, email: str, request: HttpRequest) -> bool:
    """Mail a new verification link if the address belongs to an unverified account and
    neither cap (per address, per client IP, per 24 h) is spent; return whether one was queued.

    The caller answers the same whatever this returns. Both caps count every request, known
    address or not, so probing addresses spends the prober's budget. Previous links stay valid
    until one of them is used. One short transaction for the token and the mail.
    """
    address = normalize_email(email)
    per_address = hit(limits.VERIFICATION_MAIL_PER_ADDRESS, address)
    per_ip = hit(limits.VERIFICATION_MAIL_PER_IP, client_ip(request) or "unknown")
    if not (per_address.allowed and per_ip.allowed):
        return False
    user = find_user_by_email(address)
    if user is None or user.is_verified:
        return False
    with transaction.atomic():
        _issue_verification_token(user)
    return True


def do_confirm_email(*, token: str, request: HttpRequest) -> User:
    """Consume a verification token and mark its account verified.

    Unknown, expired and used tokens all raise VerificationTokenInvalid. The token row is
    locked (SELECT … FOR UPDATE) in the transaction, so of two concurrent confirmations one
    wins and the other sees the token used. Every other outstanding verification token of the
    account is spent with it.
    """
    now = timezone.now()
    with transaction.atomic():
        row = (
            EmailVerificationToken.objects.select_for_update(of=("self",))
            .select_related("user")
            .filter(token=hash_token(token))
            .first()
        )
        if row is None or row.used_at is not None or row.expires_at <= now:
            raise VerificationTokenInvalid()
        EmailVerificationToken.objects.filter(user_id=row.user_id, used_at__isnull=True).update(
            used_at=now
        )
        user = row.user
        if not user.is_verified:
            user.is_verified = True
            user.save(update_fields=["is_verified", "updated_at"])
        record_security_event("email_verified", request=request, user_id=user.pk)
    return user


def do_request_password_reset(*, email: str, request: HttpRequest) -> bool:
    """Mail a reset link if the address has an account and its cap (per address, per 24 h)
    is not spent; return whether one was queued. The caller answers the same either way; the
    cap counts every request, known address or not. Earlier links stay valid until one is used
    or they expire. One short transaction for the token and the mail.
    """
    address = normalize_email(email)
    if not hit(limits.RESET_MAIL_PER_ADDRESS, address).allowed:
        return False
    user = find_user_by_email(address)
    if user is None:
        return False
    token, token_hash = _new_token()
    with transaction.atomic():
        PasswordResetToken.objects.create(
            user=user, token=token_hash, expires_at=timezone.now() + RESET_TOKEN_TTL
        )
        subject, body = mails.password_reset(
            name=user.full_name,
            token=token,
            valid_minutes=int(RESET_TOKEN_TTL.total_seconds() // 60),
        )
        enqueue_mail(kind="password_reset", to=user.email, subject=subject, body=body)
    record_security_event("password_reset_requested", request=request, user_id=user.pk)
    return True


def do_reset_password(*, token: str, new_password: str, request: HttpRequest) -> User:
    """Set a new password with a reset token; end every session of the account.

    Unknown, expired and used tokens all raise ResetTokenInvalid; a new password the policy
    refuses raises PasswordRejected and leaves the token unused. One transaction, with the
    token row locked (SELECT … FOR UPDATE) so a token is consumed once: the password, the
    token and the account's other reset tokens, every session (ASVS V7.4.3), the security
    event and the notice mail commit together.

    The reset also marks the address verified: the link reached its mailbox, which is the same
    proof a verification link gives.
    """
    now = timezone.now()
    with transaction.atomic():
        row = (
            PasswordResetToken.objects.select_for_update(of=("self",))
            .select_related("user")
            .filter(token=hash_token(token))
            .first()
        )
        if row is None or row.used_at is not None or row.expires_at <= now:
            raise ResetTokenInvalid()
        user = row.user
        problems = password_problems(new_password, user)
        if problems:
            raise PasswordRejected("new_password", problems)
        user.set_password(new_password)
        user.is_verified = True
        user.save(update_fields=["password", "is_verified", "updated_at"])
        PasswordResetToken.objects.filter(user_id=user.pk, used_at__isnull=True).update(used_at=now)
        revoked = do_revoke_user_sessions(user.pk, reason="password_reset")
        record_security_event(
            "password_reset",
            request=request,
            user_id=user.pk,
            details={"sessions_revoked": revoked},
        )
        subject, body = mails.password_changed(name=user.full_name, by_reset=True)
        enqueue_mail(kind="password_changed", to=user.email, subject=subject, body=body)
    return user


def do_change_password(
    *,
    user: User,
    current_password: str,
    new_password: str,
    keep_session_id: uuid.UUID | str,
    request: HttpRequest,
) -> None:
    """Replace a signed-in user's password; end every session but the caller's.

    The user row is locked (SELECT … FOR UPDATE) while the current password is checked and
    the new one set, so two concurrent changes cannot both pass with the same old password.
    The password, the session revocations (ASVS V7.4.3), the security event and the notice
    mail commit together. A wrong current password raises PasswordIncorrect and is recorded
    (after the rollback) as "password_change_failed"; the caller rate-limits attempts with
    PASSWORD_CHANGE_PER_USER.
    """
    problems: list[str] = []
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        correct = locked.check_password(current_password)
        if correct:
            problems = password_problems(new_password, locked)
        if correct and not problems:
            locked.set_password(new_password)
            locked.save(update_fields=["password", "updated_at"])
            revoked = do_revoke_user_sessions(
                locked.pk, reason="password_changed", keep_session_id=keep_session_id
            )
            record_security_event(
                "password_changed",
                request=request,
                user_id=locked.pk,
                details={"sessions_revoked": revoked},
            )
            subject, body = mails.password_changed(name=locked.full_name, by_reset=False)
            enqueue_mail(kind="password_changed", to=locked.email, subject=subject, body=body)
    if not correct:
        record_security_event("password_change_failed", request=request, user_id=user.pk)
        raise PasswordIncorrect()
    if problems:
        raise PasswordRejected("new_password", problems)
    user.password = locked.password


def do_update_profile(user: User, changes: dict[str, Any]) -> User:
    """Apply validated profile fields (full_name, avatar_url) with one UPDATE of those
    columns; nothing else about the account can change here."""
    fields = [name for name in ("full_name", "avatar_url") if name in changes]
    if fields:
        for name in fields:
            setattr(user, name, changes[name])
        user.save(update_fields=[*fields, "updated_at"])
    return user


def do_change_username(user: User, *, username: str, request: HttpRequest) -> User:
    """Give `user` the (already validated: pattern, reserved names) `username`; record
    "username_changed" with the old and new names. Returns the account as it is now.

    Asking for the current name changes nothing and answers success, so a retried request is
    harmless and does not spend the allowance. Otherwise a change within
    USERNAME_CHANGE_INTERVAL of the previous one raises UsernameChangeTooSoon, and a name
    another account has raises UsernameTaken.

    One transaction with the users row locked (SELECT … FOR UPDATE), so two concurrent changes
    of one account cannot both pass the 30-day check. The UPDATE runs in a savepoint: the
    unique index idx_users_username settles a race with another account taking the same name
    (or registering it), which then answers UsernameTaken as the pre-check would have.
    """
    now = timezone.now()
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.username == username:
            return locked
        if locked.username_changed_at is not None:
            available_at = locked.username_changed_at + USERNAME_CHANGE_INTERVAL
            if now < available_at:
                # Rounded up to the second, so a retry at the stated moment succeeds.
                available_at = (available_at + timedelta(microseconds=999_999)).replace(
                    microsecond=0
                )
                raise UsernameChangeTooSoon(
                    iso_z(available_at), math.ceil((available_at - now).total_seconds())
                )
        if username_is_taken(username):
            raise UsernameTaken()
        old_username = locked.username
        locked.username = username
        locked.username_changed_at = now
        try:
            with transaction.atomic():
                locked.save(update_fields=["username", "username_changed_at", "updated_at"])
        except IntegrityError as error:
            if _violated_constraint(error) == _USERNAME_INDEX:
                raise UsernameTaken() from None
            raise
        record_security_event(
            "username_changed",
            request=request,
            user_id=locked.pk,
            details={"old": old_username, "new": username},
        )
        # The feature service copies usernames into replies (DESIGN section 7). The
        # "username changed" outbox event that updates those copies is written here, in this
        # transaction, once core's outbox exists; until then the copies keep the old name.
    return locked
