"""Stable error codes of badges: the catalogue, awards and the primary badge."""

from __future__ import annotations

from alephdraad_contracts import ProblemType
from alephdraad_core.platform.errors import DomainError


class BadgeNotFound(DomainError):
    problem_type = ProblemType("BADGE_NOT_FOUND", 404, "Badge not found")


class BadgeNameTaken(DomainError):
    problem_type = ProblemType("BADGE_NAME_TAKEN", 409, "Badge name taken")

    def __init__(self) -> None:
        super().__init__(
            "Another badge already has this name.",
            errors=[{"field": "name", "message": "Another badge already has this name."}],
        )


class BadgeHeld(DomainError):
    """A badge is deleted only once nobody holds it: each revocation is an admin decision with
    its own reason in the audit log, never a side effect of tidying the catalogue."""

    problem_type = ProblemType("BADGE_HELD", 409, "Badge still held")

    def __init__(self, holder_count: int) -> None:
        super().__init__(
            f"{holder_count} user(s) still hold this badge; revoke it from them first.",
            extensions={"holder_count": holder_count},
        )


class BadgeAlreadyAwarded(DomainError):
    problem_type = ProblemType("BADGE_ALREADY_AWARDED", 409, "Badge already awarded")

    def __init__(self) -> None:
        super().__init__(
            "The user already holds this badge.",
            errors=[{"field": "badge_id", "message": "The user already holds this badge."}],
        )


class UnknownBadge(DomainError):
    """A badge named in a request body that does not exist: the body is wrong (a field error),
    the resource in the path is fine, so 422 rather than 404."""

    problem_type = ProblemType("UNKNOWN_BADGE", 422, "Unknown badge")

    def __init__(self) -> None:
        super().__init__(
            "There is no such badge.",
            errors=[{"field": "badge_id", "message": "There is no such badge."}],
        )


class UserBadgeNotFound(DomainError):
    problem_type = ProblemType("USER_BADGE_NOT_FOUND", 404, "The user does not hold this badge")


class BadgeNotHeld(DomainError):
    """Only a badge one holds can be one's primary badge; an unknown badge id answers the same."""

    problem_type = ProblemType("BADGE_NOT_HELD", 422, "Badge not held")

    def __init__(self) -> None:
        super().__init__(
            "You do not hold this badge.",
            errors=[{"field": "badge_id", "message": "You do not hold this badge."}],
        )
