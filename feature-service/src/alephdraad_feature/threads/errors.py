"""Stable error codes of the thread-stats endpoint."""

from __future__ import annotations

from alephdraad_contracts import UNPROCESSABLE_CONTENT
from alephdraad_feature.platform.errors import DomainError


class ThreadIdsInvalid(DomainError):
    """`ids` of GET /api/v1/threads/stats is empty, has an entry that is not a thread id, or
    has more than the limit: 422 with the reason in `errors[]` (field `ids`)."""

    problem_type = UNPROCESSABLE_CONTENT

    def __init__(self, message: str) -> None:
        super().__init__(f"ids: {message}.", errors=[{"field": "ids", "message": message}])
