"""The base class of every error a domain raises on purpose.

A domain declares its stable codes in its own `errors.py`:

    class ThreadNotFound(DomainError):
        problem_type = ProblemType("THREAD_NOT_FOUND", 404, "Thread not found")

and raises them from services and selectors; the exception handler renders them as
problem+json, so views never build error responses by hand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from alephdraad_contracts import ProblemFieldError, ProblemType


class DomainError(Exception):
    """An expected failure with a stable problem code, an HTTP status and a client-facing detail."""

    problem_type: ClassVar[ProblemType]

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: Sequence[ProblemFieldError] = (),
        headers: Mapping[str, str] | None = None,
        extensions: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(getattr(type(self), "problem_type", None), ProblemType):
            raise TypeError(f"{type(self).__name__} must set problem_type to a ProblemType")
        self.detail = detail if detail is not None else self.problem_type.title
        self.errors: list[ProblemFieldError] = list(errors)
        # e.g. Retry-After on an UPSTREAM_UNAVAILABLE answer.
        self.headers: dict[str, str] = dict(headers or {})
        # Extra members of the problem object (RFC 9457 section 3.2), e.g. `locked_until`;
        # they never replace a standard member.
        self.extensions: dict[str, Any] = dict(extensions or {})
        super().__init__(self.detail)
