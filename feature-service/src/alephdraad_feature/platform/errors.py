"""The base of every error a domain raises on purpose.

A domain declares its stable codes in its own `errors.py`::

    REPLY_NOT_FOUND = ProblemType("REPLY_NOT_FOUND", 404, "Reply not found")

    class ReplyNotFound(DomainError):
        problem_type = REPLY_NOT_FOUND

and raises `ReplyNotFound(f"no reply {reply_id}")`. `platform.problems` renders it as
application/problem+json, so services never build HTTP responses themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from alephdraad_contracts import INTERNAL_ERROR, ProblemFieldError, ProblemType

# Keys of the problem body that an extension member must not overwrite.
_RESERVED_MEMBERS = frozenset({"type", "title", "status", "detail", "code", "request_id", "errors"})


class DomainError(Exception):
    """An expected failure with a stable problem code, rendered as RFC 9457 problem details."""

    problem_type: ClassVar[ProblemType] = INTERNAL_ERROR

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: Sequence[ProblemFieldError] = (),
        headers: Mapping[str, str] | None = None,
        extensions: Mapping[str, Any] | None = None,
    ) -> None:
        """`detail` is shown to the client (defaults to the type's title): never put secrets in it.

        `errors` lists field-level problems, `headers` are added to the response (e.g.
        Retry-After) and `extensions` are extra members of the body (RFC 9457 section 3.2).
        """
        clashing = _RESERVED_MEMBERS.intersection(extensions or {})
        if clashing:
            raise ValueError(f"extension members clash with problem members: {sorted(clashing)}")
        self.detail = detail if detail is not None else self.problem_type.title
        self.errors: list[ProblemFieldError] = [
            {"field": error["field"], "message": error["message"]} for error in errors
        ]
        self.headers: dict[str, str] = dict(headers or {})
        self.extensions: dict[str, Any] = dict(extensions or {})
        super().__init__(self.detail)

    @property
    def status_code(self) -> int:
        return self.problem_type.status

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.problem_type.code}, {self.detail!r})"
