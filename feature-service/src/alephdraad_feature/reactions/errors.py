"""Stable error codes of the reactions domain (core's THREAD_NOT_FOUND, USER_LOCKED… come from
`internal.errors`)."""

from __future__ import annotations

from alephdraad_contracts import ProblemType
from alephdraad_feature.platform.errors import DomainError
from alephdraad_feature.reactions.models import REACTION_TYPES

REACTION_TYPE_UNKNOWN = ProblemType("REACTION_TYPE_UNKNOWN", 422, "Unknown reaction type")


class ReactionTypeUnknown(DomainError):
    """A `type` outside REACTION_TYPES. The answer lists the allowed types twice: readable in
    `errors[]`, machine-readable in `allowed_types`."""

    problem_type = REACTION_TYPE_UNKNOWN

    def __init__(self) -> None:
        allowed = ", ".join(REACTION_TYPES)
        super().__init__(
            f"Unknown reaction type; use one of: {allowed}.",
            errors=[{"field": "type", "message": f"must be one of: {allowed}"}],
            extensions={"allowed_types": list(REACTION_TYPES)},
        )
