"""State changes by and of admins: creating an admin, admin login, locking users.

Every admin action on a user writes its security event inside the action's own transaction:
the change and its audit record commit together or not at all (ASVS V16.3.3), and so does the
event that tells the feature service (admins/events.py). Failed logins are recorded outside
any transaction, so nothing rolls them back.
"""

from __future__ import annotations

import functools
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn

from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.password_validation import (
    MinimumLengthValidator,
    get_default_password_validators,
    validate_password,
)
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.db.models.functions import Lower
from django.http import HttpRequest
from django.utils import timezone

from alephdraad_core.accounts.models import User, normalize_email
from alephdraad_core.admins.errors import (
    AdminAccountInvalid,
    AdminEmailTaken,
    AdminInvalidCredentials,
    AdminUsernameTaken,
    UserNotFound,
)
from alephdraad_core.admins.events import actor_ref, emit_user_locked, emit_user_unlocked
from alephdraad_core.admins.models import Admin
from alephdraad_core.authn.services import do_revoke_user_sessions
from alephdraad_core.authn.tokens import IssuedToken, issue_admin_token
from alephdraad_core.security.services import record_security_event

# Admins hold every user's account in their hands: 12 characters rather than users' 8 (ASVS
# V6.2.1 sets 8 as the floor, not the target). The common-password and similarity validators
# of AUTH_PASSWORD_VALIDATORS apply as well; no composition rules (V6.2.5).
ADMIN_PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 128
ADMIN_USERNAME_PATTERN = re.compile(r"^[a-z0-9_]{3,30}$")


def _admin_password_validators() -> list[object]:
    validators: list[object] = [
        validator
        for validator in get_default_password_validators()
        if not isinstance(validator, MinimumLengthValidator)
    ]
    validators.append(MinimumLengthValidator(min_length=ADMIN_PASSWORD_MIN_LENGTH))
    return validators


def check_admin_account(email: str, username: str, password: str) -> tuple[str, str]:
    """Validate a new admin's email, username and password; return (email, username) as stored.
    Raises AdminAccountInvalid with one field error per problem."""
    errors = []
    email = normalize_email(email)
    try:
        validate_email(email)
    except ValidationError:
        errors.append({"field": "email", "message": "Enter a valid email address."})
    if not ADMIN_USERNAME_PATTERN.fullmatch(username):
        errors.append(
            {"field": "username", "message": "3 to 30 characters: a-z, 0-9 and underscore."}
        )
    if len(password) > PASSWORD_MAX_LENGTH:
        errors.append(
            {"field": "password", "message": f"At most {PASSWORD_MAX_LENGTH} characters."}
        )
    else:
        try:
            validate_password(
                password,
                user=Admin(email=email, username=username),
                password_validators=_admin_password_validators(),
            )
        except ValidationError as error:
            errors.extend({"field": "password", "message": str(m)} for m in error.messages)
    if errors:
        raise AdminAccountInvalid("The admin account is not acceptable.", errors=errors)
    return email, username


def do_create_admin(*, email: str, username: str, password: str) -> Admin:
    """Create an active admin and record "admin_created", in one transaction.

    The case-insensitive unique indexes (idx_admins_email, idx_admins_username) settle a race
    between two concurrent runs; the pre-check only gives the usual case a clear message.
    """
    email, username = check_admin_account(email, username, password)
    if _admins_with_email(email).exists():
        raise AdminEmailTaken(f"An admin with the email {email} already exists.")
    if Admin.objects.filter(username=username).exists():
        raise AdminUsernameTaken(f"An admin named {username} already exists.")
    admin = Admin(email=email, username=username)
    admin.set_password(password)
    try:
        with transaction.atomic():
            admin.save()
            record_security_event(
                "admin_created", admin_id=admin.pk, details={"via": "manage.py create_admin"}
            )
    except IntegrityError:
        raise AdminEmailTaken(
            f"An admin with the email {email} or the username {username} already exists."
        ) from None
    return admin


def _admins_with_email(email: str) -> QuerySet[Admin]:
    # Compared as LOWER(email) = %s, which the unique index idx_admins_email answers.
    return Admin.objects.alias(email_lower=Lower("email")).filter(email_lower=email)


@functools.cache
def _dummy_password_hash() -> str:
    return make_password(secrets.token_urlsafe(32))


def _rehash_setter(admin: Admin) -> Callable[[str], None]:
    def setter(raw_password: str) -> None:
        # Called by check_password when the hasher's parameters changed since this hash.
        admin.set_password(raw_password)
        Admin.objects.filter(pk=admin.pk).update(password_hash=admin.password_hash)

    return setter


@dataclass(frozen=True)
class AdminLogin:
    admin: Admin
    token: IssuedToken


def do_admin_login(*, email: str, password: str, request: HttpRequest) -> AdminLogin:
    """Check an admin's credentials and issue an admin token (audience alephdraad:admin).

    The caller has counted the attempt against ADMIN_LOGIN_PER_IP already. An unknown email
    still costs one Argon2 verification (against a dummy hash) and an inactive admin's password
    is still checked, so all three failures answer the same error in the same time (ASVS
    V6.3.8). No transaction: each write (last_login_at, the event) stands on its own.
    """
    normalized = normalize_email(email)
    admin = _admins_with_email(normalized).first()
    if admin is None:
        check_password(password, _dummy_password_hash())
        _login_failed(request, None, normalized, "unknown_email")
    password_ok = check_password(password, admin.password_hash, _rehash_setter(admin))
    if not password_ok:
        _login_failed(request, admin, normalized, "wrong_password")
    if not admin.is_active:
        _login_failed(request, admin, normalized, "inactive")
    now = timezone.now()
    Admin.objects.filter(pk=admin.pk).update(last_login_at=now)
    admin.last_login_at = now
    token = issue_admin_token(admin_id=admin.pk, username=admin.username)
    record_security_event(
        "admin_login_success", request=request, admin_id=admin.pk, details={"jti": token.jti}
    )
    return AdminLogin(admin=admin, token=token)


