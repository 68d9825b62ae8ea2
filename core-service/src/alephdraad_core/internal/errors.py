"""Stable problem codes of the internal listener."""

from __future__ import annotations

from alephdraad_contracts import SIGNATURE_REJECTED, ProblemType
from alephdraad_core.platform.errors import DomainError


class SignatureRejectedError(DomainError):
    problem_type = SIGNATURE_REJECTED


class UserNotFound(DomainError):
    problem_type = ProblemType("USER_NOT_FOUND", 404, "User not found")


class UnknownActor(DomainError):
    """A moderation command named an admin who does not exist (or is deactivated): the
    feature service's copy of admins is stale, or the request is forged by a compromised
    caller; either way nothing is done in that admin's name."""

    problem_type = ProblemType("UNKNOWN_ACTOR", 422, "Unknown actor")

    def __init__(self, admin_id: int) -> None:
        super().__init__(
            f"There is no active admin {admin_id}.",
            errors=[{"field": "actor.id", "message": "No active admin has this id."}],
        )
