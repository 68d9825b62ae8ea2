"""Stable error codes of passkeys (WebAuthn ceremonies and the passkey list)."""

from __future__ import annotations

from alephdraad_contracts import ProblemType
from alephdraad_core.platform.errors import DomainError


class PasskeyNotFound(DomainError):
    """Unknown, malformed and someone else's passkey ids share this answer."""

    problem_type = ProblemType("PASSKEY_NOT_FOUND", 404, "Passkey not found")


class PasskeyVerificationFailed(DomainError):
    """The authenticator's response did not verify: wrong origin or RP id, a bad signature,
    a tampered or garbled response, missing user verification, or a credential that is not
    (or not this user's) registered. One code for all, so a login attempt learns nothing."""

    problem_type = ProblemType("PASSKEY_VERIFICATION_FAILED", 400, "Passkey verification failed")


class ChallengeInvalid(DomainError):
    """The ceremony is unknown, expired, already finished, or was begun by another session."""

    problem_type = ProblemType("WEBAUTHN_CHALLENGE_INVALID", 400, "Invalid or expired ceremony")


class PasskeyAlreadyRegistered(DomainError):
    problem_type = ProblemType("PASSKEY_ALREADY_REGISTERED", 409, "Passkey already registered")


class PasskeyLimitReached(DomainError):
    problem_type = ProblemType("PASSKEY_LIMIT_REACHED", 409, "Too many passkeys")


class NoPasskeys(DomainError):
    """Sudo by passkey needs at least one registered passkey."""

    problem_type = ProblemType("PASSKEY_NONE_REGISTERED", 409, "No passkey registered")