def _login_failed(request: HttpRequest, admin: Admin | None, email: str, reason: str) -> NoReturn:
    record_security_event(
        "admin_login_failed",
        request=request,
        admin_id=admin.pk if admin is not None else None,
        details={"email": email[:254], "reason": reason},
    )
    raise AdminInvalidCredentials("The email or password is wrong.")


@dataclass(frozen=True)
class ServiceActor:
    """Another service acting on core through a signed moderation command, for one of its
    automated moderators (`name`, e.g. "auto-moderation"); recorded and published as
    `{kind: "service", id: name}`. An admin acting through the feature service is an `Admin`."""

    name: str


# Who may lock a user or delete a thread as a moderator.
Moderator = Admin | ServiceActor


@dataclass(frozen=True)
class UserLocked:
    user: User
    revoked_sessions: int


def moderation_audit(actor: Moderator, via: str | None) -> tuple[int | None, dict[str, Any]]:
    """The admin_id column and the extra details of a moderator's security event: a service
    has no admins row, so it is named in the details, as is the service an admin acted
    through."""
    details: dict[str, Any] = {}
    if isinstance(actor, ServiceActor):
        details["actor"] = actor_ref(actor)
    if via is not None:
        details["via"] = via
    return (actor.pk if isinstance(actor, Admin) else None), details


def _lockable_user(user_id: int) -> User:
    """The users row FOR UPDATE, in the caller's transaction; USER_NOT_FOUND when there is
    none or it is an anonymised tombstone (a deleted account has nothing left to lock)."""
    locked = User.objects.select_for_update().filter(pk=user_id).first()
    if locked is None:
        raise UserNotFound(f"There is no user {user_id}.")
    if locked.deleted_at is not None:
        raise UserNotFound(f"User {user_id} deleted their account.")
    return locked


def do_lock_user(
    actor: Moderator,
    user: User,
    *,
    reason: str,
    until: datetime | None,
    request: HttpRequest,
    via: str | None = None,
) -> UserLocked:
    """Lock `user` (until `until`, or until unlocked when None) and revoke all their sessions.

    `actor` is the admin who decided it, or a service acting for an automated moderator;
    `via` names the service an action came through (a signed moderation command), for the
    audit record. One transaction, locks in the order users row -> sessions rows (the row is
    taken FOR UPDATE first), the order every session-changing path uses; the change, the
    "admin_user_locked" security event and the user.locked event commit together. Locking a
    locked user replaces the reason and the end (and is published again). A deleted account
    is USER_NOT_FOUND. The access tokens of the revoked sessions are refused on their next use
    (AUTH_SESSION_REVOKED), and the lock refuses new logins (ASVS V7.4.2).
    """
    now = timezone.now()
    admin_id, audit = moderation_audit(actor, via)
    with transaction.atomic():
        locked = _lockable_user(user.pk)
        User.objects.filter(pk=locked.pk).update(
            is_locked=True, locked_reason=reason, locked_until=until, updated_at=now
        )
        revoked = do_revoke_user_sessions(user.pk, reason="admin_lock")
        emit_user_locked(user.pk, until=until, reason=reason, actor=actor)
        record_security_event(
            "admin_user_locked",
            request=request,
            admin_id=admin_id,
            user_id=user.pk,
            details={
                "reason": reason,
                "until": _iso(until),
                "revoked_sessions": revoked,
                **audit,
            },
        )
    user.is_locked, user.locked_reason, user.locked_until, user.updated_at = (
        True,
        reason,
        until,
        now,
    )
    return UserLocked(user=user, revoked_sessions=revoked)


def do_unlock_user(actor: Admin, user: User, *, request: HttpRequest) -> User:
    """Lift an admin lock (a no-op on an unlocked user, still recorded). One transaction with
    the users row FOR UPDATE: the UPDATE, its security event and, when the row really was
    locked (`is_locked`, even if its end had passed), the user.unlocked event. Sessions revoked
    by the lock stay revoked. A deleted account is USER_NOT_FOUND."""
    now = timezone.now()
    with transaction.atomic():
        current = _lockable_user(user.pk)
        was_locked = current.lock_is_active(now)
        User.objects.filter(pk=current.pk).update(
            is_locked=False, locked_reason="", locked_until=None, updated_at=now
        )
        if current.is_locked:
            # The feature service mirrors the flag; an expired lock it still holds is lifted
            # too, so the event follows the row, not whether the lock was still in force.
            emit_user_unlocked(user.pk, actor=actor)
        record_security_event(
            "admin_user_unlocked",
            request=request,
            admin_id=actor.pk,
            user_id=user.pk,
            details={"was_locked": was_locked},
        )
    user.is_locked, user.locked_reason, user.locked_until, user.updated_at = False, "", None, now
    return user


def do_revoke_sessions_of_user(actor: Admin, user: User, *, request: HttpRequest) -> int:
    """Revoke every live session of `user` (ASVS V7.4.5); return how many. One transaction:
    the sessions UPDATE (no user-row lock needed) and its event."""
    with transaction.atomic():
        revoked = do_revoke_user_sessions(user.pk, reason="admin_revoke")
        record_security_event(
            "admin_sessions_revoked",
            request=request,
            admin_id=actor.pk,
            user_id=user.pk,
            details={"revoked_sessions": revoked},
        )
    return revoked


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
