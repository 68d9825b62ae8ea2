"""Stable error codes of second factors (TOTP, backup codes, the second login step)."""

from __future__ import annotations

import math
from datetime import datetime

from alephdraad_contracts import ProblemType
from alephdraad_core.platform.errors import DomainError


class TotpAlreadyEnabled(DomainError):
    problem_type = ProblemType("TOTP_ALREADY_ENABLED", 409, "Two-factor authentication is on")


class TotpNotEnabled(DomainError):
    problem_type = ProblemType("TOTP_NOT_ENABLED", 409, "Two-factor authentication is off")


class TotpSetupRequired(DomainError):
    problem_type = ProblemType("TOTP_SETUP_REQUIRED", 409, "Set up an authenticator first")


class _CodeFieldError(DomainError):
    """A refused code, reported on the request field that carried it."""

    def __init__(self, detail: str, *, field: str = "code") -> None:
        super().__init__(detail, errors=[{"field": field, "message": detail}])


class TotpCodeInvalid(_CodeFieldError):
    problem_type = ProblemType("TOTP_CODE_INVALID", 400, "Invalid authentication code")


class BackupCodeInvalid(_CodeFieldError):
    problem_type = ProblemType("BACKUP_CODE_INVALID", 400, "Invalid backup code")


class MfaCodeRequired(_CodeFieldError):
    problem_type = ProblemType("MFA_CODE_REQUIRED", 400, "Authentication code required")


class MfaTokenInvalid(DomainError):
    """Unknown, expired and already-used login tokens share this one code: no oracle."""

    problem_type = ProblemType("MFA_TOKEN_INVALID", 401, "Invalid or expired login step")


class MfaTooManyAttempts(DomainError):
    problem_type = ProblemType("MFA_TOO_MANY_ATTEMPTS", 429, "Too many authentication codes")

    def __init__(self, retry_at: datetime, now: datetime) -> None:
        wait = max(1, math.ceil((retry_at - now).total_seconds()))
        super().__init__(
            f"Too many wrong codes for this account; try again in {wait} s.",
            headers={"Retry-After": str(wait)},
            extensions={"retry_after": wait},
        )


class PasswordIncorrect(DomainError):
    """The password typed again to confirm a sensitive action (sudo, disabling 2FA) is wrong.

    The same code as a wrong current password on POST /me/password, on the field `password`.
    """

    problem_type = ProblemType("PASSWORD_INCORRECT", 400, "Current password is incorrect")

    def __init__(self) -> None:
        super().__init__(
            "The password is incorrect.",
            errors=[{"field": "password", "message": "The password is incorrect."}],
        )
