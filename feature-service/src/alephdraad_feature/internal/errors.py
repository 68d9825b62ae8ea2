"""Stable error codes of the internal listener and of calls to core-service."""

from __future__ import annotations

from alephdraad_contracts import (
    SIGNATURE_REJECTED,
    UNPROCESSABLE_CONTENT,
    UPSTREAM_UNAVAILABLE,
    VALIDATION_FAILED,
    ProblemType,
)
from alephdraad_feature.platform.errors import DomainError


class SignatureRejectedError(DomainError):
    """An /internal/v1 request without a valid, fresh, unreplayed RFC 9421 signature.

    Raised with `headers={"WWW-Authenticate": "Signature"}` and `extensions={"reason": …}`
    (a `RejectionReason` value); nothing of the request has been acted on."""

    problem_type = SIGNATURE_REJECTED


# What Retry-After says when core cannot be reached: a restart or a blip, seconds not minutes.
UPSTREAM_RETRY_AFTER_SECONDS = 5
CORE_SERVICE = "core-service"

THREAD_NOT_FOUND = ProblemType("THREAD_NOT_FOUND", 404, "Thread not found")
USER_NOT_FOUND = ProblemType("USER_NOT_FOUND", 404, "User not found")
USER_LOCKED = ProblemType("USER_LOCKED", 403, "User locked")


class UpstreamUnavailable(DomainError):
    """core-service gave no usable answer (not configured, unreachable, timed out, 5xx, refused
    our signature, malformed reply). A write that depends on core fails closed with this 503
    and writes nothing; the client may retry after `Retry-After` seconds."""

    problem_type = UPSTREAM_UNAVAILABLE

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(
            detail or "core-service is unavailable; nothing was changed. Try again later.",
            headers={"Retry-After": str(UPSTREAM_RETRY_AFTER_SECONDS)},
            extensions={"upstream": CORE_SERVICE},
        )


class ThreadNotFound(DomainError):
    """core says the thread does not exist or is deleted."""

    problem_type = THREAD_NOT_FOUND


class UserNotFound(DomainError):
    """core says the user does not exist or was deleted."""

    problem_type = USER_NOT_FOUND


class UserLocked(DomainError):
    """core says the user is locked: they may read but not write."""

    problem_type = USER_LOCKED


class EventEnvelopeInvalid(DomainError):
    """POST /internal/v1/events with a body that is not an event envelope (400)."""

    problem_type = VALIDATION_FAILED


class EventDataInvalid(DomainError):
    """A well-formed envelope of a known type whose `data` breaks that type's schema (422)."""

    problem_type = UNPROCESSABLE_CONTENT
