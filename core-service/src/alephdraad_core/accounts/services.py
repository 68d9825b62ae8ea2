"""State changes of accounts: registration, email verification, password reset and change,
profile edits, username changes, account deletion.

Registration, renames and deletions publish their event (accounts/events.py) in the same
transaction as the change, so the feature service hears of each exactly when it commits.

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
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from alephdraad_core.accounts import mails
from alephdraad_core.accounts.errors import (
    AccountDeletionBlocked,
    PasswordIncorrect,
    PasswordRejected,
    ResetTokenInvalid,
    UsernameChangeTooSoon,
    UsernameTaken,
    VerificationTokenInvalid,
)
from alephdraad_core.accounts.events import (
    emit_user_deleted,
    emit_user_registered,
    emit_user_renamed,
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
from alephdraad_core.authn.models import Session
from alephdraad_core.authn.services import do_revoke_user_sessions
from alephdraad_core.badges.models import UserBadge
from alephdraad_core.internal.peers import fetch_deletion_check
from alephdraad_core.mail.models import OutgoingMail
from alephdraad_core.mail.services import enqueue_mail
from alephdraad_core.mfa.models import BackupCode, MfaLoginToken
from alephdraad_core.passkeys.models import Credential, WebAuthnChallenge, WebAuthnUserHandle
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
            emit_user_registered(user)
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
        # The feature service copies usernames into replies (DESIGN section 7); this event,
        # committed with the new name, is how those copies follow it.
        emit_user_renamed(locked, old_username=old_username)
        record_security_event(
            "username_changed",
            request=request,
            user_id=locked.pk,
            details={"old": old_username, "new": username},
        )
    return locked


# --- account deletion --------------------------------------------------------------------------

# The tombstone's username and address. Neither can ever be a real one, so a tombstone never
# collides with a registration or rename and never matches a login, profile or lookup by name:
# a hyphen is outside policy.USERNAME_PATTERN, and an address with no dot in its domain fails
# the email validator every request goes through (`.invalid` is reserved by RFC 2606 anyway).
# Both are unique per id, as the unique indexes on users require; "deleted-" plus the largest
# bigint is 27 characters, inside the 30 of the column.
TOMBSTONE_USERNAME = "deleted-{id}"
TOMBSTONE_EMAIL = "deleted+{id}@invalid"


def do_delete_account(user: User, *, request: HttpRequest) -> bool:
    """Delete `user`'s account: anonymise the row into a tombstone, erase everything personal,
    publish user.deleted. Returns False when a concurrent request had already done it.

    The feature service is asked first (`fetch_deletion_check`); unreachable or unusable it
    raises UPSTREAM_UNAVAILABLE, and `can_delete: false` raises ACCOUNT_DELETION_BLOCKED,
    both before anything is written. Then one transaction, users row FOR UPDATE first (the
    order every session-changing path takes, so a login racing the deletion either opens its
    session before, and it is erased, or waits and re-reads an unverified tombstone, which no
    session is opened for): the personal
    rows deleted (`_erase_personal_data`), the row anonymised (`_anonymise`), the
    "account_deleted" security event and the user.deleted event.

    The row stays so that threads keep their author (shown as the tombstone's name) and the
    audit log keeps its subject; what a thread author, a profile or a lookup shows of it is
    only the tombstone name. Something the feature service accepted between its answer and
    the commit is handled by the user.deleted event, which it processes like any deletion.
    """
    check = fetch_deletion_check(user.pk)
    if not check.can_delete:
        raise AccountDeletionBlocked(check.blocking_reasons)
    now = timezone.now()
    with transaction.atomic():
        locked = User.objects.select_for_update().filter(pk=user.pk).first()
        if locked is None or locked.deleted_at is not None:
            return False
        erased = _erase_personal_data(locked)
        _anonymise(locked, now)
        emit_user_deleted(locked.pk)
        record_security_event(
            "account_deleted", request=request, user_id=locked.pk, details={"erased": erased}
        )
    return True


def _erase_personal_data(user: User) -> dict[str, int]:
    """Delete every row that exists only for this person; return how many of each kind.

    Kept on purpose: threads (they belong to the forum; the tombstone is their author), the
    security audit log (ASVS V16: who did what must outlive the account; it names the
    tombstone's id, not the person), outbox events (ids only) and mail already sent. Badges
    go: they decorate a profile that no longer exists, and their reason is about the person.
    Mail still waiting to go to the address is cancelled: it would describe an account that
    is gone (a verification link, a reset link).
    """
    erased: dict[str, int] = {}

    def erase(label: str, rows: QuerySet[Any]) -> None:
        _, per_model = rows.delete()
        erased[label] = per_model.get(rows.model._meta.label, 0)

    # Sessions first: deleting them takes their refresh tokens, sudo grants and ceremonies
    # with them (ON DELETE CASCADE in Django's collector), and every access token of the
    # account is refused from then on (its session row is gone).
    erase("sessions", Session.objects.filter(user_id=user.pk))
    erase("totp_devices", TOTPDevice.objects.filter(user_id=user.pk))
    erase("backup_codes", BackupCode.objects.filter(user_id=user.pk))
    erase("mfa_login_tokens", MfaLoginToken.objects.filter(user_id=user.pk))
    erase("passkeys", Credential.objects.filter(user_id=user.pk))
    erase("webauthn_user_handles", WebAuthnUserHandle.objects.filter(user_id=user.pk))
    erase("webauthn_challenges", WebAuthnChallenge.objects.filter(user_id=user.pk))
    erase("email_verification_tokens", EmailVerificationToken.objects.filter(user_id=user.pk))
    erase("password_reset_tokens", PasswordResetToken.objects.filter(user_id=user.pk))
    erase("user_badges", UserBadge.objects.filter(user_id=user.pk))
    erase(
        "pending_mail",
        OutgoingMail.objects.filter(to_address=user.email, status=OutgoingMail.Status.PENDING),
    )
    return erased


def _anonymise(user: User, now: datetime) -> None:
    """Turn the users row into a tombstone in one UPDATE: a name and address nobody can have
    (see TOMBSTONE_USERNAME), no password that can match, no second factor, no lock, nothing
    personal; `deleted_at` marks it. Frees the old username and address at once."""
    user.username = TOMBSTONE_USERNAME.format(id=user.pk)
    user.email = TOMBSTONE_EMAIL.format(id=user.pk)
    user.full_name = ""
    user.avatar_url = None
    user.set_unusable_password()
    # Unverified as well: every way of opening a session refuses an unverified account, a
    # second lock on a door that has no key left.
    user.is_verified = False
    user.is_locked = False
    user.locked_reason = ""
    user.locked_until = None
    user.totp_enabled = False
    user.totp_secret = None
    user.username_changed_at = None
    user.last_login = None
    user.deleted_at = now
    user.save()
