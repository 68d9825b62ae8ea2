"""The shapes of second-factor codes: generating, normalising and hashing them.

Pure functions, no database: the serializers use them to refuse malformed input with a 400
before anything is verified (a malformed code never counts as a failed attempt), and the
services to store and compare.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Literal

from django.utils.crypto import salted_hmac

# No 0/O, 1/I/L: nothing a person can misread when copying a code from paper.
BACKUP_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
BACKUP_CODE_LENGTH = (
    8  # shown as two groups of four (e.g. 7KQM-2XPA); 31**8 ≈ 2**39.6 possibilities
)
BACKUP_CODE_COUNT = 10
TOTP_DIGITS = 6

_BACKUP_SALT = "alephdraad.mfa.backup-code"
_TOTP_PATTERN = re.compile(rf"[0-9]{{{TOTP_DIGITS}}}")
_BACKUP_PATTERN = re.compile(rf"[{BACKUP_CODE_ALPHABET}]{{{BACKUP_CODE_LENGTH}}}")
# Separators people type or paste: spaces ("123 456", "ABCD EFGH") and the dash we print.
_SEPARATORS = re.compile(r"[\s-]")

TOTP = "totp"
BACKUP_CODE = "backup_code"
CodeKind = Literal["totp", "backup_code"]


@dataclass(frozen=True)
class SecondFactorCode:
    """A well-formed code, normalised: six digits, or eight backup-code characters."""

    kind: CodeKind
    value: str


def normalize_totp_code(raw: str) -> str | None:
    """Six digits, separators removed; None when it cannot be a TOTP code."""
    candidate = _SEPARATORS.sub("", raw)
    return candidate if _TOTP_PATTERN.fullmatch(candidate) else None


def normalize_backup_code(raw: str) -> str | None:
    """Eight characters of the alphabet, upper-cased, without the dash; None otherwise."""
    candidate = _SEPARATORS.sub("", raw).upper()
    return candidate if _BACKUP_PATTERN.fullmatch(candidate) else None


def parse_second_factor_code(raw: str) -> SecondFactorCode | None:
    """A TOTP code or a backup code, told apart by shape (they cannot be confused: a backup code
    is eight characters, a TOTP code six digits)."""
    totp = normalize_totp_code(raw)
    if totp is not None:
        return SecondFactorCode(TOTP, totp)
    backup = normalize_backup_code(raw)
    if backup is not None:
        return SecondFactorCode(BACKUP_CODE, backup)
    return None


def new_backup_codes(count: int = BACKUP_CODE_COUNT) -> list[str]:
    """`count` distinct codes as shown to the user (e.g. 7KQM-2XPA), from the OS's CSPRNG."""
    codes: set[str] = set()
    while len(codes) < count:
        codes.add("".join(secrets.choice(BACKUP_CODE_ALPHABET) for _ in range(BACKUP_CODE_LENGTH)))
    return [f"{code[:4]}-{code[4:]}" for code in sorted(codes)]


def hash_backup_code(normalized: str) -> str:
    """Keyed hash (HMAC-SHA256 with the server secret as pepper) of a normalised code.

    A fast hash is enough: the codes are random with ~40 bits, guessing is rate-limited online,
    and without the pepper a stolen table cannot be searched offline at all.
    """
    return salted_hmac(_BACKUP_SALT, normalized, algorithm="sha256").hexdigest()


def new_login_token() -> str:
    """256 random bits, URL-safe (43 characters)."""
    return secrets.token_urlsafe(32)


def hash_login_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
