"""Stable error codes of accounts: registration, email verification, passwords, profiles."""

from __future__ import annotations

from collections.abc import Iterable

from alephdraad_contracts import UNPROCESSABLE_CONTENT, ProblemType
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
    change). The same 422 UNPROCESSABLE_CONTENT a serializer gives for a broken rule, with
    the field named."""

    problem_type = UNPROCESSABLE_CONTENT

    def __init__(self, field: str, messages: Iterable[str]) -> None:
        super().__init__(
            "Some values break a rule; see errors[].",
            errors=[{"field": field, "message": message} for message in messages],
        )


class UsernameChangeTooSoon(DomainError):
    """One username change per USERNAME_CHANGE_INTERVAL. A 409, not a 429: the request
    conflicts with the account's state (its allowance is used), which waiting a few seconds and
    retrying does not fix. `available_at` (ISO 8601) and `retry_after` (seconds) say when it
    will work."""

    problem_type = ProblemType("USERNAME_CHANGE_TOO_SOON", 409, "Username changed too recently")

    def __init__(self, available_at: str, retry_after: int) -> None:
        super().__init__(
            f"The username was changed recently; the next change is possible at {available_at}.",
            extensions={"available_at": available_at, "retry_after": retry_after},
        )


class AccountDeletionBlocked(DomainError):
    """The feature service holds something that must be settled first (a wallet balance,
    money in flight); `blocking_reasons` lists its reasons, as it gave them."""

    problem_type = ProblemType("ACCOUNT_DELETION_BLOCKED", 409, "Account deletion blocked")

    def __init__(self, blocking_reasons: Iterable[str]) -> None:
        reasons = list(blocking_reasons)
        super().__init__(
            "The account cannot be deleted yet; settle what blocking_reasons lists first. "
            "Nothing was changed.",
            extensions={"blocking_reasons": reasons},
        )
