"""Stable error codes of the replies domain."""

from __future__ import annotations

from alephdraad_contracts import UNPROCESSABLE_CONTENT, ProblemType
from alephdraad_feature.platform.errors import DomainError

REPLY_NOT_FOUND = ProblemType("REPLY_NOT_FOUND", 404, "Reply not found")
PARENT_NOT_IN_THREAD = ProblemType("PARENT_NOT_IN_THREAD", 422, "Parent reply not in this thread")
REPLY_TOO_DEEP = ProblemType("REPLY_TOO_DEEP", 422, "Replies nest at most 3 levels deep")


class ReplyNotFound(DomainError):
    """No such reply in this thread, or not one the caller may act on: someone else's reply
    answers exactly like a missing one (never 401/403, which would confirm it exists)."""

    problem_type = REPLY_NOT_FOUND


class ParentNotInThread(DomainError):
    """`parent_reply_id` is not a live reply of the thread being replied to."""

    problem_type = PARENT_NOT_IN_THREAD

    def __init__(self, detail: str) -> None:
        super().__init__(detail, errors=[{"field": "parent_reply_id", "message": detail}])


class ReplyTooDeep(DomainError):
    """The parent is at the deepest level already (depth 3)."""

    problem_type = REPLY_TOO_DEEP

    def __init__(self, detail: str) -> None:
        super().__init__(detail, errors=[{"field": "parent_reply_id", "message": detail}])


class InvalidReplyContent(DomainError):
    """`content` breaks a rule (empty once trimmed, over 5000 characters, a control
    character): 422 UNPROCESSABLE_CONTENT naming the field, like every rule violation."""

    problem_type = UNPROCESSABLE_CONTENT

    def __init__(self, message: str) -> None:
        super().__init__(
            "Some values break a rule; see errors[].",
            errors=[{"field": "content", "message": message}],
        )
