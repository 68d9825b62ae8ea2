"""Stable error codes of accounts: registration, email verification, passwords, profiles."""

from __future__ import annotations

from collections.abc import Iterable

from alephdraad_contracts import VALIDATION_FAILED, ProblemType
from alephdraad_core.platform.errors import DomainError


class UsernameTaken(DomainError):
    problem_type = ProblemType("USERNAME_TAKEN", 409, "Username taken")

    def __init__(self) -> None:
        super().__init__(
            "This username is already taken.",
            errors=[{"field": "username", "message": "This username is already taken."}],
        )


class VerificationTokenInvalid(DomainError):
    """Unknown, expired and already-used tokens share this one code: no oracle."""

    problem_type = ProblemType(
        "VERIFICATION_TOKEN_INVALID", 400, "Invalid or expired verification link"
    )


class ResetTokenInvalid(DomainError):
    """Unknown, expired and already-used tokens share this one code: no oracle."""

    problem_type = ProblemType("RESET_TOKEN_INVALID", 400, "Invalid or expired reset link")


class PasswordIncorrect(DomainError):
    problem_type = ProblemType("PASSWORD_INCORRECT", 400, "Current password is incorrect")

    def __init__(self) -> None:
        super().__init__(
            "The current password is incorrect.",
            errors=[{"field": "current_password", "message": "The password is incorrect."}],
        )


class PasswordRejected(DomainError):
    """A new password that fails the policy once the account it belongs to is known (reset,
    change). The same VALIDATION_FAILED problem a serializer gives, with the field named."""

    problem_type = VALIDATION_FAILED

    def __init__(self, field: str, messages: Iterable[str]) -> None:
        super().__init__(
            "The request body has invalid fields; see errors[].",
            errors=[{"field": field, "message": message} for message in messages],
        )
