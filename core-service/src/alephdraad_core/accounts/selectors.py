"""Reads of accounts."""

from __future__ import annotations

from django.db.models.functions import Lower

from alephdraad_core.accounts.models import User, normalize_email


def find_user_by_email(email: str) -> User | None:
    """The live account of an address however it is typed; matches through idx_users_email
    (a unique index on lower(email)). A deleted account's tombstone never matches: its address
    is one no request can name, and the filter keeps that true whatever it is."""
    return (
        User.objects.alias(email_lower=Lower("email"))
        .filter(email_lower=normalize_email(email), deleted_at__isnull=True)
        .first()
    )


def username_is_taken(username: str) -> bool:
    """Usernames are lower-case only (policy.USERNAME_PATTERN), so equality on the lower-cased
    name is the case-insensitive check, and it uses idx_users_username."""
    return User.objects.filter(username=username.lower()).exists()
