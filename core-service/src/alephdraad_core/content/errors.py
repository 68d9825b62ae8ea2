"""Stable error codes of content: categories, threads and their documents."""

from __future__ import annotations

from collections.abc import Sequence

from alephdraad_contracts import ProblemFieldError, ProblemType
from alephdraad_core.platform.errors import DomainError


class CategoryNotFound(DomainError):
    """A route naming a category that does not exist (`/categories/{slug}`)."""

    problem_type = ProblemType("CATEGORY_NOT_FOUND", 404, "Category not found")


class CategorySlugTaken(DomainError):
    problem_type = ProblemType("CATEGORY_SLUG_TAKEN", 409, "Category slug taken")

    def __init__(self, slug: str) -> None:
        super().__init__(
            f"A category with the slug {slug!r} already exists.",
            errors=[{"field": "slug", "message": "This slug is already taken."}],
        )


class CategoryHasThreads(DomainError):
    """Threads (deleted ones too: an admin may restore them) still belong to the category."""

    problem_type = ProblemType("CATEGORY_HAS_THREADS", 409, "Category still has threads")


class UnknownCategory(DomainError):
    """A body field or query parameter naming a category that does not exist: a field error,
    so that 404 keeps meaning "no such route or resource"."""

    problem_type = ProblemType("UNKNOWN_CATEGORY", 422, "Unknown category")

    def __init__(self, field: str, slug: str) -> None:
        super().__init__(
            f"There is no category {slug!r}.",
            errors=[{"field": field, "message": "No category has this slug."}],
        )


class UnknownAuthor(DomainError):
    """A body field or query parameter naming a user that does not exist."""

    problem_type = ProblemType("UNKNOWN_AUTHOR", 422, "Unknown author")

    def __init__(self, field: str, message: str) -> None:
        super().__init__(
            "The author named does not exist.", errors=[{"field": field, "message": message}]
        )


class ContentInvalid(DomainError):
    """content_json is not an acceptable document; errors[] names its first bad node."""

    problem_type = ProblemType("CONTENT_INVALID", 422, "Invalid content document")

    def __init__(self, errors: Sequence[ProblemFieldError]) -> None:
        super().__init__("content_json is not an acceptable document; see errors[].", errors=errors)


class ThreadNotFound(DomainError):
    """Unknown, deleted (to anyone but an admin) and not-yours-to-change threads all answer
    this, so the answer never reveals that a thread exists."""

    problem_type = ProblemType("THREAD_NOT_FOUND", 404, "Thread not found")


class ReplyNotInThread(DomainError):
    """The reply a thread's author wants to accept is not a live reply of that thread, as the
    feature service tells it: unknown, deleted, or under another thread. One code for all
    three, so the answer never says which replies exist elsewhere."""

    problem_type = ProblemType("REPLY_NOT_IN_THREAD", 422, "Reply not in this thread")

    def __init__(self, thread_id: int) -> None:
        super().__init__(
            f"Thread {thread_id} has no live reply with this id.",
            errors=[{"field": "reply_id", "message": "Not a live reply of this thread."}],
        )
