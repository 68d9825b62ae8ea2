"""Stable problem codes of the internal listener."""

from __future__ import annotations

from alephdraad_contracts import SIGNATURE_REJECTED, ProblemType
from alephdraad_core.platform.errors import DomainError


class SignatureRejectedError(DomainError):
    problem_type = SIGNATURE_REJECTED


class UserNotFound(DomainError):
    problem_type = ProblemType("USER_NOT_FOUND", 404, "User not found")
