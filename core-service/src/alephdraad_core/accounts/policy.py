"""What a username and a password must be (OWASP ASVS 5.0 V6.2 for passwords)."""

from __future__ import annotations

import re

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from alephdraad_core.accounts.models import User

USERNAME_PATTERN = re.compile(r"^[a-z0-9_]{3,30}$")
USERNAME_RULE = "3 to 30 characters: lower-case letters, digits and underscores."

# Names that would let a member pass for the site or its staff, or that clients treat as
# special (`/users/me`, the strings "null" and "undefined" from sloppy JavaScript).
RESERVED_USERNAMES = frozenset(
    {
        "abuse",
        "account",
        "accounts",
        "admin",
        "administrator",
        "aleph",
        "alephdraad",
        "anonymous",
        "api",
        "auth",
        "billing",
        "bot",
        "deleted",
        "guest",
        "help",
        "hostmaster",
        "info",
        "internal",
        "login",
        "logout",
        "me",
        "mod",
        "moderator",
        "moderators",
        "nil",
        "no_reply",
        "noreply",
        "none",
        "null",
        "official",
        "owner",
        "postmaster",
        "register",
        "root",
        "security",
        "self",
        "settings",
        "signup",
        "staff",
        "superuser",
        "support",
        "sysadmin",
        "system",
        "team",
        "undefined",
        "webmaster",
        "www",
    }
)
# "admin_jane", "alephdraad_team", "moderator2": as misleading as the bare names.
RESERVED_USERNAME_PREFIXES = ("admin", "alephdraad", "moderator", "official_", "staff_")

# ASVS V6.2.1 and V6.2.9: at least 8 characters, at least 64 allowed. The ceiling only keeps a
# megabyte "password" from being hashed; there are no composition rules (V6.2.5).
PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 128


def is_reserved_username(username: str) -> bool:
    return username in RESERVED_USERNAMES or username.startswith(RESERVED_USERNAME_PREFIXES)


def password_problems(password: str, user: User) -> list[str]:
    """Messages of every configured validator the password fails (AUTH_PASSWORD_VALIDATORS:
    minimum length, similarity to the account's email/username/full name, common passwords).
    `user` may be unsaved: only its attributes are compared."""
    try:
        validate_password(password, user=user)
    except ValidationError as error:
        return list(error.messages)
    return []
